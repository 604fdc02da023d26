"""The dashboard's static files, served over plain HTTP for Envoy to route `/` to.

Envoy has no file server of its own, so the stack runs this one as its `web` row:
`python -m ia_modules.web_static --port N` serves the built app in web/dist (or
IA_WEB_ROOT) and answers any path that is not a file with index.html, so that the
app's own routes survive a reload. Nothing outside that folder is ever served.
`GET /healthz` answers 200 for the stack's health check, built app or not.
`GET /openapi.json` is the REST API's OpenAPI document (schemas/openapi.json, or
IA_OPENAPI_DOCUMENT) and `GET /docs` its reference page.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

HEALTH_PATH = "/healthz"
OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
DEFAULT_PORT = 50055
# Hashed asset names never change content, so browsers may keep them; index.html must
# always be fetched again to pick up a new build.
_IMMUTABLE_PREFIX = "/assets/"
# Envoy sends REST calls it could not transcode here too; they are not app routes.
_REST_PREFIX = "/v1/"
# google.rpc.Code values of the REST errors answered here.
_NOT_FOUND_CODE = 5
_UNIMPLEMENTED_CODE = 12
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
NOT_BUILT = b"""<!doctype html><meta charset="utf-8"><title>IA Modules</title>
<p>The dashboard is not built: run <code>make up</code> (or <code>npm ci &amp;&amp; npm run build</code> in web/).</p>
"""


def default_root() -> Path:
    """IA_WEB_ROOT, else web/dist of the checkout this module runs from."""
    configured = os.environ.get("IA_WEB_ROOT")
    if configured:
        return Path(configured)
    # The stack finds the checkout the same way it finds Envoy's config.
    from ia_modules.stack import _project_root

    return _project_root() / "web" / "dist"


def default_openapi_document() -> Path:
    """IA_OPENAPI_DOCUMENT, else schemas/openapi.json of the checkout this module runs from."""
    configured = os.environ.get("IA_OPENAPI_DOCUMENT")
    if configured:
        return Path(configured)
    from ia_modules.stack import _project_root

    return _project_root() / "schemas" / "openapi.json"


def resolve(root: Path, request_path: str) -> Path | None:
    """The file under `root` that a URL path names, or None if there is none there.

    Paths that climb out of `root` (`..`, symlinks) name nothing.
    """
    relative = unquote(urlsplit(request_path).path).lstrip("/")
    root = root.resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def is_app_route(path: str) -> bool:
    """True for a path the app may own (/runs/abc); false for a missing file
    (/assets/x.js, /favicon.ico) or API path (/v1/..., /pkg.Service/Method), which
    get 404 rather than the app's page."""
    last = path.rsplit("/", 1)[-1]
    first = path.lstrip("/").split("/", 1)[0]
    return not path.startswith((_IMMUTABLE_PREFIX, _REST_PREFIX)) and "." not in last and "." not in first


def content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _allowed_methods(document: Path | None, path: str) -> list[str]:
    """The methods the OpenAPI document lists for `path`, upper case; none when it names no such path."""
    if document is None or not document.is_file():
        return []
    for template, item in json.loads(document.read_bytes()).get("paths", {}).items():
        pattern = "".join(
            "[^/:]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template)
        )
        if re.fullmatch(pattern, path):
            return sorted(method.upper() for method in item)
    return []


def handler_for(root: Path, openapi_document: Path | None = None) -> type[BaseHTTPRequestHandler]:
    """A request handler that serves `root` as a single-page app, and the API's document and reference."""

    class StaticFiles(BaseHTTPRequestHandler):
        server_version = "ia-web"

        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def _serve(self, *, body: bool) -> None:
            path = urlsplit(self.path).path
            if path == HEALTH_PATH:
                self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8", body=body)
                return
            if path in (OPENAPI_PATH, DOCS_PATH):
                self._api_document(path, body=body)
                return
            found = resolve(root, path)
            app_route = is_app_route(path)
            if found is None and app_route:
                # An app route such as /runs/abc: the app itself reads the URL.
                found = resolve(root, "/index.html")
            if found is None:
                if app_route:
                    self._send(HTTPStatus.OK, NOT_BUILT, "text/html; charset=utf-8", body=body)
                elif path.startswith(_REST_PREFIX):
                    self._rest_error(HTTPStatus.NOT_FOUND, _NOT_FOUND_CODE, f"no REST method at {path}", body=body)
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", body=body)
                return
            cache = "public, max-age=31536000, immutable" if path.startswith(_IMMUTABLE_PREFIX) else "no-cache"
            self._send(HTTPStatus.OK, found.read_bytes(), content_type(found), body=body, cache=cache)

        def _not_allowed(self) -> None:
            # Envoy forwards here what the transcoder did not match, such as PUT /v1/runs.
            path = urlsplit(self.path).path
            allowed = _allowed_methods(openapi_document, path) if path.startswith(_REST_PREFIX) else ["GET", "HEAD"]
            message = f"{self.command} is not allowed on {path}; allowed: {', '.join(allowed) or 'none'}"
            extra = {"Allow": ", ".join(allowed)}
            if path.startswith(_REST_PREFIX):
                self._rest_error(HTTPStatus.METHOD_NOT_ALLOWED, _UNIMPLEMENTED_CODE, message, body=True, headers=extra)
            else:
                data = f"{message}\n".encode()
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, data, "text/plain; charset=utf-8", body=True, headers=extra)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = _not_allowed

        def _rest_error(self, status: HTTPStatus, code: int, message: str, *, body: bool, headers=None) -> None:
            # The shape of every other REST failure: google.rpc.Status as JSON.
            data = json.dumps({"code": code, "message": message}).encode()
            self._send(status, data, "application/json", body=body, headers=headers)

        def _api_document(self, path: str, *, body: bool) -> None:
            if openapi_document is None or not openapi_document.is_file():
                self._send(HTTPStatus.NOT_FOUND, b"no OpenAPI document\n", "text/plain; charset=utf-8", body=body)
                return
            data = openapi_document.read_bytes()
            if path == OPENAPI_PATH:
                self._send(HTTPStatus.OK, data, "application/json", body=body)
                return
            from ia_modules.api_reference import render

            page = render(json.loads(data)).encode()
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", body=body)

        def _send(
            self,
            status: HTTPStatus,
            data: bytes,
            kind: str,
            *,
            body: bool,
            cache: str = "no-cache",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", cache)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return StaticFiles


def main(argv: list[str] | None = None) -> int:
    """Serve the dashboard until interrupted or terminated."""
    parser = argparse.ArgumentParser(prog="python -m ia_modules.web_static", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("IA_WEB_PORT", DEFAULT_PORT)))
    parser.add_argument("--host", default=os.environ.get("IA_BIND_HOST", "127.0.0.1"))
    parser.add_argument("--root", type=Path, default=None, help="the built app (default: web/dist)")
    args = parser.parse_args(argv)
    root = args.root or default_root()
    server = ThreadingHTTPServer((args.host, args.port), handler_for(root, default_openapi_document()))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port} (serving {root})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
