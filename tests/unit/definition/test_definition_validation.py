"""Validation of canonical pipelines: structure, graph, templates, conditions, error policy, strict."""

import pytest

from ia_modules.definition import Code, Severity, load_definition, validate


def _pipeline(steps, transitions=(), **extra):
    doc = {"name": "demo", "steps": steps, "flow": {"transitions": list(transitions)}}
    doc.update(extra)
    result = load_definition(doc)
    assert result.ok, [str(f) for f in result.findings]
    return result.pipeline


def _codes(pipeline, **kwargs):
    return [(f.code, f.path) for f in validate(pipeline, **kwargs)]


def _pass(step_id, **fields):
    return {"id": step_id, "type": "pass", **fields}


def _edge(source, target, **fields):
    return {"from": source, "to": target, **fields}


def test_a_valid_pipeline_has_no_findings():
    pipeline = _pipeline([_pass("a"), _pass("b", inputs={"x": "{{ a.y }}"})], [_edge("a", "b")])
    assert validate(pipeline) == []
    assert validate(pipeline, strict=True) == []


def test_strict_turns_warnings_into_errors():
    pipeline = _pipeline([_pass("a"), _pass("orphan")])
    (lenient,) = validate(pipeline)
    (strict,) = validate(pipeline, strict=True)
    assert lenient.severity is Severity.WARNING
    assert strict.severity is Severity.ERROR
    assert (strict.code, strict.path, strict.message) == (lenient.code, lenient.path, lenient.message)


def test_step_ids_and_names():
    pipeline = _pipeline([_pass("a"), _pass("a"), _pass("9lives"), _pass("")], [_edge("a", "9lives")])
    findings = validate(pipeline)
    assert (Code.DUPLICATE_STEP_ID, "steps[1].id") in [(f.code, f.path) for f in findings]
    invalid = next(f for f in findings if f.code == Code.INVALID_STEP_ID)
    assert invalid.path == "steps[2].id" and invalid.hint is None
    assert (Code.MISSING_STEP_ID, "steps[3].id") in [(f.code, f.path) for f in findings]


def test_step_kinds():
    steps = [
        {"id": "a", "type": "pass", "module": "m", "step_class": "C"},
        {"id": "b", "type": "plugin_thing"},
        {"id": "c", "step_class": "C"},
    ]
    findings = {(f.code, f.path): f for f in validate(_pipeline(steps, [_edge("a", "b"), _edge("b", "c")]))}
    assert (Code.AMBIGUOUS_STEP_KIND, "steps[0].module") in findings
    assert findings[(Code.UNKNOWN_STEP_TYPE, "steps[1].type")].hint == 'to run a plugin, write "plugin": "plugin_thing"'
    assert (Code.INCOMPLETE_MODULE_STEP, "steps[2].module") in findings


def test_type_specific_settings():
    steps = [
        {"id": "w", "type": "wait"},
        {"id": "m", "type": "map", "map": {"items": "[1, 2]", "step": {"type": "map"}, "max_concurrency": -1}},
        {"id": "p", "type": "pipeline", "pipeline": {"name": "Child Pipeline", "revision": -1}},
        {
            "id": "h",
            "type": "human_input",
            "human_input": {"ui_schema": {"type": "object"}, "timeout_s": 0, "on_timeout": "defualt"},
        },
        {
            "id": "h2",
            "type": "human_input",
            "human_input": {"ui_schema": {"type": "object", "required": ["ok"]}, "on_timeout": "default"},
        },
        {
            "id": "h3",
            "type": "human_input",
            "human_input": {
                "ui_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                "default_response": {"ok": "yes"},
            },
        },
    ]
    transitions = [_edge("w", "m"), _edge("m", "p"), _edge("p", "h"), _edge("h", "h2"), _edge("h2", "h3")]
    findings = {(f.code, f.path): f for f in validate(_pipeline(steps, transitions))}
    assert set(findings) == {
        (Code.MISSING_SETTING, "steps[0].wait"),
        (Code.INVALID_SETTING, "steps[1].map.items"),
        (Code.INVALID_SETTING, "steps[1].map.step.type"),
        (Code.INVALID_SETTING, "steps[1].map.max_concurrency"),
        (Code.INVALID_SETTING, "steps[2].pipeline.name"),
        (Code.INVALID_SETTING, "steps[2].pipeline.revision"),
        (Code.INVALID_TIMEOUT, "steps[3].human_input.timeout_s"),
        (Code.INVALID_SETTING, "steps[3].human_input.on_timeout"),
        (Code.MISSING_SETTING, "steps[4].human_input.default_response"),
        (Code.INVALID_DEFAULT, "steps[5].human_input.default_response"),
    }
    assert findings[(Code.INVALID_SETTING, "steps[3].human_input.on_timeout")].hint == "did you mean `default`?"


