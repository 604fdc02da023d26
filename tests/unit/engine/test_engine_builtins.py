"""Built-in step types: wait, map, pipeline (child runs) and human_input."""

from ia_modules.engine import InputRequested, RunStateChanged, StartChildRun, StartTimer, StepLog, TaskClosed


def plug(step_id, **extra):
    return {"id": step_id, "plugin": "work", **extra}


def test_wait_step_is_a_timer_whose_output_is_its_input(harness, pipeline):
    h = harness(pipeline({"id": "pause", "type": "wait", "wait": {"seconds": 30}, "inputs": {"x": 1}}))
    h.now = 10
    decision = h.start()
    timer = decision.actions[0]
    assert isinstance(timer, StartTimer) and timer.until == 40 and timer.key == "run-1/pause/0"
    h.succeed("pause", {"ignored": True})
    assert h.output("pause") == {"x": 1} and h.state == "SUCCEEDED"


def mapping(inner, max_concurrency=0, **extra):
    return {
        "id": "each",
        "type": "map",
        "map": {"items": "{{ parameters.items }}", "step": inner, "max_concurrency": max_concurrency},
        **extra,
    }


def test_map_respects_the_concurrency_limit_and_keeps_results_in_order(harness, pipeline):
    inner = {"plugin": "work", "inputs": {"n": "{{ item }}", "i": "{{ index }}"}}
    h = harness(pipeline(mapping(inner, max_concurrency=2)), {"items": [10, 20, 30, 40, 50]})
    h.start()
    assert sorted(a.item_index for a in h.open.values()) == [0, 1]
    assert h.open[h.key("each", 1)].input == {"n": 20, "i": 1}
    assert h.open[h.key("each", 1)].key == "run-1/each/0/1"
    h.succeed("each", {"r": 1}, index=1)
    assert sorted(a.item_index for a in h.open.values()) == [0, 2]
    for index in (2, 0, 3, 4):
        h.succeed("each", {"r": index if index != 1 else 1}, index=index)
        assert len(h.open) <= 2
    assert h.state == "SUCCEEDED"
    assert h.output("each") == {"results": [{"r": 0}, {"r": 1}, {"r": 2}, {"r": 3}, {"r": 4}]}


def test_map_of_pass_steps_runs_inline(harness, pipeline):
    inner = {"type": "pass", "config": {"values": {"tag": "t"}}, "inputs": {"v": "{{ item.v }}"}}
    h = harness(pipeline(mapping(inner)), {"items": [{"v": 1}, {"v": 2}]})
    h.start()
    assert h.output("each") == {"results": [{"tag": "t", "v": 1}, {"tag": "t", "v": 2}]}


def test_map_over_an_empty_list_succeeds_with_no_results(harness, pipeline):
    h = harness(pipeline(mapping({"plugin": "work"})), {"items": []})
    h.start()
    assert h.output("each") == {"results": []}


def test_map_items_must_be_a_list(harness, pipeline):
    h = harness(pipeline(mapping({"plugin": "work"})), {"items": "nope"})
    h.start()
    assert h.state == "FAILED" and h.scheduler.error.kind == "INVALID_INPUT"


def test_map_item_retries_then_failure_follows_the_steps_policy(harness, pipeline):
    inner = {"plugin": "work", "retry": {"max_attempts": 2, "initial_delay_s": 1}}
    h = harness(pipeline(mapping(inner, max_concurrency=2, fallback={"results": "fallback"})), {"items": [1, 2, 3]})
    h.start()
    h.fail("each", index=0)
    assert any("item 0 attempt 1 failed" in log.message for log in h.event(StepLog))
    h.tick(1)
    assert h.open[h.key("each", 0)].attempt == 2
    h.fail("each", index=0, message="broken item")
    assert h.cancelled == ["run-1/each/0/1"]
    assert h.output("each") == {"results": "fallback"}
    assert h.scheduler.step_runs[0].error.message == "item 0: broken item"
    assert h.state == "SUCCEEDED"


def test_map_item_failure_without_policy_fails_the_run(harness, pipeline):
    h = harness(pipeline(mapping({"plugin": "work"})), {"items": [1]})
    h.start()
    h.fail("each", index=0)
    assert h.state == "FAILED" and h.scheduler.error.step_id == "each"


def test_map_of_waits_and_child_runs(harness, pipeline):
    h = harness(pipeline(mapping({"type": "wait", "wait": {"seconds": 1}})), {"items": ["a"]})
    h.start()
    h.succeed("each", index=0)
    assert h.output("each") == {"results": [{"item": "a", "index": 0}]}
    h = harness(pipeline(mapping({"type": "pipeline", "pipeline": {"name": "child"}})), {"items": ["a"]})
    h.start()
    assert isinstance(h.open[h.key("each", 0)], StartChildRun)


def test_sub_pipeline_step_asks_for_a_child_run_and_takes_its_outputs(harness, pipeline):
    h = harness(
        pipeline(
            {
                "id": "child",
                "type": "pipeline",
                "pipeline": {"name": "summarize", "revision": 3},
                "inputs": {"text": "{{ parameters.t }}"},
                "timeout_s": 9,
            },
            {"id": "after", "type": "pass", "inputs": {"s": "{{ child.summary }}"}},
        ),
        {"t": "long text"},
    )
    decision = h.start()
    action = decision.actions[0]
    assert isinstance(action, StartChildRun)
    assert (action.pipeline_name, action.revision, action.inputs, action.deadline) == (
        "summarize",
        3,
        {"text": "long text"},
        9,
    )
    h.succeed("child", {"summary": "short"})
    assert h.output("after") == {"s": "short"}


