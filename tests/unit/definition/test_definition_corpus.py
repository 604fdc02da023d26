"""The example corpus: every valid file loads, validates and round-trips; every mistake is caught."""

import json
from pathlib import Path

import pytest

from ia_modules.definition import Code, Severity, canonical_json, content_hash, load_definition, validate

CORPUS = Path(__file__).parents[2] / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.json"))
MANIFEST = json.loads((CORPUS / "invalid" / "expected.json").read_text())


def _all_findings(source):
    result = load_definition(source)
    findings = list(result.findings)
    if result.pipeline is not None:
        findings += result.locate(validate(result.pipeline))
    return result, findings


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_file_loads_and_validates_without_errors(path):
    result, findings = _all_findings(path.read_text())
    assert result.pipeline is not None
    assert [str(f) for f in findings if f.severity is Severity.ERROR] == []
    expected_dialect = "legacy" if path.stem.startswith("legacy") else "canonical"
    assert result.dialect == expected_dialect
    assert bool(result.dialect_features) == (expected_dialect == "legacy")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_file_round_trips_through_canonical_json(path):
    first = load_definition(path.read_text())
    text = canonical_json(first.pipeline)
    second = load_definition(text)
    assert second.pipeline == first.pipeline
    assert second.dialect == "canonical"
    assert second.dialect_features == []
    assert second.findings == []
    assert validate(second.pipeline, strict=False) == validate(first.pipeline)
    assert content_hash(second.pipeline) == content_hash(first.pipeline)
    assert canonical_json(second.pipeline) == text


def test_valid_corpus_covers_every_dialect_feature():
    seen = set()
    for path in VALID:
        seen.update(load_definition(path.read_text()).dialect_features)
    assert seen == {
        "flow.paths",
        "from_step/to_step",
        "end_* targets",
        "parameters as list",
        "inputs as list",
        "outputs as names",
        "step error_handling",
        "config.error_handling",
        "retry field names",
        "jitter as bool",
        "class",
        "step name as id",
        "type task",
        "human_input settings in config",
        "map settings in config",
        "pipeline settings in config",
        "wait settings in config",
        "ui_schema fields",
        "condition shorthand",
        "legacy operator names",
        "condition type names a plugin",
        "plugin_config.plugins_dir",
        "free-form name",
        "input_schema",
        "output_schema",
        "step input_schema",
        "step output_schema",
        "metadata",
        "loop_config.iteration_delay_seconds",
        "type label on a module step",
        "condition without type",
    }


def test_manifest_has_many_distinct_mistakes_and_names_real_files():
    files = {p.name for p in (CORPUS / "invalid").iterdir()} - {"expected.json"}
    assert files == set(MANIFEST)
    assert len(MANIFEST) >= 25
    assert {entry["code"] for entry in MANIFEST.values()} <= {str(code) for code in Code}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_invalid_file_is_caught_at_the_right_path(name):
    expected = MANIFEST[name]
    _result, findings = _all_findings((CORPUS / "invalid" / name).read_bytes())
    matches = [f for f in findings if f.code == expected["code"] and f.path == expected["path"]]
    assert matches, f"expected {expected['code']} at {expected['path']}, got {[str(f) for f in findings]}"
    assert matches[0].severity.value == expected["severity"]
    assert matches[0].message
    if "line" in expected:
        assert matches[0].line == expected["line"]
    if expected["severity"] == "error":
        assert any(f.severity is Severity.ERROR for f in findings)