@pytest.mark.parametrize("ui_schema", [{"type": "string"}, {"type": ["object", "null"]}])
def test_the_answer_of_a_human_input_step_is_an_object(ui_schema):
    steps = [{"id": "h", "type": "human_input", "human_input": {"ui_schema": ui_schema}}]
    assert _codes(_pipeline(steps)) == [(Code.INVALID_UI_SCHEMA, "steps[0].human_input.ui_schema.type")]


def test_map_inner_steps_are_checked_like_steps():
    steps = [
        {
            "id": "m",
            "type": "map",
            "map": {
                "items": "{{ parameters.xs }}",
                "step": {"plugin": "p", "type": "pass", "retry": {"max_attempts": 0}},
            },
        }
    ]
    findings = _codes(_pipeline(steps, parameters={"xs": []}))
    assert findings == [
        (Code.AMBIGUOUS_STEP_KIND, "steps[0].map.step.plugin"),
        (Code.INVALID_RETRY, "steps[0].map.step.retry.max_attempts"),
    ]


def test_map_without_step():
    findings = _codes(
        _pipeline([{"id": "m", "type": "map", "map": {"items": "{{ parameters.xs }}"}}], parameters={"xs": []})
    )
    assert findings == [(Code.MISSING_SETTING, "steps[0].map.step")]


def test_parameter_specs():
    specs = [
        {"name": "a", "schema": {"type": "string"}},
        {"name": ""},
        {"name": "a"},
        {"name": "b", "schema": {"type": 5}},
    ]
    findings = _codes(_pipeline([_pass("s")], parameter_specs=specs, parameters={"a": "ok", "b": 1}))
    assert findings == [
        (Code.MISSING_PARAMETER_NAME, "parameter_specs[1].name"),
        (Code.DUPLICATE_PARAMETER, "parameter_specs[2].name"),
        (Code.INVALID_SCHEMA, "parameter_specs[3].schema"),
    ]


def test_schemas_may_name_their_own_draft():
    specs = [
        {
            "name": "a",
            "schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer", "exclusiveMinimum": 0},
        }
    ]
    assert validate(_pipeline([_pass("s")], parameter_specs=specs, parameters={"a": 2})) == []
    bad = _pipeline([_pass("s")], parameter_specs=specs, parameters={"a": 0})
    assert _codes(bad) == [(Code.INVALID_DEFAULT, "parameters.a")]


def test_flow_references():
    steps = [_pass("fetch", on_error="recovr"), _pass("score"), _pass("recover")]
    transitions = [_edge("fetch", "scor"), _edge("fecth", "score")]
    pipeline = _pipeline(steps, transitions, error_handling={"on_error": "nope"})
    pipeline.flow.start_at = "fetch"
    findings = {(f.code, f.path): f.hint for f in validate(pipeline)}
    assert findings[(Code.UNKNOWN_STEP, "flow.transitions[0].to")] == "did you mean `score`?"
    assert findings[(Code.UNKNOWN_STEP, "flow.transitions[1].from")] == "did you mean `fetch`?"
    assert findings[(Code.UNKNOWN_STEP, "steps[0].on_error")] == "did you mean `recover`?"
    assert findings[(Code.UNKNOWN_STEP, "error_handling.on_error")] == "the steps are fetch, score, recover"


