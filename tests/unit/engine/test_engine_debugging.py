"""Debugged runs: breakpoints, stepping, edit and continue, mocks, and recorded conditions."""

from ia_modules.engine import (
    Resume,
    RunStateChanged,
    Scheduler,
    Start,
    StepInputEdited,
    check_debugging,
    compile_plan,
    signal_from_dict,
)


def plug(step_id, **extra):
    return {"id": step_id, "plugin": "work", **extra}


def chain():
    return {
        "name": "chain",
        "parameters": {"n": {"type": "integer", "default": 1}},
        "steps": [
            plug("a", inputs={"n": "{{ parameters.n }}"}),
            plug("b", inputs={"n": "{{ a.n }}", "label": "b"}),
            plug("c", inputs={"n": "{{ b.n }}"}),
        ],
        "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]},
        "outputs": {"n": "{{ c.n }}"},
    }


def branching():
    low = {"source": "result.score", "operator": "lte", "value": 0.8}
    return {
        "name": "branch",
        "steps": [plug("score"), plug("high"), plug("low")],
        "flow": {
            "transitions": [
                {"from": "score", "to": "high", "condition": {"expr": "result.score > 0.8"}},
                {"from": "score", "to": "low", "condition": {"type": "expression", "config": low}},
            ]
        },
    }


def start(h, breakpoints=(), mocks=None):
    return h.apply(Start(h.now, tuple(breakpoints), mocks or {}))


def states(h):
    return [e.state.value for e in h.event(RunStateChanged)]


def test_a_breakpoint_pauses_before_the_step_with_its_inputs_resolved(harness):
    h = harness(chain(), {"n": 5})
    start(h, [("b", "")])
    h.succeed("a", {"n": 6})
    assert h.state == "PAUSED" and "b" not in {a.step_id for a in h.open.values()}
    (paused,) = h.scheduler.paused()
    assert (paused.step_id, paused.iteration, paused.input) == ("b", 0, {"n": 6, "label": "b"})
    assert paused.reason == "breakpoint"
    assert h.transitions("b") == [("PENDING", 0)]

    h.apply(Resume(h.now))
    assert h.state == "RUNNING" and h.open[h.key("b")].input == {"n": 6, "label": "b"}
    h.finish_all()
    assert h.state == "SUCCEEDED" and states(h) == ["RUNNING", "PAUSED", "RUNNING", "SUCCEEDED"]


def test_a_conditional_breakpoint_pauses_only_when_its_condition_holds(harness):
    h = harness(chain(), {"n": 1})
    start(h, [("b", "input.n > 10")])
    h.succeed("a", {"n": 2})
    assert h.state == "RUNNING" and h.key("b")

    h = harness(chain(), {"n": 1})
    start(h, [("b", "input.n > 10")])
    h.succeed("a", {"n": 11})
    assert h.state == "PAUSED" and h.scheduler.paused()[0].reason == "breakpoint (input.n > 10)"


def test_a_breakpoint_condition_that_fails_pauses_and_says_why(harness):
    h = harness(chain())
    start(h, [("a", "input.missing > 1")])
    assert h.state == "PAUSED"
    assert h.scheduler.paused()[0].reason.startswith("breakpoint (its condition failed:")


def test_step_runs_exactly_one_step_then_pauses_before_the_next(harness):
    h = harness(chain(), {"n": 1})
    start(h, [("a", "")])
    h.apply(Resume(h.now, step=True))
    assert [a.step_id for a in h.open.values()] == ["a"] and h.state == "RUNNING"
    h.succeed("a", {"n": 1})
    assert h.state == "PAUSED" and [p.step_id for p in h.scheduler.paused()] == ["b"] and not h.open
    h.apply(Resume(h.now, step=True))
    h.succeed("b", {"n": 1})
    assert [p.step_id for p in h.scheduler.paused()] == ["c"]
    h.apply(Resume(h.now))
    h.finish_all()
    assert h.state == "SUCCEEDED" and h.ran() == ["a", "b", "c"]


def test_edit_and_continue_changes_the_input_and_records_it(harness):
    h = harness(chain(), {"n": 1})
    start(h, [("b", "")])
    h.succeed("a", {"n": 1})
    h.apply(Resume(h.now, inputs={"n": 42}))
    (edited,) = h.event(StepInputEdited)
    assert (edited.step_id, edited.input, edited.fields) == ("b", {"n": 42, "label": "b"}, ("n",))
    assert h.open[h.key("b")].input == {"n": 42, "label": "b"}
    h.finish_all()
    assert h.scheduler.outputs == {"n": 42}


def test_resume_of_a_run_that_is_not_paused_or_of_another_step_changes_nothing(harness):
    h = harness(chain())
    start(h, [("b", "")])
    assert not h.apply(Resume(h.now)).events
    h.succeed("a", {"n": 1})
    assert not h.apply(Resume(h.now, step_id="c", inputs={"n": 2})).events
    assert h.state == "PAUSED"


