"""`ia-modules pipelines …` against a real registry running in-process."""

from __future__ import annotations

import json
from pathlib import Path

from cli_definitions import broken, hello, legacy, write
from typer.testing import CliRunner

from ia_modules.cli.main import app


def push(runner: CliRunner, path: Path, *args: str):
    return runner.invoke(app, ["pipelines", "push", str(path), *args])


def test_push_creates_then_updates_then_leaves_unchanged(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    created = push(runner, path)
    assert created.exit_code == 0, created.output
    assert created.stdout == "created hello revision 1\n"
    same = push(runner, path)
    assert same.stdout == "unchanged hello revision 1\n"
    write(path, hello(value=2))
    updated = push(runner, path, "--format", "json")
    assert updated.exit_code == 0, updated.output
    document = json.loads(updated.stdout)
    assert document["action"] == "updated"
    assert document["pipeline"]["name"] == "hello"
    assert document["pipeline"]["revision"] == 2
    assert document["pipeline"]["labels"] == {"team": "data"}
    assert document["warnings"] == []


def test_push_normalizes_a_legacy_file(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    result = push(runner, write(tmp_path / "old.json", legacy()))
    assert result.exit_code == 0, result.output
    got = runner.invoke(app, ["pipelines", "get", "legacy"])
    assert json.loads(got.stdout)["flow"]["transitions"] == [{"from": "a", "to": "b"}]


def test_push_reports_the_registry_field_violations(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    result = push(runner, write(tmp_path / "broken.json", broken()))
    assert result.exit_code == 1
    assert result.stdout == ""
    first, *violations = result.stderr.strip().splitlines()
    assert first.startswith("error: INVALID_ARGUMENT: invalid pipeline definition")
    assert first.endswith("[INVALID_DEFINITION]")
    assert any(v.startswith("  flow.transitions[0].to: ") for v in violations)
    assert any(v.startswith("  steps[1].inputs.y: ") for v in violations)


def test_push_with_a_request_id_is_idempotent(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    first = push(runner, path, "--request-id", "req-1", "--format", "json")
    again = push(runner, path, "--request-id", "req-1", "--format", "json")
    assert json.loads(first.stdout)["pipeline"] == json.loads(again.stdout)["pipeline"]


def test_list_filters_by_prefix_and_label_and_limits(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    for name in ("etl-a", "etl-b", "etl-c", "other"):
        assert push(runner, write(tmp_path / f"{name}.json", hello(name))).exit_code == 0
    push(runner, write(tmp_path / "legacy.json", legacy("etl-plain")))
    listed = runner.invoke(app, ["pipelines", "list", "--prefix", "etl-", "--label", "team=data", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [p["name"] for p in json.loads(listed.stdout)["pipelines"]] == ["etl-a", "etl-b", "etl-c"]
    limited = runner.invoke(app, ["pipelines", "list", "--limit", "2", "--format", "json"])
    assert [p["name"] for p in json.loads(limited.stdout)["pipelines"]] == ["etl-a", "etl-b"]
    table = runner.invoke(app, ["pipelines", "list"])
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "REVISION", "VERSION", "UPDATED", "LABELS", "DESCRIPTION"]
    assert [row.split()[0] for row in rows] == ["etl-a", "etl-b", "etl-c", "etl-plain", "other"]


def test_list_pages_through_everything(endpoint: str, tmp_path: Path) -> None:
    from ia_modules import Client

    with Client() as client:
        for index in range(5):
            client.create_pipeline(hello(f"p{index}"))
        names = [v.name for v in client.list_pipelines(page_size=2)]
        first = client.list_pipelines_page(page_size=2)
        second = client.list_pipelines_page(page_size=2, page_token=first.next_page_token)
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    assert [v.name for v in first.pipelines] == ["p0", "p1"]
    assert [v.name for v in second.pipelines] == ["p2", "p3"]


def test_list_with_nothing_stored(runner: CliRunner, endpoint: str) -> None:
    result = runner.invoke(app, ["pipelines", "list"])
    assert (result.exit_code, result.stdout) == (0, "no pipelines\n")


def test_get_prints_canonical_json_of_a_revision(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello(), indent=None)
    push(runner, path)
    push(runner, write(path, hello(value=2)))
    latest = runner.invoke(app, ["pipelines", "get", "hello"])
    first = runner.invoke(app, ["pipelines", "get", "hello@1"])
    assert latest.exit_code == first.exit_code == 0
    assert json.loads(latest.stdout) == hello(value=2)
    assert json.loads(first.stdout) == hello()
    assert first.stdout.startswith('{\n  "name": "hello",')
    described = json.loads(runner.invoke(app, ["pipelines", "get", "hello@1", "--format", "json"]).stdout)
    assert described["revision"] == 1
    assert described["definition"] == hello()
    assert len(described["content_hash"]) == 64


def test_get_of_an_unknown_pipeline_is_one_clear_line(runner: CliRunner, endpoint: str) -> None:
    result = runner.invoke(app, ["pipelines", "get", "nope"])
    assert result.exit_code == 1
    assert result.stderr == "error: NOT_FOUND: pipeline `nope` does not exist [PIPELINE_NOT_FOUND]\n"


def test_get_with_a_bad_revision_is_a_usage_error(runner: CliRunner, endpoint: str) -> None:
    result = runner.invoke(app, ["pipelines", "get", "hello@latest"])
    assert result.exit_code == 2
    assert "the revision after '@' must be a number" in result.stderr


def test_versions_lists_newest_first(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    push(runner, path)
    push(runner, write(path, hello(value=2)))
    document = json.loads(runner.invoke(app, ["pipelines", "versions", "hello", "--format", "json"]).stdout)
    assert [v["revision"] for v in document["versions"]] == [2, 1]
    table = runner.invoke(app, ["pipelines", "versions", "hello"])
    header, *rows = table.stdout.splitlines()
    assert header.split()[:2] == ["REVISION", "CREATED"]
    assert [row.split()[0] for row in rows] == ["2", "1"]


def test_delete_asks_first_and_deletes_with_yes(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    path = write(tmp_path / "hello.json", hello())
    push(runner, path)
    push(runner, write(path, hello(value=2)))
    declined = runner.invoke(app, ["pipelines", "delete", "hello"], input="n\n")
    assert declined.exit_code == 1
    assert runner.invoke(app, ["pipelines", "get", "hello"]).exit_code == 0
    confirmed = runner.invoke(app, ["pipelines", "delete", "hello"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout.endswith("deleted hello (2 revisions)\n")
    push(runner, path)
    scripted = runner.invoke(app, ["pipelines", "delete", "hello", "--yes", "--format", "json"])
    assert json.loads(scripted.stdout) == {"name": "hello", "deleted_revisions": 1}
    assert runner.invoke(app, ["pipelines", "get", "hello"]).exit_code == 1


def test_import_reports_each_file_and_fails_on_invalid(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    write(folder / "a.json", hello("a"))
    write(folder / "nested" / "b.json", legacy("b"))
    write(folder / "notes.txt", {"ignored": True})
    first = runner.invoke(app, ["pipelines", "import", str(folder), "--format", "json"])
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert [(Path(r["file"]).name, r["name"], r["outcome"], r["revision"]) for r in document["results"]] == [
        ("a.json", "a", "created", 1),
        ("b.json", "b", "created", 1),
    ]
    write(folder / "a.json", hello("a", value=2))
    write(folder / "c.json", broken("c"))
    (folder / "d.json").write_bytes(b"\x00\x01binary")
    second = runner.invoke(app, ["pipelines", "import", str(folder)])
    assert second.exit_code == 1
    lines = second.stdout.splitlines()
    assert lines[0].split() == ["updated", str(folder / "a.json"), "a", "revision", "2"]
    assert lines[1].split()[0] == "invalid" and lines[1].split()[1] == str(folder / "c.json")
    assert any("UNKNOWN_STEP flow.transitions[0].to" in line for line in lines)
    assert any(line.split()[:2] == ["invalid", str(folder / "d.json")] for line in lines)
    assert any("is a binary file" in line for line in lines)
    assert any(line.split()[:2] == ["unchanged", str(folder / "nested" / "b.json")] for line in lines)
    assert lines[-1] == "4 files: 0 created, 1 updated, 1 unchanged, 2 invalid"


def test_import_needs_a_folder_with_json_files(runner: CliRunner, endpoint: str, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["pipelines", "import", str(tmp_path / "nope")])
    assert (missing.exit_code, missing.stderr) == (1, f"error: {tmp_path / 'nope'}: no such directory\n")
    file = write(tmp_path / "a.json", hello())
    not_dir = runner.invoke(app, ["pipelines", "import", str(file)])
    assert not_dir.stderr == f"error: {file}: is not a directory\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = runner.invoke(app, ["pipelines", "import", str(empty)])
    assert nothing.stderr == f"error: {empty}: no *.json files in it\n"