def test_an_unknown_start_skips_the_reachability_check():
    pipeline = _pipeline([_pass("a"), _pass("b")])
    pipeline.flow.start_at = "zzz"
    assert _codes(pipeline) == [(Code.UNKNOWN_STEP, "flow.start_at")]


def test_start_at_decides_what_is_reachable():
    pipeline = _pipeline([_pass("a"), _pass("b")], [_edge("b", "a")])
    assert _codes(pipeline) == [(Code.UNREACHABLE_STEP, "steps[1]")]
    pipeline.flow.start_at = "b"
    assert _codes(pipeline) == []


def test_error_routes_make_steps_reachable():
    steps = [_pass("a", on_error="handle"), _pass("handle")]
    assert _codes(_pipeline(steps)) == []
    steps = [_pass("a"), _pass("handle")]
    assert _codes(_pipeline(steps, error_handling={"on_error": "handle"})) == []


def test_continue_on_error_makes_on_error_unused():
    steps = [_pass("a", on_error="handle", continue_on_error=True), _pass("handle")]
    assert _codes(_pipeline(steps)) == [
        (Code.UNUSED_ERROR_ROUTE, "steps[0].on_error"),
        (Code.UNREACHABLE_STEP, "steps[1]"),
    ]


@pytest.mark.parametrize(
    ("extra", "bounded_edge"),
    [
        ({"loop_config": {"max_iterations": 3}}, {}),
        ({"loop_config": {"max_loop_time_seconds": 60}}, {}),
        ({}, {"max_iterations": 2}),
    ],
)
def test_bounded_cycles_are_allowed(extra, bounded_edge):
    steps = [_pass("a"), _pass("b"), _pass("c")]
    transitions = [_edge("a", "b"), _edge("b", "c", **bounded_edge), _edge("c", "a")]
    assert validate(_pipeline(steps, transitions, **extra)) == []


def test_an_unbounded_cycle_names_its_steps():
    steps = [_pass("start"), _pass("draft"), _pass("check"), _pass("done")]
    transitions = [_edge("start", "draft"), _edge("draft", "check"), _edge("check", "draft"), _edge("check", "done")]
    (finding,) = validate(_pipeline(steps, transitions))
    assert (finding.code, finding.path) == (Code.UNBOUNDED_CYCLE, "flow.transitions[2]")
    assert "draft -> check -> draft" in finding.message
    assert "max_iterations" in finding.hint


def test_a_bound_outside_the_cycle_does_not_count():
    steps = [_pass("a"), _pass("b")]
    transitions = [_edge("a", "b", max_iterations=5), _edge("b", "b")]
    assert _codes(_pipeline(steps, transitions)) == [(Code.UNBOUNDED_CYCLE, "flow.transitions[1]")]


def test_each_unbounded_cycle_is_reported_once():
    steps = [_pass(s) for s in "abcd"]
    transitions = [
        _edge("a", "b"),
        _edge("b", "a"),
        _edge("b", "c"),
        _edge("c", "d"),
        _edge("d", "c", max_iterations=1),
        _edge("d", "d"),
    ]
    assert _codes(_pipeline(steps, transitions)) == [
        (Code.UNBOUNDED_CYCLE, "flow.transitions[1]"),
        (Code.UNBOUNDED_CYCLE, "flow.transitions[5]"),
    ]


def test_an_error_route_back_into_the_graph_is_a_cycle():
    steps = [_pass("work", on_error="fix"), _pass("fix")]
    (finding,) = validate(_pipeline(steps, [_edge("fix", "work")]))
    assert finding.code == Code.UNBOUNDED_CYCLE
    assert "work -> fix -> work" in finding.message


