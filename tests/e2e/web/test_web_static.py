"""The dashboard's static file server: content types, the single-page fallback,
nothing served from outside its folder, and a health path for the stack."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from ia_modules import web_static


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>app</title>")
    (root / "assets" / "app-1a2b.js").write_text("console.log(1)")
    (root / "assets" / "app-1a2b.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


def serve(root: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), web_static.handler_for(root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def base(site: Path) -> Iterator[str]:
    yield from serve(site)


def get(url: str) -> tuple[int, str, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.headers["Cache-Control"], reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.headers["Cache-Control"], error.read().decode()


def test_files_are_served_with_their_content_types_and_caching(base: str) -> None:
    assert get(f"{base}/") == (200, "text/html; charset=utf-8", "no-cache", "<!doctype html><title>app</title>")
    status, kind, cache, body = get(f"{base}/assets/app-1a2b.js")
    assert (status, kind, body) == (200, "text/javascript; charset=utf-8", "console.log(1)")
    assert "immutable" in cache
    assert get(f"{base}/assets/app-1a2b.css")[1] == "text/css; charset=utf-8"


def test_an_app_route_gets_index_html_but_a_missing_file_or_api_path_is_not_found(base: str) -> None:
    assert get(f"{base}/runs/abc?x=1")[3] == "<!doctype html><title>app</title>"
    for missing in ("/assets/gone.js", "/favicon.ico", "/v1/nothing", "/ia.registry.v1.RegistryService/Nope"):
        assert get(f"{base}{missing}")[0] == 404, missing


def test_nothing_outside_the_folder_is_served(site: Path) -> None:
    assert web_static.resolve(site, "/../secret.txt") is None
    assert web_static.resolve(site, "/%2e%2e/secret.txt") is None
    (site / "link.txt").symlink_to(site.parent / "secret.txt")
    assert web_static.resolve(site, "/link.txt") is None
    assert web_static.resolve(site, "/assets/app-1a2b.js") == (site / "assets" / "app-1a2b.js").resolve()


def test_health_answers_even_before_the_app_is_built(tmp_path: Path) -> None:
    for base in serve(tmp_path / "not-built"):
        assert get(f"{base}/healthz")[:2] == (200, "text/plain; charset=utf-8")
        status, _, _, body = get(f"{base}/")
        assert status == 200
        assert "not built" in body


def test_the_root_is_web_dist_of_the_checkout_unless_configured(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IA_WEB_ROOT", raising=False)
    assert web_static.default_root() == Path(__file__).resolve().parents[3] / "web" / "dist"
    monkeypatch.setenv("IA_WEB_ROOT", str(tmp_path))
    assert web_static.default_root() == tmp_path
