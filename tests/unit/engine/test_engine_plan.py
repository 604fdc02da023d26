"""Compiling definitions, checking inputs, replaying a journal, and dry runs."""

import pytest
from google.protobuf import json_format
from ia.pipeline.v1 import pipeline_pb2
from ia_modules.engine import (
    PlanError,
    RunState,
    Scheduler,
    Start,
    StepFailed,
    compile_plan,
    dry_run,
    signal_from_dict,
)
from ia_modules.engine.values import from_struct, from_value, normalize, to_struct, to_value


def plug(step_id, **extra):
    return {"id": step_id, "plugin": "work", **extra}


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        ({"name": "x", "steps": []}, "steps", "at least one step"),
        ({"name": "x", "steps": [plug("a"), plug("a")]}, "steps[1].id", "duplicate"),
        ({"name": "x", "steps": [{"id": "a"}]}, "steps[0]", "a `type`, a `plugin` or a `module`"),
        ({"name": "x", "steps": [{"id": "a", "type": "teleport"}]}, "steps[0].type", "unknown step type"),
        ({"name": "x", "steps": [plug("a")], "flow": {"start_at": "b"}}, "flow.start_at", "unknown step 'b'"),
        (
            {"name": "x", "steps": [plug("a")], "flow": {"transitions": [{"from": "a", "to": "zz"}]}},
            "flow.transitions[0].to",
            "unknown step",
        ),
        (
            {
                "name": "x",
                "steps": [plug("a")],
                "flow": {"transitions": [{"from": "a", "to": "a", "condition": {"type": "cel", "expr": "1 +"}}]},
            },
            "flow.transitions[0].condition",
            "does not compile",
        ),
        (
            {
                "name": "x",
                "steps": [plug("a"), plug("b")],
                "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]},
            },
            "flow.transitions[1]",
            "unbounded",
        ),
        ({"name": "x", "steps": [plug("a", inputs={"x": "{{ a + b }}"})]}, "steps[0].inputs", "not a reference"),
        ({"name": "x", "steps": [plug("a", on_error="ghost")]}, "steps[0].on_error", "unknown step"),
        (
            {"name": "x", "steps": [plug("a")], "error_handling": {"on_error": "ghost"}},
            "error_handling.on_error",
            "unknown step",
        ),
        (
            {"name": "x", "steps": [{"id": "h", "type": "human_input", "human_input": {"on_timeout": "shrug"}}]},
            "steps[0].human_input.on_timeout",
            "fail, skip, default",
        ),
        (
            {"name": "x", "steps": [{"id": "m", "type": "map", "map": {"items": "{{ parameters.x }}"}}]},
            "steps[0].map.step",
            "needs the step",
        ),
        (
            {
                "name": "x",
                "steps": [{"id": "m", "type": "map", "map": {"items": "x", "step": {"type": "human_input"}}}],
            },
            "steps[0].map.step",
            "human_input",
        ),
        ({"name": "x", "steps": [{"id": "p", "type": "pipeline"}]}, "steps[0].pipeline.name", "names the pipeline"),
        (
            {"name": "x", "steps": [plug("a", outputs=[{"name": "o", "schema": {"type": "nonsense"}}])]},
            "steps[0].outputs[0].schema",
            "invalid JSON Schema",
        ),
    ],
)
def test_definitions_that_cannot_run_are_refused_with_paths(definition, path, message):
    with pytest.raises(PlanError) as info:
        compile_plan(definition)
    assert any(p == path and message in m for p, m in info.value.problems), info.value.problems


def test_compile_accepts_a_proto_and_normalizes_numbers():
    proto = json_format.ParseDict(
        {
            "name": "p",
            "parameters": {"n": 3},
            "steps": [{"id": "a", "type": "pass", "inputs": {"n": "{{ parameters.n }}"}}],
        },
        pipeline_pb2.Pipeline(),
    )
    plan = compile_plan(proto)
    scheduler = Scheduler(plan, "r", plan.parameters)
    scheduler.start(0)
    assert scheduler.outputs == {"n": 3} and isinstance(scheduler.outputs["n"], int)
    with pytest.raises(PlanError):
        compile_plan(42)


def test_check_inputs_reports_missing_and_mistyped_parameters_with_paths():
    plan = compile_plan(
        {
            "name": "p",
            "parameters": {"limit": 5},
            "parameter_specs": [
                {"name": "topic", "required": True, "schema": {"type": "string"}},
                {"name": "limit", "schema": {"type": "integer", "minimum": 1}},
                {"name": "opts", "schema": {"type": "object", "properties": {"depth": {"type": "integer"}}}},
                {"name": "free"},
            ],
            "steps": [plug("a")],
        }
    )
    assert plan.check_inputs({"topic": "ai"}) == []
    problems = plan.check_inputs({"limit": 0, "opts": {"depth": "deep"}, "free": 1})
    assert ("inputs.topic", "required parameter is missing") in problems
    assert any(p == "inputs.limit" and "minimum" in m for p, m in problems)
    assert any(p == "inputs.opts.depth" and "integer" in m for p, m in problems)
    assert plan.parameters_for({"topic": "x"}) == {"limit": 5, "topic": "x"}


