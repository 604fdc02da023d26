"""Starting in-process plugin hosts on port 0 for tests."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from ia_plugins.host import PluginHost
from ia_plugins.sandbox import Sandbox, SandboxUnavailable
from ia_plugins.server import DEFAULT_PORT, NAME, build_host, wiring_for
from ia_plugins.settings import HostSettings, Supervision, socket_root
from ia_service_kit.server import RunningServer, ServiceConfig, start

FIXTURES = Path(__file__).parent / "fixtures"


def _sandbox_problem() -> str:
    try:
        Sandbox.detect()
    except SandboxUnavailable as error:
        return str(error)
    return ""


# The Makefile installs bubblewrap; elsewhere the sandbox tests say why they cannot run.
needs_sandbox = pytest.mark.skipif(bool(_sandbox_problem()), reason="bubblewrap cannot run here")

# Fast restarts and refusals; the circuit breaker stays out of the way unless a test wants it.
FAST = Supervision(
    handshake_timeout_s=20,
    health_timeout_s=3,
    health_interval_s=1,
    restart_backoff_s=0.05,
    max_restart_backoff_s=0.2,
    breaker_crashes=20,
    breaker_window_s=60,
    stop_grace_s=2,
    resolve_wait_s=30,
)


def host_settings(folder: Path, **changes: Any) -> HostSettings:
    """Settings over a private plugins folder (and a short socket folder)."""
    supervision = changes.pop("supervision", FAST)
    return HostSettings(
        plugins_dir=folder / "plugins",
        socket_root=socket_root(folder / "sockets"),
        builtins=changes.pop("builtins", False),
        entry_points=changes.pop("entry_points", False),
        supervision=supervision,
        **changes,
    )


async def start_host(settings: HostSettings) -> tuple[RunningServer, PluginHost]:
    """A plugin host on port 0; the PluginHost inside it, for awaiting process states."""
    host = build_host(settings)
    config = ServiceConfig(
        name=NAME, default_port=DEFAULT_PORT, port=0, data_dir=settings.plugins_dir.parent, grace_period_s=1
    )
    server = await start(config, lambda _config: wiring_for(host))
    return server, host


def with_supervision(settings: HostSettings, **changes: Any) -> HostSettings:
    return dataclasses.replace(settings, supervision=dataclasses.replace(settings.supervision, **changes))


class LocalHttp:
    """An HTTP server on 127.0.0.1 (port 0) that answers from a table and records requests.

    `routes` maps a path to (status, JSON body); other paths answer 404.
    """

    def __init__(self, routes: dict[str, tuple[int, Any]]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": dict(urllib.parse.parse_qsl(query)),
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length).decode() if length else "",
                    }
                )
                status, body = recorder.routes.get(path, (404, {"error": "no such path"}))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