def test_sub_pipeline_failure_is_a_step_failure(harness, pipeline):
    h = harness(pipeline({"id": "child", "type": "pipeline", "pipeline": {"name": "x"}}))
    h.start()
    h.fail("child", "CHILD_RUN_FAILED", "child run r2 failed")
    assert h.state == "FAILED" and h.scheduler.error.kind == "CHILD_RUN_FAILED"


def human(on_timeout="fail", timeout_s=None, **extra):
    spec = {"prompt": "Approve?", "ui_schema": {"type": "object"}, "assignees": ["ops"], "on_timeout": on_timeout}
    if timeout_s is not None:
        spec["timeout_s"] = timeout_s
    spec.update(extra)
    return {"id": "review", "type": "human_input", "human_input": spec, "inputs": {"draft": "{{ parameters.draft }}"}}


def routed_after_review():
    return {
        "name": "h",
        "steps": [human(), {"id": "publish", "type": "pass"}, {"id": "reject", "type": "pass"}],
        "flow": {
            "transitions": [
                {
                    "from": "review",
                    "to": "publish",
                    "condition": {
                        "type": "expression",
                        "config": {"source": "result.approved", "operator": "==", "value": True},
                    },
                },
                {"from": "review", "to": "reject", "condition": {"type": "cel", "expr": "!steps.review.approved"}},
            ]
        },
    }


def test_human_input_waits_and_the_answer_becomes_the_output(harness):
    h = harness(routed_after_review(), {"draft": "hello"})
    h.now = 5
    h.start()
    request = h.event(InputRequested)[0]
    assert (request.key, request.prompt, request.data, request.assignees, request.deadline) == (
        "run-1/review/0",
        "Approve?",
        {"draft": "hello"},
        ("ops",),
        None,
    )
    assert h.state == "WAITING_FOR_INPUT"
    assert h.step_states("review") == ["WAITING"]
    assert h.scheduler.open_tasks() == [("run-1/review/0", "review")]
    h.succeed("review", {"approved": True})
    assert h.state == "SUCCEEDED"
    assert h.output("review") == {"approved": True}
    assert h.step_states("publish") == ["SUCCEEDED"] and h.step_states("reject") == ["SKIPPED"]
    states = [e.state.value for e in h.event(RunStateChanged)]
    assert states == ["RUNNING", "WAITING_FOR_INPUT", "RUNNING", "SUCCEEDED"]


def test_human_input_timeout_fails(harness, pipeline):
    h = harness(pipeline(human(timeout_s=60)), {"draft": "d"})
    h.start()
    assert h.event(InputRequested)[0].deadline == 60 and h.scheduler.next_wakeup == 60
    h.tick(60)
    assert h.state == "FAILED" and h.scheduler.error.kind == "HUMAN_INPUT_TIMEOUT"
    assert [(e.key, e.state) for e in h.event(TaskClosed)] == [("run-1/review/0", "TIMED_OUT")]


def test_human_input_timeout_skip(harness, pipeline):
    h = harness(pipeline(human("skip", timeout_s=60), {"id": "after", "type": "pass"}), {"draft": "d"})
    h.start()
    h.tick(61)
    assert h.step_states("review") == ["SKIPPED"] and h.step_states("after") == ["SKIPPED"]
    assert h.state == "SUCCEEDED"


def test_human_input_timeout_default(harness, pipeline):
    h = harness(pipeline(human("default", timeout_s=60, default_response={"approved": False})), {"draft": "d"})
    h.start()
    h.tick(60)
    assert h.output("review") == {"approved": False} and h.state == "SUCCEEDED"
    assert h.event(TaskClosed)[0].response == {"approved": False}


def test_an_answer_before_the_deadline_cancels_the_timeout(harness, pipeline):
    h = harness(pipeline(human(timeout_s=60)), {"draft": "d"})
    h.start()
    h.succeed("review", {"ok": 1})
    assert h.scheduler.next_wakeup is None and h.state == "SUCCEEDED"


def test_run_is_running_while_other_work_goes_on_beside_a_waiting_task(harness):
    h = harness(
        {
            "name": "h",
            "steps": [{"id": "a", "type": "pass"}, human(), plug("b")],
            "flow": {"transitions": [{"from": "a", "to": "review"}, {"from": "a", "to": "b"}]},
        },
        {"draft": "d"},
    )
    h.start()
    assert h.state == "RUNNING"
    h.succeed("b")
    assert h.state == "WAITING_FOR_INPUT"


def test_map_item_template_error_fails_the_map(harness, pipeline):
    inner = {"plugin": "work", "inputs": {"v": "{{ item.missing }}"}}
    h = harness(pipeline(mapping(inner)), {"items": [{"x": 1}]})
    h.start()
    assert h.state == "FAILED"
    assert h.scheduler.error.kind == "TEMPLATE_ERROR" and "item 0" in h.scheduler.error.message
