"""Starting, reading, listing and cancelling runs; refusals with clear errors."""

import asyncio

import grpc
from executor_testing import finished, linear, outputs, pipeline, refused, start, state, step_event, steps, until
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia_executor.work import StepError
from ia_modules.engine.values import to_struct


def passing(step_id, **values):
    return {"id": step_id, "type": "pass", "config": {"values": values}}


async def test_inline_run_succeeds_with_outputs_and_step_details(executor):
    definition = linear(
        passing("greet", text="hello"),
        {"id": "shout", "type": "pass", "inputs": {"loud": "{{ greet.text }} {{ parameters.who }}!"}},
        outputs={"message": "{{ shout.loud }}"},
    )
    response = await executor.StartRun(start(definition, {"who": "world"}))
    run = await finished(executor, response.run.run_id)
    assert state(run) == "SUCCEEDED"
    assert outputs(run) == {"message": "hello world!"}
    assert steps(run) == [("greet", 0, "SUCCEEDED", 1), ("shout", 0, "SUCCEEDED", 1)]
    shout = run.steps[1]
    assert shout.idempotency_key == f"{run.run_id}/shout/0"
    assert dict(shout.output) == {"loud": "hello world!"}
    assert run.start_time.seconds and run.end_time.seconds and run.create_time.seconds
    assert dict(run.inputs) == {"who": "world"}


async def test_registered_pipeline_runs_and_is_cached_by_revision(start_executor, registry, registry_address):
    from ia.registry.v1 import request_response_pb2 as registry_rr

    created = await registry.CreatePipeline(
        registry_rr.CreatePipelineRequest(pipeline=linear(passing("a", n=1), name="counter", parameters={"p": 2}))
    )
    revision = created.pipeline.revision
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        from ia.executor.v1 import service_pb2_grpc

        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        response = await executor.StartRun(rr.StartRunRequest(pipeline_name="counter"))
        run = await finished(executor, response.run.run_id)
        assert (state(run), run.pipeline_name, run.revision) == ("SUCCEEDED", "counter", revision)
        assert outputs(run) == {"n": 1, "p": 2}
        missing = await refused(executor.StartRun(rr.StartRunRequest(pipeline_name="nope")))
        assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")


async def test_registry_down_gives_unavailable_but_cached_revisions_still_run(
    start_executor, registry, registry_address, servers
):
    from ia.registry.v1 import request_response_pb2 as registry_rr

    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=linear(passing("a"), name="cached")))
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        from ia.executor.v1 import service_pb2_grpc

        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        await executor.StartRun(rr.StartRunRequest(pipeline_name="cached", revision=1))
        registry_server = servers[0]
        await registry_server.stop(0)
        again = await executor.StartRun(rr.StartRunRequest(pipeline_name="cached", revision=1))
        assert state(await finished(executor, again.run.run_id)) == "SUCCEEDED"
        down = await refused(executor.StartRun(rr.StartRunRequest(pipeline_name="cached")))
        assert (down.code, down.reason) == (grpc.StatusCode.UNAVAILABLE, "REGISTRY_UNAVAILABLE")


async def test_invalid_definition_is_refused_with_field_paths_before_anything_runs(executor):
    bad = pipeline(
        [{"id": "a", "type": "pass", "inputs": {"x": "{{ ghost.value }}"}}],
        [("a", "nowhere")],
    )
    refusal = await refused(executor.StartRun(start(bad)))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and refusal.reason == "INVALID_DEFINITION"
    fields = [field for field, _ in refusal.violations]
    assert "flow.transitions[0].to" in fields and "steps[0].inputs.x" in fields
    listed = await executor.ListRuns(rr.ListRunsRequest())
    assert list(listed.runs) == []


async def test_an_inline_definition_sent_again_runs_again_and_a_refused_one_stays_refused(executor):
    definition = linear({"id": "a", "type": "pass", "inputs": {"v": "{{ parameters.v }}"}}, outputs={"v": "{{ a.v }}"})
    for value in ("first", "second"):
        run = (await executor.StartRun(start(definition, {"v": value}))).run
        assert state(run) == "SUCCEEDED" and outputs(run) == {"v": value}
    bad = pipeline([passing("a")], [("a", "nowhere")])
    for _ in range(2):
        refusal = await refused(executor.StartRun(start(bad)))
        assert refusal.reason == "INVALID_DEFINITION" and refusal.violations[0][0] == "flow.transitions[0].to"


