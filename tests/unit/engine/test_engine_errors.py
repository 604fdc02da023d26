"""Error policy: retries with backoff on an injected clock, timeouts, and what a failure does."""

import random

import pytest
from ia_modules.engine import RetryPolicy, StepStateChanged, TaskClosed


def plug(step_id, **extra):
    return {"id": step_id, "plugin": "work", **extra}


RETRY = {"max_attempts": 5, "initial_delay_s": 1, "backoff_multiplier": 2, "max_delay_s": 5}


def test_retry_attempt_counts_and_backoff_schedule(harness, pipeline):
    h = harness(pipeline(plug("a", retry=RETRY)))
    h.start()
    wakeups = []
    for attempt in range(1, 5):
        assert h.open[h.key("a")].attempt == attempt
        h.fail("a", "UNAVAILABLE")
        wakeups.append(h.scheduler.next_wakeup - h.now)
        h.tick(h.scheduler.next_wakeup - 0.001)
        assert "a" not in [a.step_id for a in h.open.values()]
        h.tick(h.scheduler.next_wakeup)
    assert wakeups == [1, 2, 4, 5]
    assert h.open[h.key("a")].key == "run-1/a/0"
    h.succeed("a", {"ok": True})
    assert h.state == "SUCCEEDED"
    assert h.scheduler.step_runs[0].attempts == 5
    assert [s for s, _ in h.transitions("a")] == ["RUNNING", "RETRYING"] * 4 + ["RUNNING", "SUCCEEDED"]
    retrying = [e for e in h.events if isinstance(e, StepStateChanged) and e.state.value == "RETRYING"]
    assert "attempt 1 of 5 failed (UNAVAILABLE: boom); retrying in 1s" == retrying[0].reason


def test_retries_are_exhausted_then_the_run_fails(harness, pipeline):
    h = harness(pipeline(plug("a", retry={"max_attempts": 2})))
    h.start()
    h.fail("a")
    h.tick(h.scheduler.next_wakeup)
    h.fail("a", message="still broken")
    assert h.state == "FAILED"
    assert h.scheduler.error.message == "still broken" and h.scheduler.error.step_id == "a"
    assert h.transitions("a")[-1] == ("FAILED", 2)


def test_retry_on_limits_the_kinds_retried(harness, pipeline):
    h = harness(pipeline(plug("a", retry={"max_attempts": 3, "retry_on": ["UNAVAILABLE"]})))
    h.start()
    h.fail("a", "UNAVAILABLE")
    h.tick(h.scheduler.next_wakeup)
    h.fail("a", "STEP_ERROR")
    assert h.state == "FAILED" and h.scheduler.step_runs[0].attempts == 2


def test_errors_a_retry_cannot_fix_are_not_retried(harness, pipeline):
    h = harness(pipeline(plug("a", retry={"max_attempts": 3}, outputs=[{"name": "x", "required": True}])))
    h.start()
    h.succeed("a", {"y": 1})
    assert h.state == "FAILED"
    assert h.scheduler.error.kind == "OUTPUT_MISSING" and "x" in h.scheduler.error.message


def test_a_config_the_plugin_refused_is_not_retried(harness, pipeline):
    h = harness(pipeline(plug("a", retry={"max_attempts": 3})))
    h.start()
    h.fail("a", "INVALID_CONFIG")
    assert h.state == "FAILED" and h.scheduler.step_runs[0].attempts == 1


def test_declared_output_schema_is_checked(harness, pipeline):
    h = harness(pipeline(plug("a", outputs=[{"name": "n", "schema": {"type": "integer"}}])))
    h.start()
    h.succeed("a", {"n": "three"})
    assert h.scheduler.error.kind == "INVALID_OUTPUT"


def test_pipeline_retry_is_the_default_and_step_fields_override_it(harness, pipeline):
    h = harness(
        pipeline(
            plug("a"),
            plug("b", retry={"initial_delay_s": 7}),
            error_handling={"retry": {"max_attempts": 2, "initial_delay_s": 3}},
        )
    )
    assert h.plan.steps["a"].retry == RetryPolicy(max_attempts=2, initial_delay_s=3)
    assert h.plan.steps["b"].retry == RetryPolicy(max_attempts=2, initial_delay_s=7)