def test_a_mocked_step_completes_with_its_mock_and_is_never_dispatched(harness):
    h = harness(chain(), {"n": 1})
    start(h, mocks={"b": {"n": 99}})
    h.succeed("a", {"n": 1})
    assert [a.step_id for a in h.open.values()] == ["c"]
    assert h.open[h.key("c")].input == {"n": 99}
    assert h.transitions("b") == [("RUNNING", 1), ("SUCCEEDED", 1)]
    h.finish_all()
    assert h.ran() == ["a", "b", "c"] and h.scheduler.outputs == {"n": 99}


def test_a_mocked_human_input_step_opens_no_task(harness):
    definition = {
        "name": "review",
        "steps": [{"id": "ask", "type": "human_input", "human_input": {"prompt": "ok?"}}],
    }
    h = harness(definition)
    start(h, mocks={"ask": True})
    assert not h.scheduler.open_tasks() and h.state == "SUCCEEDED" and h.output("ask") == {"value": True}


def test_conditions_are_recorded_with_the_values_they_read(harness):
    h = harness(branching())
    start(h, [("high", "")])
    h.succeed("score", {"score": 0.4})
    records = {(c.source, c.target): c for c in h.scheduler.conditions}
    high = records[("score", "high")]
    assert (high.fired, high.condition, high.reason) == (False, "result.score > 0.8", "result.score > 0.8 was false")
    assert high.values == {"result": {"score": 0.4}}
    low = records[("score", "low")]
    assert low.fired and low.values == {"result.score": 0.4}
    assert h.step_states("high") == ["SKIPPED"] and h.state == "RUNNING"


def test_a_run_without_debugging_keeps_no_conditions(harness):
    h = harness(branching())
    h.start()
    h.succeed("score", {"score": 0.9})
    assert h.scheduler.conditions is None


def test_cancelling_a_paused_run_cancels_the_held_step(harness):
    h = harness(chain())
    start(h, [("a", "")])
    h.cancel()
    assert h.state == "CANCELLED" and h.transitions("a") == [("PENDING", 0), ("CANCELLED", 0)]
    assert h.scheduler.paused() == []


def test_a_replayed_journal_pauses_in_the_same_place(harness):
    h = harness(chain(), {"n": 3})
    start(h, [("b", ""), ("c", "")], mocks={"a": {"n": 7}})
    h.apply(Resume(h.now, inputs={"n": 8}))
    h.succeed("b", {"n": 8})
    replayed = Scheduler(h.plan, "run-1", h.parameters)
    for signal in h.journal:
        replayed.apply(signal_from_dict(signal.to_dict()))
    assert replayed.state.value == "PAUSED" and replayed.paused() == h.scheduler.paused()
    assert replayed.step_outputs() == {"a": {"n": 7}, "b": {"n": 8}}


def test_start_journals_its_debug_fields_only_when_set():
    assert Start(1.0).to_dict() == {"signal": "start", "now": 1.0}
    signal = Start(1.0, (("b", "input.n > 1"),), {"a": {"n": 1}})
    assert signal_from_dict(signal.to_dict()) == signal


def test_check_debugging_names_unknown_steps_and_bad_conditions():
    plan = compile_plan(chain())
    problems = check_debugging(plan, [("a", ""), ("nope", ""), ("b", "input.n >")], {"ghost": {}})
    fields = [field for field, _ in problems]
    assert fields == ["breakpoints[1].step_id", "breakpoints[2].condition", "mocks.ghost"]
    assert "no step 'nope' in pipeline 'chain'; its steps: a, b, c" in problems[0][1]


def fan_out():
    return {
        "name": "fan",
        "steps": [plug("s"), plug("x", outputs=[{"name": "x", "required": True}]), plug("y"), plug("join")],
        "flow": {
            "transitions": [
                {"from": "s", "to": "x"},
                {"from": "s", "to": "y"},
                {"from": "x", "to": "join"},
                {"from": "y", "to": "join"},
            ]
        },
    }


def test_stepping_one_of_two_paused_branches_keeps_the_other_held(harness):
    h = harness(fan_out())
    start(h, [("x", ""), ("y", "")])
    h.succeed("s", {})
    assert h.state == "PAUSED" and [p.step_id for p in h.scheduler.paused()] == ["x", "y"]
    h.apply(Resume(h.now, step=True, step_id="y"))
    assert h.state == "RUNNING" and [p.step_id for p in h.scheduler.paused()] == ["x"]
    h.succeed("y", {})
    assert h.state == "PAUSED" and not h.open
    h.apply(Resume(h.now))
    h.finish_all({"x": {"x": 1}})
    assert h.state == "SUCCEEDED" and h.ran() == ["s", "x", "y", "join"]


def test_a_released_step_that_fails_the_run_releases_no_other(harness):
    h = harness(fan_out())
    start(h, [("x", ""), ("y", "")], mocks={"x": {"not x": 1}})
    h.succeed("s", {})
    h.apply(Resume(h.now))
    assert h.state == "FAILED" and h.scheduler.error.kind == "OUTPUT_MISSING"
    assert not h.open and h.transitions("y") == [("PENDING", 0), ("CANCELLED", 0)]
