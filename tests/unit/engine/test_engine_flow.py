"""Graph semantics: routing, fan-out and join, dead-path elimination, loops."""

import pytest
from ia_modules.engine import ExecuteStep, RunOutputs, RunState, StepLog


def plug(step_id, **extra):
    return {"id": step_id, "plugin": "work", **extra}


def passing(step_id, **values):
    return {"id": step_id, "type": "pass", "config": {"values": values}}


def graph(steps, edges, **pipeline):
    transitions = []
    for edge in edges:
        source, target, *rest = edge
        transition = {"from": source, "to": target}
        if rest:
            transition["condition"] = rest[0]
        transitions.append(transition)
    return {"name": "g", "steps": steps, "flow": {"transitions": transitions}, **pipeline}


def test_linear_pass_steps_run_in_order_and_outputs_make_the_result(harness, pipeline):
    h = harness(
        pipeline(
            passing("a", x=1),
            {"id": "b", "type": "pass", "inputs": {"y": "{{ a.x }}", "topic": "{{ parameters.topic }}"}},
            outputs={"y": "{{ b.y }}", "text": "topic={{ steps.b.output.topic }}"},
        ),
        {"topic": "ai"},
    )
    h.start()
    assert h.state == "SUCCEEDED"
    assert h.ran() == ["a", "b"]
    assert h.scheduler.outputs == {"y": 1, "text": "topic=ai"}
    assert h.event(RunOutputs)[0].outputs == {"y": 1, "text": "topic=ai"}
    assert h.transitions("a") == [("RUNNING", 1), ("SUCCEEDED", 1)]


def test_missing_inputs_give_the_previous_output_merged_over_the_parameters(harness, pipeline):
    h = harness(pipeline(plug("a"), plug("b")), {"topic": "ai", "n": 2})
    h.start()
    assert h.open[h.key("a")].input == {"topic": "ai", "n": 2}
    h.succeed("a", {"x": 1, "topic": "override"})
    assert h.open[h.key("b")].input == {"topic": "override", "n": 2, "x": 1}
    assert h.key("b") == "run-1/b/0"


def test_without_outputs_the_result_is_the_last_output(harness, pipeline):
    h = harness(pipeline(passing("a", x=1), passing("b", y=2)))
    h.start()
    assert h.scheduler.outputs == {"x": 1, "y": 2}


