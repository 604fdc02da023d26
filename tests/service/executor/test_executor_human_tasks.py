"""Checking answers against a task's ui_schema."""

from ia_executor.human_tasks import check_response


def test_answers_are_checked_with_paths_and_ui_hints_are_ignored():
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "ok": {"type": "boolean", "ui:widget": "checkbox"},
        },
    }
    assert check_response(schema, {"tags": ["a"], "ok": True}) == []
    assert check_response(schema, {"tags": ["a", 3]}) == [("data.tags[1]", "3 is not of type 'string'")]


def test_no_schema_accepts_anything_and_a_broken_schema_is_reported():
    assert check_response({}, {"anything": 1}) == []
    [(field, message)] = check_response({"type": "nonsense"}, {})
    assert field == "ui_schema" and "not a valid JSON Schema" in message