def test_the_default_error_route_skips_the_handler_region():
    # As in the engine: the handler and what follows it do not route to the handler,
    # so handle -> notify does not close a loop through error_handling.on_error.
    steps = [_pass("work"), _pass("handle"), _pass("notify")]
    pipeline = _pipeline(steps, [_edge("handle", "notify")], error_handling={"on_error": "handle"})
    assert validate(pipeline) == []


def test_negative_loop_bounds():
    pipeline = _pipeline(
        [_pass("a")],
        [_edge("a", "a", max_iterations=-1)],
        loop_config={"max_iterations": -2, "max_loop_time_seconds": -1},
    )
    assert set(_codes(pipeline)) == {
        (Code.INVALID_LOOP_BOUND, "loop_config.max_iterations"),
        (Code.INVALID_LOOP_BOUND, "loop_config.max_loop_time_seconds"),
        (Code.INVALID_LOOP_BOUND, "flow.transitions[0].max_iterations"),
        (Code.UNBOUNDED_CYCLE, "flow.transitions[0]"),
    }


class TestTemplates:
    def test_parameters_are_checked_only_when_declared(self):
        steps = [_pass("a", inputs={"x": "{{ parameters.anything }}", "all": "{{ parameters }}"})]
        assert validate(_pipeline(steps)) == []
        declared = _pipeline(steps, parameter_specs=[{"name": "something"}])
        assert _codes(declared) == [(Code.UNKNOWN_PARAMETER, "steps[0].inputs.x")]

    def test_declared_parameters_are_defaults_and_specs_together(self):
        steps = [
            _pass(
                "a",
                inputs={
                    "x": "{{ parameters.alpha }} {pipeline_input.beta}",
                    "y": "{parameters.alpah}",
                    "z": "{parameters.zzz}",
                },
            )
        ]
        pipeline = _pipeline(steps, parameters={"alpha": 1}, parameter_specs=[{"name": "beta"}])
        findings = validate(pipeline)
        assert [(f.code, f.path, f.hint) for f in findings] == [
            (Code.UNKNOWN_PARAMETER, "steps[0].inputs.y", "did you mean `alpha`?"),
            (Code.UNKNOWN_PARAMETER, "steps[0].inputs.z", "declare it in `parameters`"),
        ]

    def test_nested_inputs_are_walked(self):
        steps = [_pass("a"), _pass("b", inputs={"deep": [{"k": ["{{ nope.x }}"]}], "n": 3, "t": True})]
        assert _codes(_pipeline(steps, [_edge("a", "b")])) == [(Code.UNKNOWN_STEP, "steps[1].inputs.deep[0].k[0]")]

    def test_step_references_must_be_upstream(self):
        # a -> b, a -> c (parallel branches), b -> d, c -> d (join)
        steps = [
            _pass("a"),
            _pass("b", inputs={"own": "{{ b.x }}"}),
            _pass("c", inputs={"sibling": "{{ steps.b.output.x }}"}),
            _pass("d", inputs={"left": "{{ b.x }}", "right": "{{ c.x }}", "root": "{{ a }}"}),
        ]
        transitions = [_edge("a", "b"), _edge("a", "c"), _edge("b", "d"), _edge("c", "d")]
        findings = validate(_pipeline(steps, transitions))
        assert [(f.code, f.path) for f in findings] == [
            (Code.STEP_NOT_UPSTREAM, "steps[1].inputs.own"),
            (Code.STEP_NOT_UPSTREAM, "steps[2].inputs.sibling"),
        ]
        assert "has not run before `c`" in findings[1].message

    def test_a_step_in_a_loop_may_read_its_previous_iteration(self):
        steps = [_pass("a", inputs={"last": "{{ b.x }}"}), _pass("b")]
        transitions = [_edge("a", "b"), _edge("b", "a", max_iterations=3)]
        assert validate(_pipeline(steps, transitions)) == []

    def test_declared_outputs_are_checked(self):
        steps = [
            _pass("a", outputs=[{"name": "items"}, {"name": "count"}]),
            _pass("b", inputs={"ok": "{{ a.items[0] }}", "whole": "{{ a }}", "bad": "{{ a.cuont }}"}),
        ]
        (finding,) = validate(_pipeline(steps, [_edge("a", "b")], outputs={"n": "{{ a.total }}"}))[:1]
        assert (finding.code, finding.path, finding.hint) == (
            Code.UNKNOWN_OUTPUT,
            "steps[1].inputs.bad",
            "did you mean `count`?",
        )
        assert _codes(_pipeline(steps, [_edge("a", "b")], outputs={"n": "{{ a.total }}"}))[1] == (
            Code.UNKNOWN_OUTPUT,
            "outputs.n",
        )

    def test_pipeline_outputs_may_read_any_existing_step(self):
        steps = [_pass("a"), _pass("b"), _pass("c")]
        transitions = [_edge("a", "b"), _edge("a", "c")]
        pipeline = _pipeline(steps, transitions, outputs={"x": "{{ b.x }}", "y": "{{ c }}", "z": "{{ ghost.x }}"})
        assert _codes(pipeline) == [(Code.UNKNOWN_STEP, "outputs.z")]

    def test_item_and_index_only_inside_a_map(self):
        steps = [
            _pass("a", inputs={"x": "{{ index }}"}),
            {
                "id": "m",
                "type": "map",
                "map": {
                    "items": "{{ a.list }}",
                    "step": {
                        "plugin": "p",
                        "inputs": {"v": "{{ item.v }}", "i": "{{ index }}", "up": "{{ a.list }}", "self": "{{ m.x }}"},
                    },
                },
            },
        ]
        assert _codes(_pipeline(steps, [_edge("a", "m")])) == [
            (Code.ITEM_OUTSIDE_MAP, "steps[0].inputs.x"),
            (Code.STEP_NOT_UPSTREAM, "steps[1].map.step.inputs.self"),
        ]

    def test_map_items_must_be_upstream(self):
        steps = [
            _pass("a"),
            {"id": "m", "type": "map", "map": {"items": "{{ b.list }}", "step": {"type": "pass"}}},
            _pass("b"),
        ]
        assert _codes(_pipeline(steps, [_edge("a", "m"), _edge("m", "b")])) == [
            (Code.STEP_NOT_UPSTREAM, "steps[1].map.items")
        ]

    def test_malformed_map_items_are_reported_once(self):
        steps = [{"id": "m", "type": "map", "map": {"items": "{{ 1 + 2 }}", "step": {"type": "pass"}}}]
        assert _codes(_pipeline(steps)) == [(Code.INVALID_TEMPLATE, "steps[0].map.items")]

    def test_malformed_templates(self):
        steps = [_pass("a", inputs={"x": "{{ parameters.a | upper }}", "y": "{{ steps.a.x }}"})]
        assert _codes(_pipeline(steps)) == [
            (Code.INVALID_TEMPLATE, "steps[0].inputs.x"),
            (Code.INVALID_TEMPLATE, "steps[0].inputs.y"),
        ]

    def test_unreachable_steps_are_not_also_checked_for_upstream_reads(self):
        steps = [_pass("a"), _pass("island", inputs={"x": "{{ a.y }}"})]
        assert _codes(_pipeline(steps)) == [(Code.UNREACHABLE_STEP, "steps[1]")]

    def test_config_is_not_read_for_templates(self):
        steps = [{"id": "a", "plugin": "llm", "config": {"prompt": "Hello {{ name }}"}}]
        assert validate(_pipeline(steps)) == []