def test_fan_out_runs_branches_together_and_join_waits_for_all(harness):
    h = harness(graph([plug("a"), plug("b"), plug("c"), plug("d")], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    h.start()
    h.succeed("a", {"v": 1})
    assert sorted(a.step_id for a in h.batches[-1]) == ["b", "c"]
    h.succeed("b", {"b": 1})
    assert "d" not in [a.step_id for a in h.open.values()]
    h.succeed("c", {"c": 2})
    assert h.open[h.key("d")].input == {"b": 1, "c": 2}
    h.succeed("d")
    assert h.state == "SUCCEEDED"
    assert h.ran().count("d") == 1


@pytest.mark.parametrize("flag, taken, skipped", [(True, "yes", "no"), (False, "no", "yes")])
def test_if_else_join_runs_once_and_the_branch_not_taken_is_skipped(harness, flag, taken, skipped):
    h = harness(
        graph(
            [passing("a"), passing("yes", branch="yes"), passing("no", branch="no"), passing("join")],
            [
                ("a", "yes", "parameter:flag"),
                ("a", "no", {"type": "cel", "expr": "!parameters.flag"}),
                ("yes", "join"),
                ("no", "join"),
            ],
        ),
        {"flag": flag},
    )
    h.start()
    assert h.state == "SUCCEEDED"
    assert h.step_states("join") == ["SUCCEEDED"]
    assert h.step_states(skipped) == ["SKIPPED"]
    assert h.output("join")["branch"] == taken
    skip = [e for e in h.transitions(skipped)]
    assert skip == [("SKIPPED", 0)]


def test_skips_propagate_down_a_dead_branch(harness):
    h = harness(
        graph(
            [passing("a"), passing("b"), passing("b2"), passing("c"), passing("end")],
            [("a", "b", "parameter:never"), ("b", "b2"), ("a", "c"), ("b2", "end"), ("c", "end")],
        )
    )
    h.start()
    assert h.step_states("b") == ["SKIPPED"] and h.step_states("b2") == ["SKIPPED"]
    assert h.step_states("end") == ["SUCCEEDED"]
    reason = [e.reason for e in h.events if getattr(e, "step_id", "") == "b2" and e.state.value == "SKIPPED"][0]
    assert "b -> b2: b was skipped" in reason


def test_nested_parallel_branches_join_at_each_level(harness):
    steps = [plug(s) for s in ("a", "b", "b1", "b2", "bj", "c", "j")]
    edges = [("a", "b"), ("a", "c"), ("b", "b1"), ("b", "b2"), ("b1", "bj"), ("b2", "bj"), ("bj", "j"), ("c", "j")]
    h = harness(graph(steps, edges))
    h.start()
    h.succeed("a")
    h.succeed("b")
    assert {a.step_id for a in h.open.values()} == {"c", "b1", "b2"}
    h.succeed("b1")
    h.succeed("c")
    assert "j" not in {a.step_id for a in h.open.values()}
    h.succeed("b2")
    h.succeed("bj")
    h.succeed("j")
    assert h.state == "SUCCEEDED"
    assert sorted(h.ran()) == sorted(["a", "b", "b1", "b2", "bj", "c", "j"])


@pytest.mark.parametrize(
    ("condition", "output", "fires"),
    [
        ("always", {}, True),
        ({"type": "always"}, {}, True),
        ("parameter:on", {}, True),
        ("parameter:off", {}, False),
        (
            {"type": "expression", "config": {"source": "result.score", "operator": ">", "value": 0.5}},
            {"score": 0.9},
            True,
        ),
        (
            {"type": "expression", "config": {"source": "a.score", "operator": "lt", "value": 0.5}},
            {"score": 0.9},
            False,
        ),
        (
            {"type": "expression", "config": {"source": "result.tags", "operator": "contains", "value": "x"}},
            {"tags": ["x"]},
            True,
        ),
        (
            {"type": "expression", "config": {"source": "result.name", "operator": "matches", "value": "^ab+$"}},
            {"name": "abb"},
            True,
        ),
        (
            {
                "type": "expression",
                "config": {"source": "result.level", "operator": "in", "value": "{{ parameters.levels }}"},
            },
            {"level": "hi"},
            True,
        ),
        (
            {"type": "cel", "expr": "result.score > 0.5 && steps.a.score < 1.0 && run.pipeline == 'g'"},
            {"score": 0.9},
            True,
        ),
        ({"type": "cel", "expr": "size(result.tags) > 3"}, {"tags": []}, False),
    ],
)
def test_each_condition_form_routes(harness, condition, output, fires):
    h = harness(
        graph([plug("a"), passing("b")], [("a", "b", condition)]), {"on": True, "off": False, "levels": ["hi", "lo"]}
    )
    h.start()
    h.succeed("a", output)
    assert h.step_states("b") == (["SUCCEEDED"] if fires else ["SKIPPED"])


def test_cel_runtime_error_fails_the_run_naming_the_expression_and_step(harness):
    h = harness(graph([plug("score"), passing("b")], [("score", "b", {"type": "cel", "expr": "result.missing > 1"})]))
    h.start()
    h.succeed("score", {"value": 1})
    assert h.state == "FAILED"
    error = h.scheduler.error
    assert error.kind == "CEL_ERROR"
    assert error.step_id == "score"
    assert "result.missing > 1" in error.message and "'score'" in error.message


def test_expression_condition_error_fails_the_run(harness):
    condition = {"type": "expression", "config": {"source": "result.v", "operator": ">", "value": 1}}
    h = harness(graph([plug("a"), passing("b")], [("a", "b", condition)]))
    h.start()
    h.succeed("a", {"v": ["not", "a", "number"]})
    assert h.state == "FAILED" and h.scheduler.error.kind == "CONDITION_ERROR"


def loop(max_iterations=0, loop_config=None, exit_condition=None):
    back = {"from": "check", "to": "work", "condition": {"type": "cel", "expr": "result.again"}}
    if max_iterations:
        back["max_iterations"] = max_iterations
    transitions = [{"from": "work", "to": "check"}, back]
    transitions.append({"from": "check", "to": "done", **({"condition": exit_condition} if exit_condition else {})})
    definition = {
        "name": "loop",
        "steps": [plug("work"), plug("check"), passing("done", finished=True)],
        "flow": {"transitions": transitions},
    }
    if loop_config:
        definition["loop_config"] = loop_config
    return definition


def go_round(h, times, again=True):
    for _ in range(times):
        h.succeed("work")
        h.succeed("check", {"again": again})


def test_loop_runs_each_iteration_and_records_it(harness):
    h = harness(loop(max_iterations=5))
    h.start()
    go_round(h, 2)
    h.succeed("work")
    h.succeed("check", {"again": False})
    assert h.state == "SUCCEEDED"
    assert h.step_states("work") == ["SUCCEEDED"] * 3
    assert [r.iteration for r in h.scheduler.step_runs if r.step_id == "check"] == [0, 1, 2]
    assert h.step_states("done") == ["SUCCEEDED"]
    assert any("iteration 2 of work" in log.message for log in h.event(StepLog))


def test_loop_stops_at_the_transitions_max_iterations_and_exits(harness):
    h = harness(loop(max_iterations=2))
    h.start()
    go_round(h, 3)
    assert h.state == "SUCCEEDED"
    assert h.step_states("work") == ["SUCCEEDED"] * 3
    assert h.step_states("done") == ["SUCCEEDED"]
    assert any("max_iterations (2) was reached" in log.message for log in h.event(StepLog))


def test_loop_config_max_iterations_fails_the_run_with_a_clear_reason(harness):
    h = harness(loop(loop_config={"max_iterations": 3}))
    h.start()
    go_round(h, 3)
    assert h.state == "FAILED"
    assert h.scheduler.error.kind == "LOOP_LIMIT_EXCEEDED"
    assert "loop_config.max_iterations is 3" in h.scheduler.error.message
    assert h.step_states("work") == ["SUCCEEDED"] * 3


def test_loop_time_limit_fails_the_run(harness):
    h = harness(loop(loop_config={"max_loop_time_seconds": 10}))
    h.start()
    go_round(h, 1)
    h.now = 11
    go_round(h, 1)
    assert h.state == "FAILED"
    assert "max_loop_time_seconds (10s)" in h.scheduler.error.message


def test_loop_input_is_the_output_of_the_step_that_looped_back(harness):
    h = harness(loop(max_iterations=3))
    h.start()
    h.succeed("work", {"n": 1})
    h.succeed("check", {"again": True, "n": 2})
    assert h.open[h.key("work")].input["n"] == 2
    assert h.open[h.key("work")].key == "run-1/work/1"


def test_steps_ready_together_come_in_one_decision(harness):
    h = harness(graph([passing("a"), plug("b"), plug("c"), plug("d")], [("a", "b"), ("a", "c"), ("a", "d")]))
    decision = h.start()
    assert sorted(a.step_id for a in decision.actions if isinstance(a, ExecuteStep)) == ["b", "c", "d"]
    assert h.scheduler.state is RunState.RUNNING


def test_on_error_route_back_to_an_earlier_step_is_a_bounded_loop(harness):
    h = harness(
        {
            "name": "again",
            "steps": [{"id": "prepare", "type": "pass"}, plug("fetch", on_error="prepare")],
            "flow": {"transitions": [{"from": "prepare", "to": "fetch"}]},
            "loop_config": {"max_iterations": 3},
        },
        {"url": "u"},
    )
    h.start()
    h.fail("fetch", message="first")
    assert h.output("prepare") == {"url": "u", "error": {"kind": "STEP_ERROR", "message": "first", "step_id": "fetch"}}
    h.fail("fetch", message="second")
    h.succeed("fetch", {"ok": True})
    assert h.state == "SUCCEEDED"
    assert h.step_states("fetch") == ["FAILED", "FAILED", "SUCCEEDED"]
    assert h.step_states("prepare") == ["SUCCEEDED"] * 3


def test_on_error_loop_fails_at_loop_config_max_iterations(harness):
    h = harness(
        {
            "name": "again",
            "steps": [{"id": "prepare", "type": "pass"}, plug("fetch", on_error="prepare")],
            "flow": {"transitions": [{"from": "prepare", "to": "fetch"}]},
            "loop_config": {"max_iterations": 2},
        }
    )
    h.start()
    h.fail("fetch")
    h.fail("fetch")
    assert h.state == "FAILED" and h.scheduler.error.kind == "LOOP_LIMIT_EXCEEDED"


def test_a_branch_still_running_when_the_loop_goes_round_runs_again_after_it_ends(harness):
    h = harness(
        graph(
            [passing("top"), plug("side"), plug("check")],
            [("top", "side"), ("top", "check"), ("check", "top", {"type": "cel", "expr": "result.again"})],
            loop_config={"max_iterations": 5},
        )
    )
    h.start()
    h.succeed("check", {"again": True})
    assert h.step_states("top") == ["SUCCEEDED", "SUCCEEDED"]
    assert [a.key for a in h.open.values()] == ["run-1/side/0", "run-1/check/1"]
    h.succeed("side")
    assert "run-1/side/1" in h.open
    h.succeed("check", {"again": False})
    h.succeed("side")
    assert h.state == "SUCCEEDED"
    assert h.step_states("side") == ["SUCCEEDED", "SUCCEEDED"]


def test_cel_can_read_the_error_of_a_handler_route_and_unknown_variables_fail(harness):
    h = harness(
        graph(
            [plug("a", on_error="handle"), passing("handle"), passing("after")],
            [("handle", "after", {"type": "cel", "expr": "steps.handle.error.kind == 'STEP_ERROR'"})],
        )
    )
    h.start()
    h.fail("a")
    assert h.step_states("after") == ["SUCCEEDED"]
    h = harness(graph([plug("a"), passing("b")], [("a", "b", {"type": "cel", "expr": "item > 1"})]))
    h.start()
    h.succeed("a")
    assert h.scheduler.error.kind == "CEL_ERROR" and "item > 1" in h.scheduler.error.message