def test_jitter_comes_from_the_injected_rng_and_stays_within_bounds():
    policy = RetryPolicy(max_attempts=9, initial_delay_s=10, jitter=0.2)
    first = [policy.delay(1, random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    delays = [policy.delay(1, random.Random(seed)) for seed in range(200)]
    assert all(8 <= d <= 12 for d in delays) and len(set(delays)) > 100


def test_step_timeout_is_the_actions_deadline_and_a_timeout_is_retried(harness, pipeline):
    h = harness(pipeline(plug("a", timeout_s=30, retry={"max_attempts": 2})))
    h.now = 100
    h.start()
    assert h.open[h.key("a")].deadline == 130
    h.fail("a", "STEP_TIMEOUT", "no answer within 30s")
    h.tick(h.scheduler.next_wakeup)
    h.fail("a", "STEP_TIMEOUT", "no answer within 30s")
    assert h.state == "FAILED" and h.scheduler.error.kind == "STEP_TIMEOUT"


def test_pipeline_step_timeout_default(harness, pipeline):
    h = harness(pipeline(plug("a"), error_handling={"step_timeout_s": 5}))
    h.start()
    assert h.open[h.key("a")].deadline == 5


def test_pipeline_timeout_ends_the_run_and_cancels_work(harness):
    h = harness(
        {
            "name": "t",
            "steps": [plug("a"), plug("b"), {"id": "ask", "type": "human_input", "human_input": {"prompt": "?"}}],
            "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "a", "to": "ask"}]},
            "error_handling": {"timeout_s": 60},
        }
    )
    h.start()
    h.succeed("a")
    assert h.scheduler.next_wakeup == 60
    h.tick(59)
    assert h.state == "RUNNING"
    h.tick(60)
    assert h.state == "TIMED_OUT"
    assert h.scheduler.error.kind == "RUN_TIMEOUT"
    assert h.cancelled == ["run-1/b/0"]
    assert h.step_states("b") == ["CANCELLED"] and h.step_states("ask") == ["CANCELLED"]
    assert [e.state for e in h.event(TaskClosed)] == ["CANCELLED"]
    assert h.scheduler.next_wakeup is None


def test_continue_on_error_counts_as_succeeded_with_the_error_as_output(harness, pipeline):
    h = harness(
        pipeline(
            plug("a", continue_on_error=True), {"id": "b", "type": "pass", "inputs": {"was": "{{ a.error.kind }}"}}
        )
    )
    h.start()
    h.fail("a", "STEP_ERROR", "bad")
    assert h.state == "SUCCEEDED"
    record = h.scheduler.step_runs[0]
    assert record.state.value == "SUCCEEDED" and record.error.message == "bad"
    assert record.output == {"error": {"kind": "STEP_ERROR", "message": "bad", "step_id": "a"}}
    assert h.output("b") == {"was": "STEP_ERROR"}


def test_fallback_becomes_the_output(harness, pipeline):
    h = harness(
        pipeline(plug("a", fallback={"score": 0}), {"id": "b", "type": "pass", "inputs": {"s": "{{ a.score }}"}})
    )
    h.start()
    h.fail("a")
    assert h.output("a") == {"score": 0} and h.output("b") == {"s": 0}
    ended = [e for e in h.events if isinstance(e, StepStateChanged) and e.step_id == "a"][-1]
    assert ended.state.value == "SUCCEEDED" and "used its fallback output" in ended.reason
    assert ended.error.kind == "STEP_ERROR"


def test_on_error_routes_to_the_handler_with_the_error_visible(harness):
    definition = {
        "name": "e",
        "steps": [
            plug("a"),
            plug("b"),
            {"id": "handle", "type": "pass", "inputs": {"failed": "{{ error.step_id }}", "why": "{{ error.message }}"}},
            {"id": "after", "type": "pass"},
        ],
        "flow": {
            "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "after"}, {"from": "handle", "to": "after"}]
        },
    }
    definition["steps"][0]["on_error"] = "handle"
    h = harness(definition)
    h.start()
    h.fail("a", message="exploded")
    assert h.state == "SUCCEEDED"
    assert h.output("handle") == {"failed": "a", "why": "exploded"}
    assert h.step_states("a") == ["FAILED"] and h.step_states("b") == ["SKIPPED"]
    assert h.step_states("after") == ["SUCCEEDED"]


def test_an_error_handler_that_is_not_needed_is_skipped_and_the_join_still_runs(harness):
    definition = {
        "name": "e",
        "steps": [plug("a", on_error="handle"), {"id": "handle", "type": "pass"}, {"id": "after", "type": "pass"}],
        "flow": {"transitions": [{"from": "a", "to": "after"}, {"from": "handle", "to": "after"}]},
    }
    h = harness(definition)
    h.start()
    h.succeed("a", {"ok": 1})
    assert h.step_states("handle") == ["SKIPPED"]
    assert h.step_states("after") == ["SUCCEEDED"]


def test_pipeline_on_error_default_and_handler_without_inputs_sees_error(harness, pipeline):
    h = harness(
        {
            "name": "e",
            "steps": [plug("a"), plug("b"), {"id": "handle", "type": "pass"}],
            "flow": {"transitions": [{"from": "a", "to": "b"}]},
            "error_handling": {"on_error": "handle"},
        },
        {"p": 1},
    )
    h.start()
    h.succeed("a")
    h.fail("b", "STEP_ERROR", "nope")
    assert h.state == "SUCCEEDED"
    assert h.output("handle") == {"p": 1, "error": {"kind": "STEP_ERROR", "message": "nope", "step_id": "b"}}


def test_pipeline_continue_on_error_default(harness, pipeline):
    h = harness(pipeline(plug("a"), {"id": "b", "type": "pass"}, error_handling={"continue_on_error": True}))
    h.start()
    h.fail("a")
    assert h.state == "SUCCEEDED" and h.step_states("b") == ["SUCCEEDED"]


def test_a_failing_handler_fails_the_run(harness):
    h = harness({"name": "e", "steps": [plug("a", on_error="handle"), plug("handle")]})
    h.start()
    h.fail("a")
    h.fail("handle", message="handler broke")
    assert h.state == "FAILED" and h.scheduler.error.step_id == "handle"


def test_template_error_in_inputs_fails_the_step_with_the_reference(harness, pipeline):
    h = harness(pipeline({"id": "a", "type": "pass", "inputs": {"x": "{{ parameters.nope }}"}}))
    h.start()
    assert h.state == "FAILED"
    assert h.scheduler.error.kind == "TEMPLATE_ERROR" and "parameters.nope" in h.scheduler.error.message


def test_template_error_in_pipeline_outputs_fails_the_run(harness, pipeline):
    h = harness(pipeline({"id": "a", "type": "pass"}, outputs={"x": "{{ a.nothing }}"}))
    h.start()
    assert h.state == "FAILED" and "pipeline outputs" in h.scheduler.error.message


def test_cancellation_stops_work_in_flight(harness):
    h = harness(
        {
            "name": "c",
            "steps": [
                {"id": "a", "type": "pass"},
                plug("b"),
                plug("c", retry={"max_attempts": 3, "initial_delay_s": 5}),
            ],
            "flow": {"transitions": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}]},
        }
    )
    h.start()
    h.fail("c")
    h.cancel("user asked")
    assert h.state == "CANCELLED"
    assert h.scheduler.error.kind == "CANCELLED" and h.scheduler.error.message == "user asked"
    assert h.cancelled == ["run-1/b/0"]
    assert h.step_states("b") == ["CANCELLED"] and h.step_states("c") == ["CANCELLED"]
    assert h.scheduler.next_wakeup is None
    late = h.scheduler.succeed("run-1/b/0", {}, 1)
    assert late.events == [] and late.actions == []


def test_late_results_for_unknown_work_are_ignored(harness, pipeline):
    h = harness(pipeline(plug("a")))
    h.start()
    assert h.scheduler.succeed("run-1/zzz/0", {}, 0).events == []
    assert h.scheduler.fail("run-1/zzz/0", "STEP_ERROR", "x", 0).events == []


@pytest.mark.parametrize("state", ["CANCELLED"])
def test_cancel_before_start(harness, pipeline, state):
    h = harness(pipeline(plug("a")))
    h.cancel()
    assert h.state == state