class TestConditions:
    def _check(self, condition, **extra):
        steps = [_pass("a", outputs=[{"name": "score"}]), _pass("b")]
        return validate(_pipeline(steps, [_edge("a", "b", condition=condition)], **extra))

    @pytest.mark.parametrize(
        "condition",
        [
            {"type": "always"},
            {},
            {"type": "parameter", "parameter": "flag"},
            {"type": "parameter", "config": {"parameter": "flag"}},
            {"type": "expression", "config": {"source": "result.score", "operator": ">", "value": 1}},
            {"type": "expression", "config": {"source": "a.score", "value": 1}},
            {"type": "expression", "config": {"source": "{{ a.score }}", "operator": "exists"}},
            {
                "type": "expression",
                "config": {"source": "parameters.flag", "operator": "equals", "value": "{{ a.score }}"},
            },
            {"type": "cel", "expr": "result.score > 0.5 && parameters.flag"},
            {"type": "plugin", "plugin": "weather_condition"},
        ],
    )
    def test_good_conditions(self, condition):
        assert self._check(condition, parameters={"flag": True}) == []

    @pytest.mark.parametrize(
        ("condition", "code", "path", "hint"),
        [
            (
                {"config": {"x": 1}},
                Code.INCOMPLETE_CONDITION,
                "type",
                "use one of always, parameter, expression, cel, plugin",
            ),
            ({"type": "parameter"}, Code.INCOMPLETE_CONDITION, "parameter", None),
            ({"type": "parameter", "parameter": "flg"}, Code.UNKNOWN_PARAMETER, "parameter", "did you mean `flag`?"),
            ({"type": "cel"}, Code.INCOMPLETE_CONDITION, "expr", 'e.g. "result.score > 0.8"'),
            ({"type": "cel", "expr": "result.score >"}, Code.INVALID_CEL, "expr", None),
            ({"type": "plugin"}, Code.INCOMPLETE_CONDITION, "plugin", None),
            ({"type": "celx", "expr": "true"}, Code.UNKNOWN_CONDITION_TYPE, "type", "did you mean `cel`?"),
            (
                {"type": "weather"},
                Code.UNKNOWN_CONDITION_TYPE,
                "type",
                'for a condition plugin write "type": "plugin", "plugin": "weather"',
            ),
            (
                {"type": "expression", "config": {"operator": "gt", "value": 1}},
                Code.INCOMPLETE_CONDITION,
                "config.source",
                'e.g. "result.score" or "fetch.status"',
            ),
            (
                {"type": "expression", "config": {"source": "a.score", "operator": "gt"}},
                Code.INCOMPLETE_CONDITION,
                "config.value",
                None,
            ),
            (
                {"type": "expression", "config": {"source": "a.score", "operator": "grater", "value": 1}},
                Code.UNKNOWN_OPERATOR,
                "config.operator",
                "did you mean `gte`?",
            ),
            (
                {"type": "expression", "config": {"source": "a.score", "operator": 5, "value": 1}},
                Code.UNKNOWN_OPERATOR,
                "config.operator",
                None,
            ),
            (
                {"type": "expression", "config": {"source": "a.score +1", "value": 1}},
                Code.INVALID_TEMPLATE,
                "config.source",
                None,
            ),
            (
                {"type": "expression", "config": {"source": "a.scroe", "value": 1}},
                Code.UNKNOWN_OUTPUT,
                "config.source",
                "did you mean `score`?",
            ),
            (
                {"type": "expression", "config": {"source": "b.x", "value": 1}},
                Code.STEP_NOT_UPSTREAM,
                "config.source",
                None,
            ),
            (
                {"type": "expression", "config": {"source": "result.score", "value": "{{ ghost.y }}"}},
                Code.UNKNOWN_STEP,
                "config.value",
                None,
            ),
        ],
    )
    def test_bad_conditions(self, condition, code, path, hint):
        findings = self._check(condition, parameters={"flag": True})
        assert [(f.code, f.path) for f in findings] == [(code, f"flow.transitions[0].condition.{path}")]
        if hint is not None:
            assert findings[0].hint == hint

    def test_cel_errors_say_what_is_wrong(self):
        (finding,) = self._check({"type": "cel", "expr": "result.score >"})
        assert "does not compile" in finding.message