async def test_start_run_answers_with_the_run_as_stored(executor):
    definition = linear(
        passing("a", n=1), {"id": "b", "type": "pass", "inputs": {"m": "{{ a.n }}"}}, outputs={"m": "{{ b.m }}"}
    )
    started = (await executor.StartRun(start(definition, {"x": 1}))).run
    assert state(started) == "SUCCEEDED" and outputs(started) == {"m": 1}
    stored = (await executor.GetRun(rr.GetRunRequest(run_id=started.run_id))).run
    assert started == stored


async def test_missing_or_mistyped_inputs_get_invalid_argument_with_paths(executor):
    definition = linear(
        passing("a"),
        parameter_specs=[
            {"name": "topic", "required": True, "schema": {"type": "string"}},
            {"name": "limit", "schema": {"type": "integer"}},
        ],
    )
    refusal = await refused(executor.StartRun(start(definition, {"limit": "ten"})))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and refusal.reason == "INVALID_INPUT"
    assert ("inputs.topic", "required parameter is missing") in refusal.violations
    assert any(field == "inputs.limit" and "integer" in text for field, text in refusal.violations)


async def test_a_10_mb_input_is_refused_with_the_limit(executor):
    refusal = await refused(executor.StartRun(start(linear(passing("a")), {"blob": "x" * (10 * 1024 * 1024)})))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs are 10.0 MB; the limit is 4.0 MB" in refusal.message
    assert refusal.metadata["limit_bytes"] == str(4 * 1024 * 1024)


