"""Transitions guarded by a condition plugin: the engine asks, the executor answers."""

from __future__ import annotations

from ia_modules.engine import (
    ConditionEvaluated,
    EvaluateCondition,
    ExecuteStep,
    Scheduler,
    StepFailed,
    StepLog,
    compile_plan,
    dry_run,
    signal_from_dict,
)

THRESHOLD = {"type": "plugin", "plugin": "threshold_condition", "config": {"field": "score", "operator": ">="}}


def if_else(condition=THRESHOLD, **pipeline):
    steps = [
        {"id": "score", "plugin": "work"},
        {"id": "high", "type": "pass", "config": {"values": {"branch": "high"}}},
        {"id": "low", "type": "pass", "config": {"values": {"branch": "low"}}},
        {"id": "join", "type": "pass"},
    ]
    transitions = [
        {"from": "score", "to": "high", "condition": condition},
        {"from": "score", "to": "low", "condition": {"type": "cel", "expr": "result.score < 5"}},
        {"from": "high", "to": "join"},
        {"from": "low", "to": "join"},
    ]
    return {"name": "g", "steps": steps, "flow": {"transitions": transitions}, **pipeline}


def asked(h) -> EvaluateCondition:
    (action,) = [a for a in h.open.values() if isinstance(a, EvaluateCondition)]
    return action


def answer(h, fired: bool, reason: str = "the plugin said so"):
    action = asked(h)
    h.open.pop(action.key)
    return h.apply(ConditionEvaluated(action.key, fired, reason, h.now))


def test_the_engine_asks_for_the_verdict_with_the_source_output_and_the_plugin_config(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})

    action = asked(h)
    assert (action.key, action.step_id, action.iteration, action.target) == (
        "run-1/score/0/condition/0",
        "score",
        0,
        "high",
    )
    assert (action.plugin, action.config, action.input) == ("threshold_condition", THRESHOLD["config"], {"score": 7})
    # The other branch is decided already; the join waits for the plugin.
    assert h.step_states("low") == ["SKIPPED"]
    assert h.state == "RUNNING"


def test_a_fired_plugin_condition_takes_its_branch_and_the_join_runs_once(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})
    answer(h, True, "score 7 >= 5")

    assert h.state == "SUCCEEDED"
    assert h.output("join")["branch"] == "high"
    assert h.step_states("join") == ["SUCCEEDED"]
    assert any("fires (score 7 >= 5)" in log.message for log in h.event(StepLog))


def test_a_plugin_condition_that_does_not_fire_skips_its_branch_with_the_reason(harness):
    h = harness(if_else(), record_transitions=True)
    h.start()
    h.succeed("score", {"score": 7})
    answer(h, False, "score 7 < 10")

    assert h.state == "SUCCEEDED"
    assert h.step_states("high") == ["SKIPPED"] and h.step_states("join") == ["SKIPPED"]
    assert ("score", "high", "score 7 < 10") in [(n.source, n.target, n.reason) for n in h.scheduler.not_taken]


def test_a_failed_plugin_condition_fails_the_run_with_condition_error(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})
    action = asked(h)
    h.apply(StepFailed(action.key, "PLUGIN_UNAVAILABLE", "host down", h.now))

    assert h.state == "FAILED"
    error = h.scheduler.error
    assert (error.kind, error.step_id) == ("CONDITION_ERROR", "score")
    assert "score -> high" in error.message and "threshold_condition" in error.message
    assert error.message.endswith("failed: PLUGIN_UNAVAILABLE: host down")


def test_cancelling_while_a_condition_is_asked_cancels_the_question(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})
    key = asked(h).key
    h.cancel()

    assert h.state == "CANCELLED"
    assert key in h.cancelled
    # A late answer changes nothing.
    assert h.scheduler.apply(ConditionEvaluated(key, True, "late", h.now)).events == []


def test_a_step_result_for_a_condition_key_is_ignored(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})
    action = asked(h)
    h.apply(signal_from_dict({"signal": "step_succeeded", "key": action.key, "output": {}, "now": 0.0}))

    assert h.state == "RUNNING" and asked(h).key == action.key


def test_replaying_the_journal_decides_the_same_way_and_resumes_the_question(harness):
    h = harness(if_else())
    h.start()
    h.succeed("score", {"score": 7})
    key = asked(h).key

    replayed = Scheduler(h.plan, "run-1", h.parameters)
    for signal in h.journal:
        replayed.apply(signal_from_dict(signal.to_dict()))
    (inflight,) = replayed.inflight()
    assert isinstance(inflight, EvaluateCondition) and inflight.key == key

    verdict = ConditionEvaluated(key, True, "held", h.now)
    assert signal_from_dict(verdict.to_dict()) == verdict
    replayed.apply(verdict)
    assert replayed.state.value == "SUCCEEDED"
    assert replayed.outputs["branch"] == "high"


def test_a_plugin_condition_on_a_loop_back_edge_fails_the_run_clearly(harness):
    steps = [{"id": "a", "plugin": "work"}, {"id": "b", "type": "pass"}]
    transitions = [{"from": "a", "to": "b"}, {"from": "b", "to": "a", "condition": THRESHOLD, "max_iterations": 2}]
    h = harness({"name": "g", "steps": steps, "flow": {"transitions": transitions}})
    h.start()
    h.succeed("a", {"score": 1})

    assert h.state == "FAILED"
    assert h.scheduler.error.kind == "CONDITION_ERROR"
    assert "not on a loop's back edge" in h.scheduler.error.message


def test_a_dry_run_takes_plugin_conditions():
    result = dry_run(compile_plan(if_else()), {}, {"score": {"score": 7}})

    assert result.state.value == "SUCCEEDED"
    assert result.outputs["branch"] == "high"
    assert [s.step_id for s in result.steps if s.state.value == "SKIPPED"] == ["low"]


def test_a_step_then_its_plugin_condition_are_separate_pieces_of_work(harness):
    h = harness(if_else())
    h.start()
    assert [type(a) for a in h.open.values()] == [ExecuteStep]
    h.succeed("score", {"score": 1})
    assert [type(a) for a in h.open.values()] == [EvaluateCondition]