class TestErrorPolicy:
    def test_retry_rules(self):
        steps = [
            _pass(
                "a",
                retry={
                    "max_attempts": -1,
                    "initial_delay_s": -1,
                    "max_delay_s": -2,
                    "backoff_multiplier": 0.5,
                    "jitter": -0.1,
                },
            )
        ]
        assert set(_codes(_pipeline(steps))) == {
            (Code.INVALID_RETRY, "steps[0].retry.max_attempts"),
            (Code.INVALID_RETRY, "steps[0].retry.initial_delay_s"),
            (Code.INVALID_RETRY, "steps[0].retry.max_delay_s"),
            (Code.INVALID_RETRY, "steps[0].retry.backoff_multiplier"),
            (Code.INVALID_RETRY, "steps[0].retry.jitter"),
        }

    def test_a_good_retry_policy(self):
        steps = [
            _pass(
                "a",
                retry={
                    "max_attempts": 5,
                    "initial_delay_s": 0,
                    "max_delay_s": 60,
                    "backoff_multiplier": 1,
                    "jitter": 1,
                },
            )
        ]
        assert validate(_pipeline(steps)) == []

    def test_timeouts(self):
        steps = [_pass("a", timeout_s=-1), _pass("b", timeout_s=90000)]
        pipeline = _pipeline(
            steps,
            [_edge("a", "b")],
            error_handling={"timeout_s": 0, "step_timeout_s": 200000, "retry": {"max_attempts": 0}},
        )
        findings = {(f.code, f.path): f for f in validate(pipeline)}
        assert set(findings) == {
            (Code.INVALID_TIMEOUT, "steps[0].timeout_s"),
            (Code.SUSPICIOUS_UNIT, "steps[1].timeout_s"),
            (Code.INVALID_TIMEOUT, "error_handling.timeout_s"),
            (Code.SUSPICIOUS_UNIT, "error_handling.step_timeout_s"),
            (Code.INVALID_RETRY, "error_handling.retry.max_attempts"),
        }
        assert findings[(Code.SUSPICIOUS_UNIT, "steps[1].timeout_s")].severity is Severity.WARNING
        assert findings[(Code.SUSPICIOUS_UNIT, "steps[1].timeout_s")].hint.startswith("did you mean 90 seconds?")

    def test_a_long_run_timeout_is_not_suspicious(self):
        assert validate(_pipeline([_pass("a")], error_handling={"timeout_s": 7 * 86400})) == []


def test_an_empty_pipeline():
    result = load_definition({})
    assert result.ok
    assert _codes(result.pipeline) == [(Code.MISSING_NAME, "name"), (Code.NO_STEPS, "steps")]


def test_validate_never_raises_on_an_unchecked_proto():
    # A proto built in code can hold anything the wire allows.
    pipeline = _pipeline([_pass("a")])
    pipeline.steps.add(id="b", type="map")
    pipeline.flow.transitions.add(**{"from": "a", "to": "b"}).condition.type = "expression"
    findings = _codes(pipeline)
    assert (Code.MISSING_SETTING, "steps[1].map.items") in findings
    assert (Code.INCOMPLETE_CONDITION, "flow.transitions[0].condition.config.source") in findings


def test_a_long_linear_pipeline_validates_cleanly():
    count = 500
    steps = [
        _pass(f"s{i}", inputs={"prev": f"{{{{ s{i - 1}.x }}}}" if i else "{{ parameters.p }}"}) for i in range(count)
    ]
    transitions = [_edge(f"s{i}", f"s{i + 1}") for i in range(count - 1)]
    assert validate(_pipeline(steps, transitions, parameters={"p": 1})) == []
