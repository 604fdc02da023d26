"""`validate` for CI: SARIF, GitHub annotations with lines, and exit codes 0, 1 and 4."""

from __future__ import annotations

import json

from dx_cli_support import CORPUS, invoke

INVALID = CORPUS / "invalid"
VALID = CORPUS / "valid" / "canonical_minimal.json"
WARNING_ONLY = INVALID / "unreachable_step.json"
ERROR = INVALID / "transition_to_unknown_step.json"


def test_exit_codes_tell_errors_from_warnings_under_strict(runner):
    assert invoke(runner, "validate", VALID).exit_code == 0
    assert invoke(runner, "validate", WARNING_ONLY).exit_code == 0
    assert invoke(runner, "validate", WARNING_ONLY, "--strict").exit_code == 4
    assert invoke(runner, "validate", ERROR).exit_code == 1
    assert invoke(runner, "validate", ERROR, WARNING_ONLY, "--strict").exit_code == 1
    assert invoke(runner, "validate", VALID, "--strict").exit_code == 0
    strict = invoke(runner, "validate", WARNING_ONLY, "--strict", "--format", "json")
    assert strict.exit_code == 4
    assert json.loads(strict.stdout)["files"][0]["findings"][0]["severity"] == "error"


def test_github_annotations_name_the_file_and_line(runner):
    result = invoke(runner, "validate", ERROR, WARNING_ONLY, "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    (error,) = [line for line in lines if line.startswith("::error ")]
    assert error.startswith(f"::error file={ERROR},line=")
    assert ",title=UNKNOWN_STEP::flow.transitions[0].to: this transition names `scores`" in error
    line = int(error.split("line=")[1].split(",")[0])
    assert '"to": "scores"' in ERROR.read_text().splitlines()[line - 1]
    (warning,) = [line for line in lines if line.startswith(f"::warning file={WARNING_ONLY},")]
    assert "title=UNREACHABLE_STEP::steps[2]: " in warning


def test_sarif_is_one_document_with_every_finding(runner):
    # not_utf8.json cannot be read as text at all: validate refuses it before checking anything.
    files = sorted(p for p in INVALID.glob("*.json") if p.name not in ("expected.json", "not_utf8.json"))
    result = invoke(runner, "validate", *files, "--format", "sarif")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    (run,) = document["runs"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {str(p) for p in files}
    codes = {r["ruleId"] for r in run["results"]}
    expected = json.loads((INVALID / "expected.json").read_text())
    assert {entry["code"] for name, entry in expected.items() if name != "not_utf8.json"} <= codes
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == codes


def test_the_corpus_has_at_least_forty_distinct_mistakes():
    expected = json.loads((INVALID / "expected.json").read_text())
    assert len({entry["mistake"] for entry in expected.values()}) >= 40
    mistakes = {name: entry["code"] for name, entry in expected.items()}
    # The mistakes users really make, each caught.
    assert mistakes["transition_to_unknown_step.json"] == "UNKNOWN_STEP"
    assert mistakes["template_unknown_step.json"] == "UNKNOWN_STEP"
    assert mistakes["condition_on_undeclared_output.json"] == "UNKNOWN_OUTPUT"
    assert mistakes["join_never_runs.json"] == "JOIN_NEVER_RUNS"
    assert mistakes["unbounded_cycle.json"] == "UNBOUNDED_CYCLE"
    assert mistakes["human_input_without_schema.json"] == "MISSING_SETTING"
    assert mistakes["retry_negative_delay.json"] == "INVALID_RETRY"
    assert mistakes["retry_first_delay_in_milliseconds.json"] == "SUSPICIOUS_UNIT"
    assert mistakes["step_not_upstream.json"] == "STEP_NOT_UPSTREAM"
