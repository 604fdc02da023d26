"""The canonical text and hash, findings on the wire, and DefinitionError."""

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition import (
    Code,
    DefinitionError,
    Finding,
    Severity,
    canonical_dict,
    canonical_json,
    content_hash,
    load_definition,
    validate,
)

DOC = {
    "steps": [{"type": "pass", "id": "b", "config": {"z": 1, "a": {"y": 2.0, "x": [3.5, 1]}}}],
    "name": "demo",
    "flow": {"transitions": [], "start_at": "b"},
    "parameters": {"zeta": 1, "alpha": True},
}


def test_canonical_json_format():
    text = canonical_json(load_definition(DOC).pipeline)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n  "name": "demo",\n  "parameters": {\n    "alpha": true,\n    "zeta": 1\n  },\n')
    data = json.loads(text)
    # Messages in proto field order; free-form objects sorted; integral numbers as integers.
    assert list(data) == ["name", "parameters", "steps", "flow"]
    assert list(data["steps"][0]) == ["id", "type", "config"]
    assert data["steps"][0]["config"] == {"a": {"x": [3.5, 1], "y": 2}, "z": 1}
    assert "2.0" not in text and '"y": 2' in text
    assert data["flow"] == {"start_at": "b"}


def test_canonical_dict_matches_the_proto_json_of_the_message():
    pipeline = load_definition(DOC).pipeline
    reparsed = pipeline_pb2.Pipeline()
    from google.protobuf import json_format

    json_format.ParseDict(canonical_dict(pipeline), reparsed)
    assert reparsed == pipeline


def test_unicode_is_kept_readable():
    pipeline = load_definition({"name": "x", "description": "café ✓"}).pipeline
    assert "café ✓" in canonical_json(pipeline)


def test_content_hash_is_sha256_of_sorted_compact_json():
    pipeline = load_definition(DOC).pipeline
    expected = json.dumps(canonical_dict(pipeline), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(pipeline) == hashlib.sha256(expected.encode()).hexdigest()


def test_content_hash_ignores_key_order_formatting_and_dialect():
    canonical = {
        "name": "demo",
        "steps": [{"id": "a", "module": "m", "step_class": "A"}, {"id": "b", "type": "pass"}],
        "flow": {"transitions": [{"from": "a", "to": "b"}]},
    }
    legacy = {
        "flow": {"paths": [{"to_step": "b", "from_step": "a"}, {"from": "b", "to": "end_with_success"}]},
        "steps": [{"class": "A", "module": "m", "name": "a", "type": "task"}, {"type": "pass", "id": "b"}],
        "name": "demo",
    }
    hashes = {
        content_hash(load_definition(canonical).pipeline),
        content_hash(load_definition(json.dumps(canonical, indent=4)).pipeline),
        content_hash(load_definition(legacy).pipeline),
    }
    assert len(hashes) == 1


def test_content_hash_changes_with_content():
    other = dict(DOC, description="changed")
    assert content_hash(load_definition(DOC).pipeline) != content_hash(load_definition(other).pipeline)


def test_optional_fields_keep_their_presence():
    doc = {
        "name": "x",
        "steps": [{"id": "a", "type": "pass", "continue_on_error": False, "timeout_s": 0, "fallback": None}],
    }
    text = canonical_json(load_definition(doc).pipeline)
    step = json.loads(text)["steps"][0]
    assert step == {"id": "a", "type": "pass", "timeout_s": 0, "continue_on_error": False, "fallback": None}
    assert load_definition(text).pipeline == load_definition(doc).pipeline


def test_finding_to_and_from_proto():
    finding = Finding(Severity.WARNING, "steps[0]", "msg", Code.UNREACHABLE_STEP, "hint", 7)
    wire = finding.to_proto()
    assert wire.severity == pipeline_pb2.FINDING_SEVERITY_WARNING
    assert (wire.path, wire.message, wire.code, wire.hint, wire.line) == (
        "steps[0]",
        "msg",
        "UNREACHABLE_STEP",
        "hint",
        7,
    )
    assert Finding.from_proto(wire) == finding
    bare = Finding.from_proto(pipeline_pb2.Finding(path="p", message="m", code="X"))
    assert bare == Finding(Severity.ERROR, "p", "m", "X", None, None)
    assert Finding(Severity.ERROR, "p", "m", "X").to_proto().line == 0


def test_finding_text():
    finding = Finding(Severity.ERROR, "steps[1].to", "unknown", Code.UNKNOWN_STEP, "did you mean `b`?", 12)
    assert str(finding) == "error: steps[1].to (line 12): unknown [UNKNOWN_STEP] - did you mean `b`?"
    assert str(Finding(Severity.WARNING, "x", "m", "C")) == "warning: x: m [C]"


def test_definition_error_summarizes_its_findings():
    findings = validate(load_definition({"name": "Bad Name"}).pipeline)
    error = DefinitionError(findings)
    assert error.findings == findings
    assert str(error).startswith("invalid pipeline definition: error: name: `Bad Name`")
    assert str(error).endswith("(and 1 more)")
    assert str(DefinitionError([], "custom")) == "custom"
    assert str(DefinitionError([])) == "invalid pipeline definition"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["always", "parameter:x", "{{ a.b }}", "{{", "end_x", "pass", "map"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "id",
                    "type",
                    "steps",
                    "flow",
                    "paths",
                    "transitions",
                    "from",
                    "to_step",
                    "condition",
                    "inputs",
                    "outputs",
                    "retry",
                    "error_handling",
                    "config",
                    "parameters",
                    "map",
                    "step",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_loads_and_validates_without_raising(doc):
    for source in (doc, json.dumps(doc)):
        result = load_definition(source)
        assert all(isinstance(f, Finding) for f in result.findings)
        if result.pipeline is not None:
            findings = validate(result.pipeline, strict=True)
            assert all(f.severity is Severity.ERROR for f in findings)
            again = load_definition(canonical_json(result.pipeline))
            if result.ok and not findings:
                assert again.pipeline == result.pipeline
