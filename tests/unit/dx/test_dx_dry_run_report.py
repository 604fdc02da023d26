"""The local dry run: the path taken, what was not taken and why (with values), inputs checked."""

from __future__ import annotations

import pytest
from dx_support import load

from ia_modules.dry_run_report import InputProblems, dry_run_report
from ia_modules.engine import PlanError


def _path(document):
    return [(s["id"], s["iteration"], s["state"]) for s in document["steps"]]


IF_ELSE = {
    "name": "orders",
    "parameters": {"threshold": 100},
    "parameter_specs": [{"name": "amount", "required": True, "schema": {"type": "number"}}],
    "steps": [
        {"id": "check", "type": "pass", "inputs": {"amount": "{{ parameters.amount }}"}},
        {"id": "review", "type": "pass", "config": {"values": {"decision": "review"}}},
        {"id": "approve", "type": "pass", "config": {"values": {"decision": "approve"}}},
        {"id": "report", "type": "pass"},
    ],
    "flow": {
        "transitions": [
            {
                "from": "check",
                "to": "review",
                "condition": {
                    "type": "expression",
                    "config": {"source": "result.amount", "operator": "gte", "value": "{{ parameters.threshold }}"},
                },
            },
            {
                "from": "check",
                "to": "approve",
                "condition": {"type": "cel", "expr": "result.amount < parameters.threshold"},
            },
            {"from": "review", "to": "report"},
            {"from": "approve", "to": "report"},
        ]
    },
    "outputs": {"decision": "{{ report.decision }}"},
}


def test_if_else_takes_one_branch_and_says_why_the_other_was_not_taken():
    document = dry_run_report(load(IF_ELSE), {"amount": 250})
    assert document["state"] == "SUCCEEDED"
    assert _path(document) == [
        ("check", 0, "SUCCEEDED"),
        ("review", 0, "SUCCEEDED"),
        ("approve", 0, "SKIPPED"),
        ("report", 0, "SUCCEEDED"),
    ]
    assert document["not_taken"] == [
        {
            "from": "check",
            "to": "approve",
            "reason": "result.amount < parameters.threshold was false",
            "values": {"result.amount": 250, "parameters.threshold": 100},
        },
        {"from": "approve", "to": "report", "reason": "approve was skipped", "values": {}},
    ]
    assert document["outputs"] == {"decision": "review"}
    assert document["error"] is None and document["notes"] == []


def test_the_other_branch_shows_the_resolved_template_value():
    document = dry_run_report(load(IF_ELSE), {"amount": 5, "threshold": 10})
    assert _path(document)[1:3] == [("review", 0, "SKIPPED"), ("approve", 0, "SUCCEEDED")]
    first = document["not_taken"][0]
    assert first["reason"] == 'result.amount >= "{{ parameters.threshold }}" was false (result.amount = 5)'
    assert first["values"] == {"result.amount": 5, "parameters.threshold": 10}


def test_a_loop_runs_each_iteration_and_stops_at_its_bound():
    definition = {
        "name": "poll",
        "steps": [
            {"id": "poll", "type": "pass", "outputs": [{"name": "done"}]},
            {"id": "pause", "type": "wait", "wait": {"seconds": 60}},
            {"id": "finish", "type": "pass"},
        ],
        "flow": {
            "transitions": [
                {"from": "poll", "to": "pause", "condition": {"type": "cel", "expr": "!result.done"}},
                {"from": "pause", "to": "poll", "max_iterations": 2},
                {"from": "poll", "to": "finish", "condition": {"type": "parameter", "parameter": "done"}},
            ]
        },
        "parameters": {"done": False},
    }
    document = dry_run_report(load(definition), {}, {"poll": {"done": False}})
    assert [(s, i) for s, i, state in _path(document) if s == "poll"] == [("poll", 0), ("poll", 1), ("poll", 2)]
    assert document["state"] == "SUCCEEDED"
    reasons = {(n["from"], n["to"]): n for n in document["not_taken"]}
    assert reasons[("pause", "poll")]["reason"] == "its max_iterations (2) was reached"
    assert reasons[("poll", "finish")]["values"] == {"parameters.done": False}


def test_parallel_branches_both_run_before_the_join():
    definition = {
        "name": "fan",
        "steps": [
            {"id": "start", "type": "pass"},
            {"id": "left", "type": "pass", "config": {"values": {"l": 1}}},
            {"id": "right", "type": "pass", "config": {"values": {"r": 2}}},
            {"id": "join", "type": "pass", "inputs": {"l": "{{ left.l }}", "r": "{{ right.r }}"}},
        ],
        "flow": {
            "transitions": [
                {"from": "start", "to": "left"},
                {"from": "start", "to": "right"},
                {"from": "left", "to": "join"},
                {"from": "right", "to": "join"},
            ]
        },
    }
    document = dry_run_report(load(definition), {})
    assert [s for s, _i, _state in _path(document)][-1] == "join"
    assert {s for s, _i, _state in _path(document)[1:3]} == {"left", "right"}
    assert document["steps"][-1]["input"] == {"l": 1, "r": 2}
    assert document["not_taken"] == []


def test_a_required_parameter_missing_from_the_inputs_is_refused():
    with pytest.raises(InputProblems) as raised:
        dry_run_report(load(IF_ELSE), {})
    assert raised.value.problems == [("inputs.amount", "required parameter is missing")]
    with pytest.raises(InputProblems, match="inputs.amount: 'many' is not of type 'number'"):
        dry_run_report(load(IF_ELSE), {"amount": "many"})


def test_a_failing_step_and_unknown_mocks_are_reported():
    definition = {
        "name": "fails",
        "steps": [{"id": "fetch", "plugin": "http", "outputs": [{"name": "status", "required": True}]}],
    }
    document = dry_run_report(load(definition), {}, {"fetc": {"status": 1}})
    assert document["state"] == "FAILED"
    assert document["error"]["kind"] == "OUTPUT_MISSING"
    assert document["notes"] == ["the mocks name step `fetc`, which the pipeline does not have (did you mean `fetch`?)"]


def test_a_pipeline_that_cannot_run_raises_plan_error():
    with pytest.raises(PlanError):
        steps, flow = [{"id": "a", "type": "pass"}], {"transitions": [{"from": "a", "to": "a"}]}
        dry_run_report(load({"name": "loop", "steps": steps, "flow": flow}), {})
