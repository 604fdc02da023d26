"""`serve`: what a plugin process does before and around serving."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from ia_modules.plugin import serve, step_plugin
from ia_modules.plugin import server as plugin_server
from ia_modules.plugin.protocol import handshake_env
from ia_modules.plugin.servicer import CallWatch


@step_plugin
def noop(config: dict, data: dict, ctx: object) -> dict:
    return {}


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`serve` takes over the process's logging; give pytest its own back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({}, "IA_PLUGIN_MAGIC_COOKIE is missing or wrong"),
        (
            {**handshake_env("/tmp/x.sock"), "IA_PLUGIN_MAX_CONCURRENCY": "many"},
            "IA_PLUGIN_MAX_CONCURRENCY='many' is not a number",
        ),
    ],
)
def test_serve_refuses_an_environment_it_cannot_use(
    root_logging: None, capsys: pytest.CaptureFixture[str], environ: dict[str, str], words: str
) -> None:
    with pytest.raises(SystemExit) as ended:
        serve(noop, environ=environ)

    assert ended.value.code == plugin_server.EXIT_REFUSED
    assert words in capsys.readouterr().err


def test_serve_refuses_to_serve_nothing(root_logging: None, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    with pytest.raises(SystemExit) as ended:
        serve(environ=handshake_env(str(tmp_path / "p.sock")))

    assert ended.value.code == plugin_server.EXIT_REFUSED
    assert "a plugin process must serve at least one plugin" in capsys.readouterr().err


def test_plugin_logs_are_json_lines_with_their_fields(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    plugin_server.configure_plugin_logging()
    logger = logging.getLogger("plugin.demo")

    logger.warning("slow answer", extra={"fields": {"url": "https://x", "message": "kept out"}})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "url")} == {
        "level": "warning", "logger": "plugin.demo", "message": "slow answer", "url": "https://x",
    }  # fmt: skip
    assert second["level"] == "error" and "ValueError: boom" in second["traceback"]


def test_a_call_past_its_deadline_and_grace_ends_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[tuple[int, str]] = []

    class Ended(Exception):
        pass

    def exit_now(code: int, message: str) -> None:
        ended.append((code, message))
        raise Ended

    monkeypatch.setattr(plugin_server, "_exit_now", exit_now)
    monkeypatch.setattr(plugin_server.time, "sleep", lambda seconds: None)
    watch = CallWatch()
    watch.begin("stuck", deadline=0.0)

    with pytest.raises(Ended):
        plugin_server._watch_overruns(watch, grace_s=0)

    assert ended == [
        (
            plugin_server.EXIT_WEDGED,
            "a call to stuck is still running 0s after its deadline; exiting so the host starts a fresh process",
        )
    ]


def test_exit_now_writes_a_json_line_before_leaving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    codes: list[int] = []
    monkeypatch.setattr(plugin_server.os, "_exit", codes.append)

    plugin_server._exit_now(79, "out of memory")

    assert codes == [79]
    assert json.loads(capsys.readouterr().err) == {
        "level": "error",
        "logger": "ia_modules.plugin",
        "message": "out of memory",
    }
    assert sys.stderr is not None
