"""`diff` and `docs` as users call them: files or registered revisions, text or JSON."""

from __future__ import annotations

import json

from dx_cli_support import CORPUS, FULL, GOLDEN, invoke

from ia_modules import Client
from ia_modules.definition import load_definition

V1 = GOLDEN / "diff" / "orders-v1.json"
V2 = GOLDEN / "diff" / "orders-v2.json"


def test_diff_of_two_files_prints_the_golden_text_and_exits_1(runner, tmp_path):
    # Copied so that the labels are the short names the golden file shows.
    for source in (V1, V2):
        (tmp_path / source.name).write_text(source.read_text())
    old, new = tmp_path / V1.name, tmp_path / V2.name
    result = invoke(runner, "diff", old, new)
    assert result.exit_code == 1
    expected = (GOLDEN / "diff" / "orders.txt").read_text()
    assert result.stdout == expected.replace("orders-v1.json", str(old)).replace("orders-v2.json", str(new))
    document = json.loads(invoke(runner, "diff", old, new, "--format", "json").stdout)
    golden = json.loads((GOLDEN / "diff" / "orders.json").read_text())
    assert document == dict(golden, before=str(old), after=str(new))


def test_the_same_pipeline_in_two_dialects_is_no_difference(runner, tmp_path):
    legacy = CORPUS / "valid" / "legacy_paths.json"
    upgraded = tmp_path / "upgraded.json"
    upgraded.write_text(invoke(runner, "format", legacy, "--upgrade").stdout)
    result = invoke(runner, "diff", legacy, upgraded)
    assert (result.exit_code, result.stdout) == (0, f"{legacy} and {upgraded} define the same pipeline\n")
    document = json.loads(invoke(runner, "diff", legacy, upgraded, "--format", "json").stdout)
    assert document["identical"] is True and document["changes"] == []


def test_diff_of_registered_revisions_and_a_file(runner, endpoint):
    first = load_definition(V1.read_text()).pipeline
    second = load_definition(V2.read_text()).pipeline
    with Client() as client:
        client.create_pipeline(first)
        client.update_pipeline(second)
    result = invoke(runner, "diff", "orders@1", "orders@2")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- orders@1\n+++ orders@2\n")
    assert "  ~ steps[check].retry.max_attempts: 3 -> 5\n" in result.stdout
    latest = invoke(runner, "diff", "orders", V2)
    assert (latest.exit_code, latest.stdout) == (0, f"orders@2 and {V2} define the same pipeline\n")
    missing = invoke(runner, "diff", "orders@9", V2)
    assert missing.exit_code == 1 and missing.stderr.startswith("error: NOT_FOUND: ")


def test_docs_to_stdout_and_to_a_file(runner, tmp_path):
    expected = (GOLDEN / "docs" / "canonical_full.md").read_text()
    assert invoke(runner, "docs", FULL).stdout == expected
    result = invoke(runner, "docs", FULL, "--output", tmp_path / "README.md")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", f"wrote {tmp_path / 'README.md'}\n")
    assert (tmp_path / "README.md").read_text() == expected
    folder = invoke(runner, "docs", FULL, "-o", tmp_path)
    assert folder.exit_code == 1 and folder.stderr.startswith(f"error: {tmp_path}: is a directory")


def test_docs_of_a_registered_pipeline(runner, endpoint):
    with Client() as client:
        client.create_pipeline(load_definition(V1.read_text()).pipeline)
    result = invoke(runner, "docs", "orders@1")
    assert result.exit_code == 0
    assert result.stdout.startswith("# orders\n\nVersion 1.0; labels `team=sales`.\n")
