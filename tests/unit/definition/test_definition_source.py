"""Reading text: malformed JSON with lines, encodings, limits, duplicate keys, and path -> line."""

import json

import pytest

from ia_modules.definition import MAX_DOCUMENT_BYTES, MAX_STEPS, Code, Severity, load_definition
from ia_modules.definition import paths
from ia_modules.definition.source import LineMap


def _only(result, code):
    found = [f for f in result.findings if f.code == code]
    assert found, [str(f) for f in result.findings]
    return found[0]


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ('{\n  "name": "x",\n  "steps": [],\n}\n', 4, "trailing comma"),
        ("{\n  'name': 'x'\n}", 2, "double quotes"),
        ('{\n  "name": "x"\n  "steps": []\n}', 3, "comma may be missing"),
        ('{"name": ', 1, None),
        ("", 1, None),
    ],
)
def test_malformed_json_is_a_finding_with_line_and_column(text, line, hint):
    result = load_definition(text)
    assert result.pipeline is None
    finding = _only(result, Code.INVALID_JSON)
    assert finding.severity is Severity.ERROR
    assert finding.path == "$"
    assert finding.line == line
    assert f"line {line}, column" in finding.message
    if hint:
        assert hint in finding.hint
    else:
        assert finding.hint is None


def test_source_name_appears_in_whole_document_messages():
    result = load_definition("{", source_name="pipelines/demo.json")
    assert result.findings[0].message.startswith("pipelines/demo.json: malformed JSON")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_not_json(constant):
    result = load_definition(f'{{"name": "x", "parameters": {{"a": {constant}}}}}')
    assert result.pipeline is None
    assert constant in _only(result, Code.INVALID_JSON).message


def test_deeply_nested_json_is_refused_cleanly():
    text = '{"name": "x", "parameters": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    result = load_definition(text)
    assert result.pipeline is None
    assert _only(result, Code.INVALID_JSON).message == "the JSON is nested too deeply"


def test_nesting_beyond_the_protobuf_limit_is_a_finding():
    text = '{"name": "x", "steps": [{"id": "a", "type": "pass", "config": {"v": ' + "[" * 150 + "]" * 150 + "}}]}"
    result = load_definition(text)
    assert result.pipeline is None
    assert "nested too deeply" in _only(result, Code.INVALID_VALUE).message


def test_bytes_are_utf8_with_an_optional_bom():
    text = '{"name": "café", "steps": [{"id": "a", "type": "pass"}]}'
    plain = load_definition(text.encode())
    bom = load_definition(b"\xef\xbb\xbf" + text.encode())
    assert plain.pipeline == bom.pipeline == load_definition("\ufeff" + text).pipeline
    assert plain.pipeline.name == "café"


def test_bytes_that_are_not_utf8_give_the_line():
    result = load_definition(b'{\n\n  "name": "caf\xe9"\n}')
    finding = _only(result, Code.INVALID_ENCODING)
    assert finding.line == 3
    assert result.pipeline is None


def test_other_source_types_are_refused():
    result = load_definition(42)
    assert result.pipeline is None
    assert "got a int" in _only(result, Code.INVALID_TYPE).message


@pytest.mark.parametrize("as_bytes", [False, True])
def test_documents_over_the_size_limit_are_refused(as_bytes):
    padding = "x" * (MAX_DOCUMENT_BYTES + 1)
    text = json.dumps({"name": "big", "description": padding, "steps": []})
    result = load_definition(text.encode() if as_bytes else text)
    assert result.pipeline is None
    finding = _only(result, Code.DOCUMENT_TOO_LARGE)
    assert str(MAX_DOCUMENT_BYTES) in finding.message
    assert finding.hint


def test_multibyte_text_is_measured_in_bytes():
    # Fewer characters than the limit, but more bytes once encoded.
    text = json.dumps({"name": "big", "description": "é" * (MAX_DOCUMENT_BYTES // 2 + 10)}, ensure_ascii=False)
    assert len(text) < MAX_DOCUMENT_BYTES
    assert _only(load_definition(text), Code.DOCUMENT_TOO_LARGE)


def test_a_document_just_under_the_limit_loads():
    text = json.dumps({"name": "ok", "description": "x" * (MAX_DOCUMENT_BYTES - 100), "steps": []})
    assert load_definition(text).pipeline is not None


def test_too_many_steps_is_refused():
    steps = [{"id": f"s{i}", "type": "pass"} for i in range(MAX_STEPS + 1)]
    result = load_definition({"name": "huge", "steps": steps})
    assert result.pipeline is None
    finding = _only(result, Code.TOO_MANY_STEPS)
    assert finding.path == "steps"
    assert str(MAX_STEPS) in finding.message


def test_the_step_limit_itself_is_allowed():
    steps = [{"id": f"s{i}", "type": "pass"} for i in range(MAX_STEPS)]
    assert load_definition({"name": "big", "steps": steps}).ok


def test_duplicate_keys_are_warned_at_the_repeat():
    text = '{\n  "name": "a",\n  "steps": [\n    {"id": "x", "type": "pass", "id": "y"}\n  ],\n  "name": "b"\n}'
    result = load_definition(text)
    duplicates = [(f.path, f.line) for f in result.findings if f.code == Code.DUPLICATE_KEY]
    assert duplicates == [("steps[0].id", 4), ("name", 6)]
    assert result.pipeline.name == "b"
    assert result.pipeline.steps[0].id == "y"


def test_line_map_follows_nesting_and_escapes():
    text = '{\n  "a": {"b": [1,\n    {"c": "x\\"y"}],\n    "d e": []\n  },\n  "f": {}\n}'
    lines = LineMap(text)
    assert lines.line_of("$") == 1
    assert lines.line_of("a") == 2
    assert lines.line_of("a.b[0]") == 2
    assert lines.line_of("a.b[1].c") == 3
    assert lines.line_of('a["d e"]') == 4
    assert lines.line_of("f") == 6
    # A path not in the text falls back to its closest enclosing value.
    assert lines.line_of("a.b[1].zz.yy") == 3
    assert lines.line_of("nothing") == 1


def test_paths_round_trip_through_segments():
    path = paths.join(paths.ROOT, ["steps", 3, "inputs", "my key", "$ref", 0])
    assert path == 'steps[3].inputs["my key"].$ref[0]'
    assert paths.segments(path) == ["steps", 3, "inputs", "my key", "$ref", 0]
    assert paths.segments(paths.ROOT) == []
    assert paths.index(paths.ROOT, 2) == "[2]"
    assert paths.key(paths.ROOT, "a.b") == '["a.b"]'
    assert paths.segments('["a.b"].c') == ["a.b", "c"]


def test_load_findings_carry_lines():
    text = '{\n  "name": "x",\n  "steps": [\n    {"id": "a", "type": "pass", "timeout_s": "soon"}\n  ]\n}'
    finding = _only(load_definition(text), Code.INVALID_TYPE)
    assert (finding.path, finding.line) == ("steps[0].timeout_s", 4)


def test_dict_sources_have_no_lines():
    result = load_definition({"name": "x", "steps": [{"id": "a", "type": "pass", "timeout_s": "soon"}]})
    assert _only(result, Code.INVALID_TYPE).line is None
    assert result.locate(result.findings) == result.findings
