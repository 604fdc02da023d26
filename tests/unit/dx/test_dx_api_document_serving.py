"""The static server answers /openapi.json with the committed document and /docs with its reference page."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from ia_modules import web_static

COMMITTED = Path(__file__).parents[3] / "schemas" / "openapi.json"


def _serve(document: Path | None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), web_static.handler_for(Path("/nonexistent"), document))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def base() -> Iterator[str]:
    yield from _serve(COMMITTED)


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_openapi_json_is_the_committed_document(base: str):
    status, kind, body = _get(f"{base}/openapi.json")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == json.loads(COMMITTED.read_text())


def test_docs_is_the_reference_page(base: str):
    status, kind, body = _get(f"{base}/docs")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b"IA Modules REST API" in body and b"/v1/runs/{run_id}:cancel" in body


def test_a_missing_document_is_a_plain_404(tmp_path: Path):
    for base in _serve(tmp_path / "absent.json"):
        assert _get(f"{base}/openapi.json")[:2] == (404, "text/plain; charset=utf-8")
        assert _get(f"{base}/docs")[0] == 404


def test_the_default_document_is_the_checkout_one_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("IA_OPENAPI_DOCUMENT", raising=False)
    assert web_static.default_openapi_document().resolve() == COMMITTED.resolve()
    monkeypatch.setenv("IA_OPENAPI_DOCUMENT", str(tmp_path / "doc.json"))
    assert web_static.default_openapi_document() == tmp_path / "doc.json"


def _call(method: str, url: str) -> tuple[int, str, str | None, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.headers["Allow"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.headers["Allow"], error.read()


def test_rest_paths_envoy_did_not_transcode_get_a_google_rpc_status(base: str):
    status, kind, _, body = _call("GET", f"{base}/v1/nothing/here")
    assert (status, kind) == (404, "application/json")
    assert json.loads(body) == {"code": 5, "message": "no REST method at /v1/nothing/here"}

    status, kind, allow, body = _call("PUT", f"{base}/v1/runs/r-1:cancel")
    assert (status, kind, allow) == (405, "application/json", "POST")
    assert json.loads(body)["code"] == 12 and "PUT is not allowed on /v1/runs/r-1:cancel" in json.loads(body)["message"]

    assert _call("TRACE", f"{base}/v1/pipelines")[:3] == (405, "application/json", "GET, POST")


def test_other_paths_allow_only_reading(base: str):
    status, kind, allow, _ = _call("POST", f"{base}/index.html")
    assert (status, kind, allow) == (405, "text/plain; charset=utf-8", "GET, HEAD")
