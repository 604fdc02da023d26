"""Running a process as a plugin: `serve(*plugins)` is the whole `__main__` of one.

    if __name__ == "__main__":
        serve(business_hours, time_window)

`serve` checks the host's handshake variables (and explains itself to a person
who ran the program by hand), serves PluginService and health on the socket the
host gave, prints the handshake line, and stops gracefully on SIGTERM. Log
records go to stderr as JSON lines, which the host forwards to its own log with
their level.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ia.plugin.v1 import service_pb2_grpc
from ia_modules.plugin.authoring import Plugin
from ia_modules.plugin.protocol import (
    CALL_TIMEOUT_KEY,
    MAX_CONCURRENCY_KEY,
    NAME_KEY,
    HandshakeError,
    check_environment,
    handshake_line,
)
from ia_modules.plugin.servicer import CallWatch, PluginServicer

# Exit codes the host recognises (anything else is reported as a crash).
EXIT_REFUSED = 78
EXIT_OUT_OF_MEMORY = 79
EXIT_WEDGED = 80

# How long past its deadline a call may keep running before the process ends.
OVERRUN_GRACE_S = 2.0
# How long in-flight calls may finish after SIGTERM.
SHUTDOWN_GRACE_S = 5.0

PLUGIN_SERVICE = "ia.plugin.v1.PluginService"

log = logging.getLogger("ia_modules.plugin")


class _JsonLines(logging.Formatter):
    """One JSON object per record: the host keeps `level` and tags the line with the plugin."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_plugin_logging(level: int = logging.INFO) -> None:
    """Sends every log record of the process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class PluginServer:
    """PluginService and health for `plugins` on one Unix socket (a grpc.aio server)."""

    def __init__(self, server: grpc.aio.Server, socket_path: str, health_servicer: health.aio.HealthServicer) -> None:
        self.server = server
        self.socket_path = socket_path
        self._health = health_servicer

    @property
    def target(self) -> str:
        """The gRPC target to dial."""
        return f"unix://{self.socket_path}"

    async def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Health NOT_SERVING, then let in-flight calls finish within `grace_s`."""
        await self._health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def start_plugin_server(
    plugins: Sequence[Plugin],
    socket_path: str,
    *,
    max_concurrency: int = 0,
    call_timeout_s: float = 0.0,
    watch: CallWatch | None = None,
    on_out_of_memory: Callable[[], None] | None = None,
    process_name: str = "",
) -> PluginServer:
    """Starts serving `plugins` on `socket_path` and marks them SERVING.

    Raises ValueError for a bad set of plugins (none, or duplicates) and OSError
    when the socket cannot be bound.
    """
    servicer = PluginServicer(
        plugins,
        max_concurrency=max_concurrency,
        call_timeout_s=call_timeout_s,
        watch=watch,
        on_out_of_memory=on_out_of_memory,
        process_name=process_name,
    )
    server = grpc.aio.server()
    service_pb2_grpc.add_PluginServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if os.path.exists(socket_path):
        # A socket left by a crashed predecessor: binding would fail.
        os.unlink(socket_path)
    if server.add_insecure_port(f"unix://{socket_path}") == 0:
        raise OSError(f"cannot serve on unix socket {socket_path}")
    await server.start()
    for name in ("", PLUGIN_SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return PluginServer(server, socket_path, health_servicer)


def _exit_now(code: int, message: str) -> None:
    sys.stderr.write(json.dumps({"level": "error", "logger": "ia_modules.plugin", "message": message}) + "\n")
    sys.stderr.flush()
    os._exit(code)


def _watch_overruns(watch: CallWatch, grace_s: float) -> None:
    # A daemon thread: it still runs while a plugin function blocks the event loop.
    while True:
        time.sleep(0.2)
        overdue = watch.overdue(grace_s)
        if overdue:
            _exit_now(
                EXIT_WEDGED,
                f"a call to {overdue[0]} is still running {grace_s:g}s after its deadline; "
                "exiting so the host starts a fresh process",
            )


def _limit(environ: Mapping[str, str], key: str, cast: type[int] | type[float]) -> int | float:
    text = environ.get(key, "")
    try:
        return cast(text) if text else cast(0)
    except ValueError:
        raise HandshakeError(f"{key}={text!r} is not a number") from None


async def _serve(plugins: Sequence[Plugin], environ: Mapping[str, str]) -> None:
    socket_path = check_environment(environ)
    watch = CallWatch()
    server = await start_plugin_server(
        plugins,
        socket_path,
        max_concurrency=int(_limit(environ, MAX_CONCURRENCY_KEY, int)),
        call_timeout_s=float(_limit(environ, CALL_TIMEOUT_KEY, float)),
        watch=watch,
        on_out_of_memory=lambda: _exit_now(
            EXIT_OUT_OF_MEMORY, "out of memory; exiting so the host restarts the plugin"
        ),
        process_name=environ.get(NAME_KEY, ""),
    )
    threading.Thread(target=_watch_overruns, args=(watch, OVERRUN_GRACE_S), daemon=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(handshake_line(socket_path) + "\n")
    sys.stdout.flush()
    log.info("serving %s", ", ".join(sorted({p.name for p in plugins})), extra={"fields": {"socket": socket_path}})
    await stop.wait()
    log.info("stopping")
    await server.stop()


def serve(*plugins: Plugin, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Serves `plugins` as a plugin process started by the host; never returns.

    Exits with code 78 (and a message on stderr) when not started by a plugin
    host; 0 after SIGTERM.
    """
    env = os.environ if environ is None else environ
    configure_plugin_logging()
    try:
        asyncio.run(_serve(plugins, env))
    except (HandshakeError, ValueError, OSError) as error:
        # Not started by a host, a bad set of plugins, or a socket that cannot be bound.
        sys.stderr.write(f"error: {error}\n")
        sys.exit(EXIT_REFUSED)
    sys.exit(0)