def test_replaying_the_journal_rebuilds_the_same_run(harness):
    definition = {
        "name": "r",
        "steps": [
            plug("a", retry={"max_attempts": 3, "initial_delay_s": 1, "jitter": 0.5}),
            plug("b"),
            plug("c"),
            {"id": "d", "type": "pass"},
        ],
        "flow": {
            "transitions": [
                {"from": "a", "to": "b"},
                {"from": "a", "to": "c"},
                {"from": "b", "to": "d"},
                {"from": "c", "to": "d"},
            ]
        },
    }
    h = harness(definition, {"p": 1})
    h.start()
    h.fail("a")
    h.tick(h.scheduler.next_wakeup)
    h.succeed("a", {"x": 1})
    h.succeed("b", {"y": 2})
    replay = Scheduler(h.plan, "run-1", h.parameters)
    events = []
    for signal in h.journal:
        events.extend(replay.apply(signal_from_dict(signal.to_dict())).events)
    assert events == h.events
    assert replay.inflight() == list(h.open.values())
    assert [a.key for a in replay.inflight()] == ["run-1/c/0"]
    assert replay.next_wakeup == h.scheduler.next_wakeup


def test_signals_round_trip_through_json():
    signal = StepFailed("k", "STEP_TIMEOUT", "late", 3.5)
    assert signal_from_dict(signal.to_dict()) == signal
    assert signal_from_dict(Start(1.0).to_dict()) == Start(1.0)


def test_dry_run_reports_the_path_data_and_transitions_not_taken():
    plan = compile_plan(
        {
            "name": "d",
            "steps": [
                plug("score", inputs={"text": "{{ parameters.text }}"}),
                {"id": "good", "type": "pass", "inputs": {"s": "{{ score.value }}"}},
                {"id": "bad", "type": "pass"},
                {"id": "review", "type": "human_input", "human_input": {"default_response": {"ok": True}}},
                {"id": "each", "type": "map", "map": {"items": "{{ parameters.items }}", "step": {"plugin": "w"}}},
                {"id": "pause", "type": "wait", "wait": {"seconds": 100}},
            ],
            "flow": {
                "transitions": [
                    {
                        "from": "score",
                        "to": "good",
                        "condition": {
                            "type": "expression",
                            "config": {"source": "result.value", "operator": ">", "value": 0.8},
                        },
                    },
                    {
                        "from": "score",
                        "to": "bad",
                        "condition": {
                            "type": "expression",
                            "config": {"source": "result.value", "operator": "<=", "value": 0.8},
                        },
                    },
                    {"from": "good", "to": "review"},
                    {"from": "review", "to": "each"},
                    {"from": "each", "to": "pause"},
                ]
            },
            "outputs": {"s": "{{ good.s }}", "ok": "{{ review.ok }}", "each": "{{ each.results }}"},
        }
    )
    result = dry_run(plan, {"text": "hi", "items": [1, 2]}, {"score": {"value": 0.9}, "each": [{"r": 1}]})
    assert result.state is RunState.SUCCEEDED
    assert [(r.step_id, r.state.value) for r in result.steps] == [
        ("score", "SUCCEEDED"),
        ("good", "SUCCEEDED"),
        ("bad", "SKIPPED"),
        ("review", "SUCCEEDED"),
        ("each", "SUCCEEDED"),
        ("pause", "SUCCEEDED"),
    ]
    assert result.steps[0].input == {"text": "hi"}
    assert result.outputs == {"s": 0.9, "ok": True, "each": [{"r": 1}, {"item": 2, "index": 1}]}
    assert [(n.source, n.target, n.reason) for n in result.not_taken] == [
        ("score", "bad", "result.value <= 0.8 was false (result.value = 0.9)")
    ]


def test_dry_run_stops_with_the_error():
    plan = compile_plan({"name": "d", "steps": [plug("a", outputs=[{"name": "must", "required": True}])]})
    result = dry_run(plan, {})
    assert result.state is RunState.FAILED and result.error.kind == "OUTPUT_MISSING"


def test_values_convert_to_and_from_protobuf():
    assert normalize({"a": [1.0, 2.5, {"b": 3.0}]}) == {"a": [1, 2.5, {"b": 3}]}
    struct = to_struct({"n": 3, "s": "x", "l": [1, None]})
    assert from_struct(struct) == {"n": 3, "s": "x", "l": [1, None]}
    assert from_struct(None) == {} and from_value(to_value([1, "a"])) == [1, "a"]


def test_signals_before_start_change_nothing(harness):
    h = harness({"name": "p", "steps": [{"id": "a", "type": "pass"}]})
    assert h.tick(5).events == []
    assert h.state == "PENDING"
    h.start()
    assert h.state == "SUCCEEDED"
