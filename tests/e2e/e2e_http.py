"""JSON over HTTP/1.1 with the standard library: calling the REST API as a curl user
would, and serving a fixed JSON answer as the web APIs plugin steps fetch."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """Sends `body` as JSON; returns the status, the headers (lowercase) and the JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, json.load(response))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, json.load(error))


def send_json(handler: BaseHTTPRequestHandler, answer: Any) -> None:
    """Answers the handler's request with 200 and `answer` as JSON."""
    payload = json.dumps(answer).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


@contextlib.contextmanager
def json_server(answer: Any, path: str = "/") -> Iterator[str]:
    """Serves `answer` as JSON to every GET on loopback; yields the URL of `path`."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            send_json(self, answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
