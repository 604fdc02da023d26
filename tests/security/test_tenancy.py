"""A caller sees only its own tenant: another tenant's pipeline, run, task, trace or
benchmark is NOT_FOUND, lists never cross, and page tokens do not travel."""

import grpc
from google.protobuf import field_mask_pb2
from ia.executor.v1 import request_response_pb2 as executor_rr
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia.telemetry.v1 import message_pb2 as telemetry_messages
from ia.telemetry.v1 import request_response_pb2 as telemetry_rr
from ia_modules.engine.values import to_struct
from security_testing import create_pipeline, definition, open_task, refused, spans_request, start_run


async def not_found(call, reason: str) -> None:
    refusal = await refused(call)
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.NOT_FOUND, reason)


async def test_pipelines_are_per_tenant(deployment):
    acme, globex = deployment.as_role("acme", "admin"), deployment.as_role("globex", "admin")
    await create_pipeline(acme, "only-acme")
    await create_pipeline(acme, "shared")
    await create_pipeline(globex, "shared")  # the same name in another tenant is another pipeline
    registry = globex.registry
    await not_found(registry.GetPipeline(registry_rr.GetPipelineRequest(name="only-acme")), "PIPELINE_NOT_FOUND")
    await not_found(
        registry.ListPipelineVersions(registry_rr.ListPipelineVersionsRequest(name="only-acme")), "PIPELINE_NOT_FOUND"
    )
    await not_found(
        registry.UpdatePipeline(
            registry_rr.UpdatePipelineRequest(
                pipeline=definition("only-acme"), update_mask=field_mask_pb2.FieldMask(paths=["description"])
            )
        ),
        "PIPELINE_NOT_FOUND",
    )
    await not_found(registry.DeletePipeline(registry_rr.DeletePipelineRequest(name="only-acme")), "PIPELINE_NOT_FOUND")
    listed = await registry.ListPipelines(registry_rr.ListPipelinesRequest())
    assert [p.name for p in listed.pipelines] == ["shared"]
    # Deleting globex's `shared` leaves acme's alone.
    await registry.DeletePipeline(registry_rr.DeletePipelineRequest(name="shared"))
    still = await acme.registry.ListPipelines(registry_rr.ListPipelinesRequest())
    assert [p.name for p in still.pipelines] == ["only-acme", "shared"]


async def test_a_page_token_cannot_be_replayed_by_another_tenant(deployment):
    acme, globex = deployment.as_role("acme", "admin"), deployment.as_role("globex", "admin")
    for name in ("a", "b"):
        await create_pipeline(acme, name)
        await create_pipeline(globex, name)
    first = await acme.registry.ListPipelines(registry_rr.ListPipelinesRequest(page_size=1))
    assert first.next_page_token
    refusal = await refused(
        globex.registry.ListPipelines(registry_rr.ListPipelinesRequest(page_size=1, page_token=first.next_page_token))
    )
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    await start_run(acme, "a")
    await start_run(acme, "b")
    runs_page = await acme.executor.ListRuns(executor_rr.ListRunsRequest(page_size=1))
    refusal = await refused(
        globex.executor.ListRuns(executor_rr.ListRunsRequest(page_size=1, page_token=runs_page.next_page_token))
    )
    assert refusal.reason == "INVALID_PAGE_TOKEN"


async def test_runs_and_human_tasks_are_per_tenant(deployment):
    acme_admin = deployment.as_role("acme", "admin")
    await create_pipeline(acme_admin, "approval", assignees=[])
    acme, globex = deployment.as_role("acme", "operator"), deployment.as_role("globex", "operator")
    # A run of a pipeline only acme has is not found for globex either.
    refusal = await refused(
        globex.executor.StartRun(executor_rr.StartRunRequest(pipeline_name="approval", inputs=to_struct({})))
    )
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")
    run_id = await start_run(acme, "approval", request_id="req-1")
    task = await open_task(acme, run_id)
    executor = globex.executor
    await not_found(executor.GetRun(executor_rr.GetRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(executor.WatchRun(executor_rr.WatchRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(executor.CancelRun(executor_rr.CancelRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(executor.ResumeRun(executor_rr.ResumeRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(executor.StepRun(executor_rr.StepRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(executor.InspectRun(executor_rr.InspectRunRequest(run_id=run_id)), "RUN_NOT_FOUND")
    await not_found(
        executor.SubmitHumanInput(
            executor_rr.SubmitHumanInputRequest(task_id=task.task_id, data=to_struct({"ok": True}))
        ),
        "TASK_NOT_FOUND",
    )
    assert list((await executor.ListRuns(executor_rr.ListRunsRequest())).runs) == []
    assert list((await executor.ListHumanTasks(executor_rr.ListHumanTasksRequest(run_id=run_id))).tasks) == []
    assert list((await executor.ListHumanTasks(executor_rr.ListHumanTasksRequest())).tasks) == []
    # The same request id in another tenant starts that tenant's own run.
    await create_pipeline(deployment.as_role("globex", "admin"), "approval", assignees=[])
    globex_run = await start_run(globex, "approval", request_id="req-1")
    assert globex_run != run_id
    assert await start_run(acme, "approval", request_id="req-1") == run_id
    mine = await acme.executor.ListRuns(executor_rr.ListRunsRequest())
    assert [r.run_id for r in mine.runs] == [run_id]
    tasks = await acme.executor.ListHumanTasks(executor_rr.ListHumanTasksRequest())
    assert [t.task_id for t in tasks.tasks] == [task.task_id]


async def test_traces_and_benchmarks_are_per_tenant(deployment):
    trace_id, request = spans_request("acme")
    await deployment.as_service("acme").traces.Export(request)
    acme, globex = deployment.as_role("acme", "operator"), deployment.as_role("globex", "operator")
    got = await acme.telemetry.GetTrace(telemetry_rr.GetTraceRequest(trace_id=trace_id))
    assert got.trace.summary.trace_id == trace_id
    refusal = await refused(globex.telemetry.GetTrace(telemetry_rr.GetTraceRequest(trace_id=trace_id)))
    assert refusal.code == grpc.StatusCode.NOT_FOUND
    assert list((await globex.telemetry.ListTraces(telemetry_rr.ListTracesRequest())).traces) == []
    assert [t.trace_id for t in (await acme.telemetry.ListTraces(telemetry_rr.ListTracesRequest())).traces] == [
        trace_id
    ]

    run = telemetry_messages.BenchmarkRun(suite="engine")
    recorded = await acme.telemetry.RecordBenchmark(telemetry_rr.RecordBenchmarkRequest(benchmark=run, request_id="r"))
    benchmark_id = recorded.benchmark.benchmark_id
    refusal = await refused(globex.telemetry.GetBenchmark(telemetry_rr.GetBenchmarkRequest(benchmark_id=benchmark_id)))
    assert refusal.code == grpc.StatusCode.NOT_FOUND
    assert list((await globex.telemetry.ListBenchmarks(telemetry_rr.ListBenchmarksRequest())).benchmarks) == []
    # The same request id in another tenant records that tenant's own run.
    theirs = await globex.telemetry.RecordBenchmark(telemetry_rr.RecordBenchmarkRequest(benchmark=run, request_id="r"))
    assert theirs.benchmark.benchmark_id != benchmark_id
    mine = await acme.telemetry.ListBenchmarks(telemetry_rr.ListBenchmarksRequest())
    assert [b.benchmark_id for b in mine.benchmarks] == [benchmark_id]
