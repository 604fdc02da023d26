"""Templates: every reference form, JSON types kept, interpolation, and clear errors."""

import pytest
from ia_modules.templates import Reference, TemplateError, compile_template, find_references, resolve

CONTEXT = {
    "parameters": {"topic": "ai", "count": 3, "flags": {"on": True}},
    "steps": {
        "fetch": {"items": [{"id": "a"}, {"id": "b"}], "status": 200, "none": None},
        "score": {"value": 0.75},
    },
    "item": {"name": "x"},
    "index": 2,
    "error": {"kind": "STEP_ERROR", "message": "boom", "step_id": "fetch"},
    "result": {"ok": True},
    "run": {"run_id": "r1", "pipeline": "demo"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ parameters.topic }}", "ai"),
        ("{{parameters.count}}", 3),
        ("{{ pipeline_input.count }}", 3),
        ("{{ parameters.flags }}", {"on": True}),
        ("{{ steps.fetch.output.status }}", 200),
        ("{{ steps.fetch.output }}", CONTEXT["steps"]["fetch"]),
        ("{{ steps.fetch }}", CONTEXT["steps"]["fetch"]),
        ("{{ fetch.items.1.id }}", "b"),
        ("{{ fetch.items[0].id }}", "a"),
        ("{{ fetch.none }}", None),
        ("{{ score }}", {"value": 0.75}),
        ("{parameters.topic}", "ai"),
        ("{ parameters.count }", 3),
        ("{pipeline_input.topic}", "ai"),
        ("{steps.fetch.output.items[1].id}", "b"),
        ("{{ item.name }}", "x"),
        ("{{ index }}", 2),
        ("{{ error.message }}", "boom"),
        ("{{ result.ok }}", True),
        ("{{ run.run_id }}", "r1"),
    ],
)
def test_whole_string_template_keeps_json_type(template, expected):
    assert resolve(template, CONTEXT) == expected


def test_embedded_templates_are_interpolated_and_non_strings_json_encoded():
    text = "topic={{ parameters.topic }} n={parameters.count} flags={{ parameters.flags }} none={{ fetch.none }}"
    assert resolve(text, CONTEXT) == 'topic=ai n=3 flags={"on": true} none=null'


def test_nested_values_are_resolved_and_plain_values_left_alone():
    value = {"a": ["{{ parameters.topic }}", 1, {"b": "{{ score.value }}"}], "c": "plain {braces}", "d": None}
    assert resolve(value, CONTEXT) == {"a": ["ai", 1, {"b": 0.75}], "c": "plain {braces}", "d": None}


def test_json_text_is_not_mistaken_for_a_template():
    assert resolve('{"a": 1}', CONTEXT) == '{"a": 1}'
    assert resolve("{notaroot.x}", CONTEXT) == "{notaroot.x}"


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ parameters.missing }}", "'missing'"),
        ("{{ nostep.x }}", "'nostep'"),
        ("{{ fetch.items.5 }}", "'5'"),
        ("{{ fetch.status.deeper }}", "'deeper'"),
        ("{steps.ghost.output.x}", "'ghost'"),
        ("{{ item }}", "'item'"),
    ],
)
def test_missing_reference_names_it(template, named):
    with pytest.raises(TemplateError) as info:
        resolve(template, {"parameters": {}, "steps": {"fetch": {"items": [], "status": 1}}})
    assert named in str(info.value)
    assert info.value.reference == template


@pytest.mark.parametrize(
    "template", ["{{ a + b }}", "{{ __import__('os') }}", "{{ }}", "{{ steps }}", "{{ steps.a.x }}"]
)
def test_expressions_are_refused_never_evaluated(template):
    with pytest.raises(TemplateError):
        resolve(template, CONTEXT)


def test_find_references_walks_all_forms_in_order():
    refs = find_references(
        {"a": "{{ parameters.x }} and {steps.s1.output.y[2]}", "b": ["{{ s2.z }}", "{{ item }}"], "c": 5}
    )
    assert refs == [
        Reference("parameters", None, ("x",), "{{ parameters.x }}"),
        Reference("steps", "s1", ("y", "2"), "{steps.s1.output.y[2]}"),
        Reference("steps", "s2", ("z",), "{{ s2.z }}"),
        Reference("item", None, (), "{{ item }}"),
    ]
    assert find_references("no templates") == []


def test_compiled_template_renders_many_times():
    template = compile_template({"x": "{{ parameters.topic }}-{{ index }}"})
    assert not template.is_constant
    assert template.render({"parameters": {"topic": "t"}, "index": 1}) == {"x": "t-1"}
    assert template.render({"parameters": {"topic": "u"}, "index": 2}) == {"x": "u-2"}
    assert compile_template({"k": [1, "two"]}).is_constant
