"""Structured logs: one line per event, with the service, level, event and fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ia_service_kit.logging import configure_logging, get_logger


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_logfmt_quotes_values_that_need_it(stream: io.StringIO) -> None:
    configure_logging("registry", level="info", log_format="logfmt", stream=stream)
    get_logger("ia_registry.test").info("pipeline version stored", name="hello", revision=2, note='say "hi"')
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert line.startswith("time=")
    assert " level=info service=registry logger=ia_registry.test " in line
    assert 'event="pipeline version stored" name=hello revision=2 note="say \\"hi\\""' in line


def test_json_lines_carry_the_same_fields(stream: io.StringIO) -> None:
    configure_logging("executor", level="debug", log_format="json", stream=stream)
    get_logger("x").debug("step started", step="fetch", attempt=1)
    record = json.loads(stream.getvalue())
    assert {k: record[k] for k in ("level", "service", "event", "step", "attempt")} == {
        "level": "debug",
        "service": "executor",
        "event": "step started",
        "step": "fetch",
        "attempt": 1,
    }


def test_level_comes_from_the_environment_and_filters(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IA_LOG_LEVEL", "warning")
    configure_logging("registry", stream=stream)
    log = get_logger("x")
    log.info("hidden")
    log.warning("shown")
    log.error("also shown")
    lines = stream.getvalue().splitlines()
    assert [line.split(" event=")[1] for line in lines] == ["shown", '"also shown"']
    assert "level=warning" in lines[0]


def test_an_unknown_level_falls_back_to_info(stream: io.StringIO) -> None:
    configure_logging("registry", level="chatty", stream=stream)
    get_logger("x").debug("hidden")
    get_logger("x").info("shown")
    assert stream.getvalue().count("\n") == 1


def test_a_traceback_stays_on_one_line(stream: io.StringIO) -> None:
    configure_logging("registry", level="info", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("x").exception("handler failed", method="/a/B")
    output = stream.getvalue()
    assert output.count("\n") == 1
    assert "traceback=" in output and "ValueError: boom" in output


def test_configuring_twice_replaces_the_handler(stream: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("registry", stream=other)
    configure_logging("registry", stream=stream)
    get_logger("x").info("once")
    assert other.getvalue() == ""
    assert stream.getvalue().count("event=once") == 1
