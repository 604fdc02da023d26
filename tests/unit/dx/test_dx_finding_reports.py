"""SARIF and GitHub annotations of findings."""

from __future__ import annotations

from dx_support import CORPUS

from ia_modules.definition import Finding, Severity, load_definition, validate
from ia_modules.finding_reports import SARIF_SCHEMA, github_annotations, sarif

ERROR = Finding(Severity.ERROR, "steps[1].inputs.x", "reads `nope`", "UNKNOWN_STEP", "did you mean `a`?", 12)
WARNING = Finding(Severity.WARNING, "steps[2]", "can never run: 50%, really", "UNREACHABLE_STEP", None, None)


def test_sarif_has_a_rule_per_code_and_a_located_result_per_finding():
    document = sarif([("p.json", [ERROR, WARNING]), ("q.json", [ERROR])], version="1.2.3")
    assert document["$schema"] == SARIF_SCHEMA and document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("ia-modules", "1.2.3")
    assert [rule["id"] for rule in driver["rules"]] == ["UNKNOWN_STEP", "UNREACHABLE_STEP"]
    first, second, third = run["results"]
    assert first == {
        "ruleId": "UNKNOWN_STEP",
        "level": "error",
        "message": {"text": "steps[1].inputs.x: reads `nope` (did you mean `a`?)"},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": "p.json"}, "region": {"startLine": 12}},
                "logicalLocations": [{"fullyQualifiedName": "steps[1].inputs.x", "kind": "member"}],
            }
        ],
    }
    assert second["level"] == "warning" and "region" not in second["locations"][0]["physicalLocation"]
    assert third["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "q.json"


def test_github_annotations_escape_their_properties_and_data():
    text = github_annotations([("dir/a,b:c.json", [ERROR, WARNING])])
    assert text.splitlines() == [
        "::error file=dir/a%2Cb%3Ac.json,line=12,title=UNKNOWN_STEP::"
        "steps[1].inputs.x: reads `nope` (did you mean `a`?)",
        "::warning file=dir/a%2Cb%3Ac.json,title=UNREACHABLE_STEP::steps[2]: can never run: 50%25, really",
    ]
    multi = Finding(Severity.ERROR, "$", "line one\nline two", "INVALID_JSON")
    assert github_annotations([("x.json", [multi])]) == "::error file=x.json,title=INVALID_JSON::line one%0Aline two\n"
    assert github_annotations([("x.json", [])]) == ""


def test_every_corpus_mistake_becomes_an_annotation_with_a_line():
    for path in sorted((CORPUS / "invalid").glob("*.json")):
        if path.name == "expected.json":
            continue
        loaded = load_definition(path.read_bytes())
        findings = list(loaded.findings) + (loaded.locate(validate(loaded.pipeline)) if loaded.pipeline else [])
        lines = github_annotations([(path.name, findings)]).splitlines()
        assert lines and all(line.startswith(("::error file=", "::warning file=")) for line in lines), path.name