async def test_unknown_run_is_not_found(executor):
    for call in (
        executor.GetRun(rr.GetRunRequest(run_id="nope")),
        executor.CancelRun(rr.CancelRunRequest(run_id="nope")),
        executor.WatchRun(rr.WatchRunRequest(run_id="nope")),
    ):
        refusal = await refused(call)
        assert (refusal.code, refusal.reason) == (grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND")


async def test_start_needs_a_pipeline(executor):
    refusal = await refused(executor.StartRun(rr.StartRunRequest()))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and refusal.violations[0][0] == "pipeline_name"


async def test_request_id_returns_the_same_run(executor):
    request = start(linear(passing("a")), request_id="req-1")
    first, second = await asyncio.gather(executor.StartRun(request), executor.StartRun(request))
    third = await executor.StartRun(request)
    assert first.run.run_id == second.run.run_id == third.run.run_id
    assert third.run.request_id == "req-1"
    listed = await executor.ListRuns(rr.ListRunsRequest())
    assert len(listed.runs) == 1


async def test_list_runs_filters_and_pages_newest_first(executor, runner):
    runner.script["p"] = [StepError("STEP_ERROR", "no")]
    ids = []
    for name in ("alpha", "beta", "alpha", "alpha"):
        ids.append((await executor.StartRun(start(linear(passing("a"), name=name)))).run.run_id)
    await executor.StartRun(start(linear({"id": "p", "plugin": "nothing"}, name="alpha")))
    seen, token = [], ""
    while True:
        page = await executor.ListRuns(
            rr.ListRunsRequest(
                pipeline_name="alpha", page_size=2, page_token=token, states=[message_pb2.RUN_STATE_SUCCEEDED]
            )
        )
        seen += [run.run_id for run in page.runs]
        assert all(not run.steps for run in page.runs)
        token = page.next_page_token
        if not token:
            break
    assert seen == [ids[3], ids[2], ids[0]]
    bad = await refused(executor.ListRuns(rr.ListRunsRequest(page_token="forged")))
    assert bad.reason == "INVALID_PAGE_TOKEN"
    other = await refused(executor.ListRuns(rr.ListRunsRequest(page_size=-1)))
    assert other.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_cel_error_at_run_time_fails_the_run_naming_expression_and_step(executor):
    definition = pipeline(
        [passing("score", value=1), passing("next")],
        [("score", "next", {"type": "cel", "expr": "result.value / 0 > 1"})],
    )
    run = await finished(executor, (await executor.StartRun(start(definition))).run.run_id)
    assert state(run) == "FAILED"
    assert run.error.kind == "CEL_ERROR" and run.error.step_id == "score"
    assert "result.value / 0 > 1" in run.error.message


async def test_plugin_steps_fail_clearly_without_a_plugin_host(start_executor):
    server = await start_executor()
    async with grpc.aio.insecure_channel(server.address) as channel:
        from ia.executor.v1 import service_pb2_grpc

        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        response = await executor.StartRun(start(linear({"id": "fetch", "plugin": "http_request"})))
        run = await finished(executor, response.run.run_id)
        assert state(run) == "FAILED" and run.error.kind == "PLUGIN_UNAVAILABLE"
        assert "no plugin host configured" in run.error.message and "http_request" in run.error.message


async def test_retries_are_recorded_with_attempts(executor, runner):
    runner.script["flaky"] = [StepError("UNAVAILABLE", "down"), StepError("UNAVAILABLE", "down"), {"ok": True}]
    definition = linear({"id": "flaky", "plugin": "p", "retry": {"max_attempts": 3, "initial_delay_s": 0.01}})
    run = await finished(executor, (await executor.StartRun(start(definition))).run.run_id)
    assert state(run) == "SUCCEEDED" and steps(run) == [("flaky", 0, "SUCCEEDED", 3)]
    key = f"{run.run_id}/flaky/0"
    assert runner.calls == [(key, 1), (key, 2), (key, 3)]


async def test_step_timeout_is_reported_as_step_timeout(executor, runner):
    runner.script["slow"] = ["hang"]
    definition = linear({"id": "slow", "plugin": "p", "timeout_s": 0.05})
    run = await finished(executor, (await executor.StartRun(start(definition))).run.run_id)
    assert run.error.kind == "STEP_TIMEOUT" and "0.05s" in run.error.message


async def test_continue_on_error_on_error_and_fallback(executor, runner):
    runner.script["a"] = [StepError("STEP_ERROR", "a broke")]
    runner.script["b"] = [StepError("STEP_ERROR", "b broke")]
    runner.script["c"] = [StepError("STEP_ERROR", "c broke")]
    definition = pipeline(
        [
            {"id": "a", "plugin": "p", "continue_on_error": True},
            {"id": "b", "plugin": "p", "fallback": {"value": 0}},
            {"id": "c", "plugin": "p", "on_error": "handle"},
            {"id": "handle", "type": "pass", "inputs": {"why": "{{ error.message }}"}},
        ],
        [("a", "b"), ("b", "c")],
        outputs={"a": "{{ a.error.message }}", "b": "{{ b.value }}", "handled": "{{ handle.why }}"},
    )
    run = await finished(executor, (await executor.StartRun(start(definition))).run.run_id)
    assert state(run) == "SUCCEEDED"
    assert outputs(run) == {"a": "a broke", "b": 0, "handled": "c broke"}
    assert [s[2] for s in steps(run)] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"]


async def test_map_runs_items_with_a_concurrency_limit(executor, runner):
    definition = linear(
        {
            "id": "each",
            "type": "map",
            "map": {
                "items": "{{ parameters.items }}",
                "max_concurrency": 2,
                "step": {"plugin": "p", "inputs": {"n": "{{ item }}"}},
            },
        },
        outputs={"results": "{{ each.results }}"},
    )
    run = await finished(executor, (await executor.StartRun(start(definition, {"items": [1, 2, 3]}))).run.run_id)
    assert outputs(run) == {"results": [{"n": 1}, {"n": 2}, {"n": 3}]}
    assert [key.rsplit("/", 1)[1] for key, _ in runner.calls] == ["0", "1", "2"]


async def test_cancel_stops_a_run_and_a_second_cancel_is_refused(executor, runner):
    runner.script["work"] = ["hang"]
    definition = linear({"id": "work", "plugin": "p"}, {"id": "pause", "type": "wait", "wait": {"seconds": 60}})
    run_id = (await executor.StartRun(start(definition))).run.run_id
    await runner.called.wait()
    cancelled = await executor.CancelRun(rr.CancelRunRequest(run_id=run_id, reason="changed my mind"))
    assert state(cancelled.run) == "CANCELLED"
    assert cancelled.run.error.message == "changed my mind"
    assert steps(cancelled.run) == [("work", 0, "CANCELLED", 1)]
    again = await refused(executor.CancelRun(rr.CancelRunRequest(run_id=run_id)))
    assert (again.code, again.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RUN_ALREADY_ENDED")


async def test_sub_pipeline_runs_as_a_child_run(start_executor, registry, registry_address):
    from ia.executor.v1 import service_pb2_grpc
    from ia.registry.v1 import request_response_pb2 as registry_rr

    child = linear(
        {"id": "shout", "type": "pass", "inputs": {"loud": "{{ parameters.text }}!"}},
        name="shouter",
        outputs={"loud": "{{ shout.loud }}"},
    )
    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=child))
    broken = linear({"id": "x", "plugin": "missing"}, name="broken")
    await registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=broken))
    parent = linear(
        {"id": "call", "type": "pipeline", "pipeline": {"name": "shouter"}, "inputs": {"text": "{{ parameters.t }}"}},
        outputs={"got": "{{ call.loud }}"},
    )
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        run = await finished(executor, (await executor.StartRun(start(parent, {"t": "hi"}))).run.run_id)
        assert state(run) == "SUCCEEDED" and outputs(run) == {"got": "hi!"}
        children = [r for r in (await executor.ListRuns(rr.ListRunsRequest(pipeline_name="shouter"))).runs]
        assert len(children) == 1 and children[0].parent_run_id == run.run_id
        assert children[0].request_id == f"{run.run_id}/call/0"
        failing = linear({"id": "call", "type": "pipeline", "pipeline": {"name": "broken"}})
        run = await finished(executor, (await executor.StartRun(start(failing))).run.run_id)
        assert state(run) == "FAILED" and run.error.kind == "CHILD_RUN_FAILED"
        assert "PLUGIN_UNAVAILABLE" not in run.error.message and "no plugin host" in run.error.message
        unknown = linear({"id": "call", "type": "pipeline", "pipeline": {"name": "ghost"}})
        run = await finished(executor, (await executor.StartRun(start(unknown))).run.run_id)
        assert run.error.kind == "PIPELINE_NOT_FOUND"


