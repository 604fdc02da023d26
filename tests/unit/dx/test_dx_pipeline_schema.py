"""The JSON Schema of pipeline files: generated from the protos, committed, and in step with the definition model."""

import json
from pathlib import Path

import jsonschema
import pytest

from ia_modules.definition import canonical_dict, load_definition
from ia_modules.pipeline_schema import pipeline_schema, pipeline_schema_json
from ia_modules.starters import TEMPLATES, starter_files

ROOT = Path(__file__).parents[3]
COMMITTED = ROOT / "schemas" / "pipeline.schema.json"
CORPUS = ROOT / "tests" / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.json"))
CANONICAL = [p for p in VALID if p.stem.startswith("canonical")]
# Mistakes of shape, which a schema can express; the others (unknown step in a
# template, unbounded cycle, bad CEL, ...) need the graph and are the validator's.
STRUCTURAL = [
    "unknown_top_level_field.json",
    "unknown_step_field.json",
    "wrong_type.json",
    "steps_not_a_list.json",
    "int_out_of_range.json",
    "not_an_object.json",
    "missing_name.json",
    "invalid_name.json",
    "no_steps.json",
    "missing_step_id.json",
    "invalid_step_id.json",
    "retry_delay_with_unit.json",
]
VALIDATOR = jsonschema.Draft202012Validator(pipeline_schema())


def _errors(document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_the_committed_schema_is_the_generated_one():
    assert COMMITTED.read_text() == pipeline_schema_json(), (
        "schemas/pipeline.schema.json is stale: run `make schemas`"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(pipeline_schema())


@pytest.mark.parametrize("path", CANONICAL, ids=lambda p: p.stem)
def test_every_valid_canonical_file_matches(path):
    assert _errors(json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_the_canonical_form_of_every_valid_file_matches(path):
    """What `format --upgrade` writes for any dialect is what the schema describes."""
    pipeline = load_definition(path.read_text()).pipeline
    assert _errors(canonical_dict(pipeline)) == []


def test_legacy_forms_are_not_described():
    legacy = json.loads((CORPUS / "valid" / "legacy_paths.json").read_text())
    assert any("paths" in error for error in _errors(legacy))


@pytest.mark.parametrize("name", STRUCTURAL, ids=lambda n: n.removesuffix(".json"))
def test_structural_mistakes_are_rejected(name):
    assert _errors(json.loads((CORPUS / "invalid" / name).read_text())) != []


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_starter_pipelines_match_including_their_schema_reference(template):
    files = starter_files("demo", template, schema="../schemas/pipeline.schema.json")
    pipelines = [json.loads(f.content) for f in files if f.path.name == "pipeline.json"]
    assert pipelines and all(_errors(p) == [] for p in pipelines)


def test_nested_map_steps_need_no_id_but_graph_steps_do():
    inner = {"type": "pass"}
    each = {"id": "each", "type": "map", "map": {"items": "{{ parameters.xs }}", "step": inner}}
    document = {"name": "fan", "steps": [each]}
    assert _errors(document) == []
    assert _errors({"name": "fan", "steps": [inner]}) == ["steps/0: 'id' is a required property"]


def test_fields_carry_their_proto_comments_for_editor_hovers():
    schema = pipeline_schema()
    assert schema["properties"]["name"]["description"].startswith("Unique name of the pipeline")
    assert schema["$defs"]["Step"]["properties"]["timeout_s"]["description"] == "Deadline of one attempt, in seconds."
    assert schema["$defs"]["Transition"]["description"].startswith("An edge")
