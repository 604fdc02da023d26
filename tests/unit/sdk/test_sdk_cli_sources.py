"""Reading user input for the CLI: files, JSON, `--set` pairs, NAME@REVISION."""

from pathlib import Path

import pytest

from ia_modules.cli.console import CLIError, ExitCode
from ia_modules.cli.sources import (
    assignments,
    json_argument,
    labels,
    merge,
    pipeline_reference,
    read_json_object,
    read_text,
    run_inputs,
)


def test_read_text_returns_utf8_text_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b'\xef\xbb\xbf{"name": "caf\xc3\xa9"}')
    assert read_text(path) == '{"name": "café"}'


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.json", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _write(d / "x.bin", b"\x89PNG\r\n\x1a\n\x00\x00"), "is a binary file"),
        (lambda d: _write(d / "latin.json", b'{"name": "caf\xe9"}'), "is not UTF-8 text"),
    ],
)
def test_read_text_refuses_unreadable_input_with_the_path(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(CLIError) as raised:
        read_text(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert raised.value.exit_code == ExitCode.FAILED


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_read_json_object_points_at_the_line_of_a_syntax_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.json", b'{\n  "a": 1,\n  "b": \n}')
    with pytest.raises(CLIError, match=rf"^{path}:4:1: invalid JSON: Expecting value$"):
        read_json_object(path)


def test_read_json_object_wants_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.json", b"[1, 2]")
    with pytest.raises(CLIError, match="expected a JSON object, got list"):
        read_json_object(path)


def test_json_argument_reads_inline_json_or_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "answer.json", b'{"approved": true}')
    assert json_argument('{"approved": false}') == {"approved": False}
    assert json_argument(f"@{path}") == {"approved": True}
    with pytest.raises(CLIError, match="^--data:1:1: invalid JSON"):
        json_argument("approved")


def test_assignments_keep_json_types_and_nest_dotted_keys() -> None:
    assert assignments(["n=3", "flag=true", "topic=ai", 'tags=["x"]', "a.b=1", "a.c=two", "empty="]) == {
        "n": 3,
        "flag": True,
        "topic": "ai",
        "tags": ["x"],
        "a": {"b": 1, "c": "two"},
        "empty": "",
    }


@pytest.mark.parametrize("pair", ["novalue", "=1"])
def test_assignments_without_key_and_value_are_usage_errors(pair: str) -> None:
    with pytest.raises(CLIError, match="expected KEY=VALUE") as raised:
        assignments([pair])
    assert raised.value.exit_code == ExitCode.USAGE


def test_assignments_refuse_to_nest_under_a_plain_value() -> None:
    with pytest.raises(CLIError, match="'a' is already set to a value"):
        assignments(["a=1", "a.b=2"])


def test_merge_overrides_key_by_key_in_nested_objects() -> None:
    assert merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4}) == {
        "a": {"x": 1, "y": 3},
        "b": 1,
        "c": 4,
    }


def test_run_inputs_put_set_pairs_over_the_input_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.json", b'{"topic": "ai", "limit": 5}')
    assert run_inputs(path, ["limit=10"]) == {"topic": "ai", "limit": 10}
    assert run_inputs(None, []) == {}


@pytest.mark.parametrize(
    ("target", "expected"),
    [("etl", ("etl", 0)), ("etl@3", ("etl", 3)), ("a.b-c@12", ("a.b-c", 12))],
)
def test_pipeline_reference(target: str, expected: tuple[str, int]) -> None:
    assert pipeline_reference(target) == expected


@pytest.mark.parametrize("target", ["etl@", "etl@latest", "etl@0", "etl@-1"])
def test_pipeline_reference_refuses_a_bad_revision(target: str) -> None:
    with pytest.raises(CLIError, match="must be a number from 1") as raised:
        pipeline_reference(target)
    assert raised.value.exit_code == ExitCode.USAGE


def test_labels() -> None:
    assert labels(["team=data", "tier="]) == {"team": "data", "tier": ""}
    with pytest.raises(CLIError, match="--label 'team': expected KEY=VALUE"):
        labels(["team"])
