"""Templates, fed random text and random contexts: they resolve by lookup only, so
nothing in a template runs, and every failure is a TemplateError."""

from __future__ import annotations

from fuzz_strategies import JSON, TEMPLATE_TEXT
from hypothesis import given, settings

from ia_modules.templates import TemplateError, find_references, resolve

FUZZ = settings(max_examples=200, deadline=None, database=None)

_CALLED: list[str] = []


class _Trap:
    """A context value that records any attribute access or call: a template must do neither."""

    def __getattr__(self, name: str):
        _CALLED.append(name)
        raise AssertionError(f"a template touched .{name}")

    def __call__(self, *args, **kwargs):
        _CALLED.append("call")
        raise AssertionError("a template called a value")


@FUZZ
@given(TEMPLATE_TEXT, JSON)
def test_templates_resolve_by_lookup_or_fail_with_template_error(text, data):
    context = {"parameters": {"a": data, "trap": _Trap()}, "steps": {"a": {"output": data}}, "item": data, "index": 0}
    try:
        find_references(text)
        resolve(text, context)
        resolve({"k": [text]}, context)
    except TemplateError:
        pass
    assert not _CALLED


@FUZZ
@given(JSON)
def test_values_without_templates_resolve_to_themselves(value):
    try:
        resolved = resolve(value, {})
    except TemplateError:
        return
    assert resolved == value or resolved != resolved  # NaN is never equal to itself