async def test_cancelling_a_parent_cancels_its_child(start_executor, registry, registry_address):
    from ia.executor.v1 import service_pb2_grpc
    from ia.registry.v1 import request_response_pb2 as registry_rr

    await registry.CreatePipeline(
        registry_rr.CreatePipelineRequest(
            pipeline=linear({"id": "pause", "type": "wait", "wait": {"seconds": 60}}, name="sleeper")
        )
    )
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        parent = linear({"id": "call", "type": "pipeline", "pipeline": {"name": "sleeper"}})
        run_id = (await executor.StartRun(start(parent))).run.run_id
        while True:
            listed = await executor.ListRuns(rr.ListRunsRequest(pipeline_name="sleeper"))
            if listed.runs:
                break
            await asyncio.sleep(0.01)
        child_id = listed.runs[0].run_id
        await until(executor, child_id, step_event("pause", "RUNNING"))
        await executor.CancelRun(rr.CancelRunRequest(run_id=run_id))
        child = await finished(executor, child_id)
        assert state(child) == "CANCELLED"


async def test_dry_run_walks_with_mocks_and_explains_transitions_not_taken(executor):
    definition = pipeline(
        [{"id": "score", "plugin": "scorer"}, passing("good"), passing("bad")],
        [
            (
                "score",
                "good",
                {"type": "expression", "config": {"source": "result.score", "operator": ">", "value": 0.8}},
            ),
            ("score", "bad", {"type": "cel", "expr": "result.score <= 0.8"}),
        ],
        outputs={"score": "{{ score.score }}"},
    )
    response = await executor.DryRun(
        rr.DryRunRequest(definition=definition, inputs=to_struct({"q": 1}), mocks=to_struct({"score": {"score": 0.4}}))
    )
    assert message_pb2.RunState.Name(response.state) == "RUN_STATE_SUCCEEDED"
    assert [(s.step_id, message_pb2.StepState.Name(s.state)) for s in response.steps] == [
        ("score", "STEP_STATE_SUCCEEDED"),
        ("good", "STEP_STATE_SKIPPED"),
        ("bad", "STEP_STATE_SUCCEEDED"),
    ]
    assert dict(response.steps[0].input) == {"q": 1}
    not_taken = [(getattr(n, "from"), n.to, n.reason) for n in response.not_taken]
    assert not_taken == [("score", "good", "result.score > 0.8 was false (result.score = 0.4)")]
    assert dict(response.outputs) == {"score": 0.4}
    listed = await executor.ListRuns(rr.ListRunsRequest())
    assert list(listed.runs) == []
    bad = await refused(executor.DryRun(rr.DryRunRequest(definition=pipeline([{"id": "a"}]))))
    assert bad.reason == "INVALID_DEFINITION"
