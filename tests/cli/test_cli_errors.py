"""Errors as users meet them: real statuses from the registry, and no stack at all."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import grpc
import pytest
from cli_definitions import broken, hello, write
from typer.testing import CliRunner

from ia_modules import AsyncClient, Client, IAError
from ia_modules.cli.main import app


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never speaks HTTP/2."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_not_found_carries_the_error_info(endpoint: str) -> None:
    with Client() as client, pytest.raises(IAError) as raised:
        client.get_pipeline("nope")
    error = raised.value
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "PIPELINE_NOT_FOUND"
    assert error.metadata == {"name": "nope"}
    assert error.field_violations == []
    assert error.status is not None and error.status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert str(error) == "NOT_FOUND: pipeline `nope` does not exist [PIPELINE_NOT_FOUND]"
    assert repr(error) == "IAError(NOT_FOUND, 'pipeline `nope` does not exist', reason='PIPELINE_NOT_FOUND')"


def test_invalid_definition_carries_field_violations(endpoint: str) -> None:
    from google.protobuf import json_format

    from ia.pipeline.v1 import pipeline_pb2

    pipeline = json_format.ParseDict(broken(), pipeline_pb2.Pipeline())
    with Client() as client, pytest.raises(IAError) as raised:
        client.create_pipeline(pipeline)
    error = raised.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_DEFINITION"
    fields = [field for field, _ in error.field_violations]
    assert fields == ["flow.transitions[0].to", "steps[1].inputs.y"]
    lines = str(error).splitlines()
    assert lines[0].endswith("[INVALID_DEFINITION]")
    assert lines[1].startswith("  flow.transitions[0].to: this transition names `c`")


def test_a_definition_that_cannot_load_is_refused_before_sending(endpoint: str) -> None:
    with Client() as client, pytest.raises(IAError) as raised:
        client.create_pipeline({"name": "x", "steps": "not a list"})
    error = raised.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_DEFINITION"
    assert error.field_violations and error.field_violations[0][0] == "steps"
    assert error.status is None


def test_etag_mismatch_is_aborted(endpoint: str) -> None:
    with Client() as client:
        client.create_pipeline(hello())
        with pytest.raises(IAError) as raised:
            client.delete_pipeline("hello", etag="stale")
        assert raised.value.code is grpc.StatusCode.ABORTED
        assert raised.value.reason == "ETAG_MISMATCH"


def test_client_round_trip_of_the_registry_calls(endpoint: str) -> None:
    with Client() as client:
        created = client.create_pipeline(hello(), request_id="r-1")
        updated = client.update_pipeline(
            {**hello(), "description": "new"}, update_mask=["description"], etag=created.pipeline.etag
        )
        checked = client.validate(broken())
        checked_text = client.validate('{"name": "x", "steps": [{"id": "a", "type": "pass"}]}', strict=True)
        checked_proto = client.validate(updated.pipeline.definition)
        results = client.import_pipelines([("one.json", '{"name": "one", "steps": [{"id": "a", "type": "pass"}]}')])
        revisions = [v.revision for v in client.list_versions("hello")]
        deleted = client.delete_pipeline("hello")
    assert created.pipeline.revision == 1
    assert updated.pipeline.revision == 2
    assert updated.pipeline.definition.description == "new"
    assert checked.valid is False
    assert {f.code for f in checked.findings} >= {"UNKNOWN_STEP"}
    assert checked_text.valid is True
    assert checked_proto.valid is True
    assert [(r.name, r.revision) for r in results] == [("one", 1)]
    assert revisions == [2, 1]
    assert deleted == 2


async def test_async_client_round_trip_and_errors(endpoint: str) -> None:
    async with AsyncClient() as client:
        created = await client.create_pipeline(hello())
        updated = await client.update_pipeline(hello(value=2))
        fetched = await client.get_pipeline("hello", 1)
        listed = [v.name async for v in client.list_pipelines(prefix="he")]
        page = await client.list_pipelines_page(page_size=1)
        versions = [v.revision async for v in client.list_versions("hello")]
        checked = await client.validate(hello())
        imported = await client.import_pipelines({"x.json": "{"})
        with pytest.raises(IAError) as raised:
            await client.get_pipeline("nope")
        deleted = await client.delete_pipeline("hello")
    assert (created.pipeline.revision, updated.pipeline.revision, fetched.revision) == (1, 2, 1)
    assert listed == ["hello"]
    assert [v.name for v in page.pipelines] == ["hello"]
    assert versions == [2, 1]
    assert checked.valid
    assert imported[0].outcome == 4  # IMPORT_OUTCOME_INVALID
    assert raised.value.reason == "PIPELINE_NOT_FOUND"
    assert deleted == 2


def test_an_unreachable_endpoint_says_so_with_a_hint(closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    with Client(address, timeout=5) as client, pytest.raises(IAError) as raised:
        client.get_pipeline("x")
    error = raised.value
    assert error.unreachable
    assert error.code is grpc.StatusCode.UNAVAILABLE
    assert str(error).startswith(f"cannot reach the IA Modules endpoint at {address}: ")
    assert str(error).endswith("(is the stack up? `ia-modules up`)")


def test_a_connection_that_never_completes_is_unreachable_at_the_deadline(silent_port: int) -> None:
    address = f"127.0.0.1:{silent_port}"
    with Client(address, timeout=0.5) as client, pytest.raises(IAError) as raised:
        client.list_pipelines_page()
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert raised.value.unreachable
    assert str(raised.value).startswith(f"cannot reach the IA Modules endpoint at {address}: ")


async def test_async_unreachable_endpoint(silent_port: int, closed_port: int) -> None:
    async with AsyncClient(f"127.0.0.1:{silent_port}", timeout=0.5) as client:
        with pytest.raises(IAError) as silent:
            await client.get_run("r")
    async with AsyncClient(f"127.0.0.1:{closed_port}") as client:
        with pytest.raises(IAError) as closed:
            async for _ in client.watch_run("r"):
                pass
    assert silent.value.unreachable and silent.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert closed.value.unreachable and closed.value.code is grpc.StatusCode.UNAVAILABLE


def test_cli_against_no_stack_prints_one_clear_line(
    runner: CliRunner, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IA_ENDPOINT", f"127.0.0.1:{closed_port}")
    result = runner.invoke(app, ["pipelines", "list"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach the IA Modules endpoint at 127.0.0.1:{closed_port}: ")
    assert result.stderr.endswith("(is the stack up? `ia-modules up`)\n")
    assert len(result.stderr.splitlines()) == 1


def test_endpoint_and_timeout_options_win_over_the_environment(
    runner: CliRunner, endpoint: str, silent_port: int, tmp_path
) -> None:
    result = runner.invoke(
        app, ["--endpoint", f"127.0.0.1:{silent_port}", "--timeout", "0.3", "pipelines", "versions", "x"]
    )
    assert result.exit_code == 1
    assert f"cannot reach the IA Modules endpoint at 127.0.0.1:{silent_port}: " in result.stderr


def test_debug_shows_the_traceback(runner: CliRunner, endpoint: str) -> None:
    result = runner.invoke(app, ["--debug", "pipelines", "get", "nope"])
    assert result.exit_code == 1
    assert isinstance(result.exception, IAError)
    assert result.exception.reason == "PIPELINE_NOT_FOUND"


def test_unexpected_errors_are_one_line_with_a_pointer_to_debug(
    runner: CliRunner, endpoint: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("ia_modules.client.Client.list_versions", explode)
    result = runner.invoke(app, ["pipelines", "versions", "x"])
    assert result.exit_code == 1
    assert result.stderr == "error: unexpected RuntimeError: disk on fire (run with --debug for the traceback)\n"


def test_os_errors_name_the_file(runner: CliRunner, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "locked.json", hello())

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr("pathlib.Path.read_bytes", refuse)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: Permission denied\n"
