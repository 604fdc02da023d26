"""What each role may call: viewer reads, operator runs, admin changes pipelines and plugins."""

import grpc
import pytest
from ia.executor.v1 import request_response_pb2 as executor_rr
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia.telemetry.v1 import message_pb2 as telemetry_messages
from ia.telemetry.v1 import request_response_pb2 as telemetry_rr
from ia_modules.engine.values import to_struct
from ia_service_kit.access import PUBLIC_METHODS, REQUIRED_ROLE, required_role
from ia_service_kit.server import public_service_names
from security_testing import definition, refused, spans_request

RANKS = {"viewer": 1, "operator": 2, "admin": 3, "service": 4}

# (method, the least role it needs, the call); calls name things that do not exist,
# so an allowed call ends in NOT_FOUND or succeeds without changing anything shared.
CALLS = [
    ("GetPipeline", "viewer", lambda c: c.registry.GetPipeline(registry_rr.GetPipelineRequest(name="nope"))),
    ("ListPipelines", "viewer", lambda c: c.registry.ListPipelines(registry_rr.ListPipelinesRequest())),
    (
        "ValidatePipeline",
        "viewer",
        lambda c: c.registry.ValidatePipeline(registry_rr.ValidatePipelineRequest(pipeline=definition("v"))),
    ),
    (
        "CreatePipeline",
        "admin",
        lambda c: c.registry.CreatePipeline(registry_rr.CreatePipelineRequest(pipeline=definition("new"))),
    ),
    (
        "UpdatePipeline",
        "admin",
        lambda c: c.registry.UpdatePipeline(registry_rr.UpdatePipelineRequest(pipeline=definition("nope"))),
    ),
    ("DeletePipeline", "admin", lambda c: c.registry.DeletePipeline(registry_rr.DeletePipelineRequest(name="nope"))),
    ("ImportPipelines", "admin", lambda c: c.registry.ImportPipelines(registry_rr.ImportPipelinesRequest())),
    ("GetRun", "viewer", lambda c: c.executor.GetRun(executor_rr.GetRunRequest(run_id="nope"))),
    ("ListRuns", "viewer", lambda c: c.executor.ListRuns(executor_rr.ListRunsRequest())),
    ("WatchRun", "viewer", lambda c: c.executor.WatchRun(executor_rr.WatchRunRequest(run_id="nope"))),
    ("ListHumanTasks", "viewer", lambda c: c.executor.ListHumanTasks(executor_rr.ListHumanTasksRequest())),
    (
        "DryRun",
        "viewer",
        lambda c: c.executor.DryRun(executor_rr.DryRunRequest(definition=definition("d"), inputs=to_struct({}))),
    ),
    (
        "StartRun",
        "operator",
        lambda c: c.executor.StartRun(executor_rr.StartRunRequest(pipeline_name="nope", inputs=to_struct({}))),
    ),
    ("CancelRun", "operator", lambda c: c.executor.CancelRun(executor_rr.CancelRunRequest(run_id="nope"))),
    ("ResumeRun", "operator", lambda c: c.executor.ResumeRun(executor_rr.ResumeRunRequest(run_id="nope"))),
    ("StepRun", "operator", lambda c: c.executor.StepRun(executor_rr.StepRunRequest(run_id="nope"))),
    ("InspectRun", "viewer", lambda c: c.executor.InspectRun(executor_rr.InspectRunRequest(run_id="nope"))),
    (
        "SubmitHumanInput",
        "operator",
        lambda c: c.executor.SubmitHumanInput(executor_rr.SubmitHumanInputRequest(task_id="nope")),
    ),
    ("ListTraces", "viewer", lambda c: c.telemetry.ListTraces(telemetry_rr.ListTracesRequest())),
    (
        "GetBenchmark",
        "viewer",
        lambda c: c.telemetry.GetBenchmark(telemetry_rr.GetBenchmarkRequest(benchmark_id="nope")),
    ),
    (
        "RecordBenchmark",
        "operator",
        lambda c: c.telemetry.RecordBenchmark(
            telemetry_rr.RecordBenchmarkRequest(benchmark=telemetry_messages.BenchmarkRun(suite="roles"))
        ),
    ),
    ("TraceService/Export", "service", lambda c: c.traces.Export(spans_request("acme")[1])),
]


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
async def test_each_role_is_let_into_its_calls_and_refused_the_others_naming_the_role_needed(deployment, role):
    caller = deployment.as_role("acme", role)
    for method, needed, call in CALLS:
        if RANKS[role] >= RANKS[needed]:
            try:
                response = call(caller)
                if hasattr(response, "__aiter__"):
                    async for _ in response:
                        pass
                else:
                    await response
            except grpc.aio.AioRpcError as error:
                assert error.code() not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), (
                    f"{role} was refused {method}: {error.details()}"
                )
        else:
            refusal = await refused(call(caller))
            assert (refusal.code, refusal.reason) == (
                grpc.StatusCode.PERMISSION_DENIED,
                f"{needed.upper()}_ROLE_REQUIRED",
            ), method
            assert refusal.metadata == {"required_role": needed, "role": role}


async def test_the_service_token_may_call_what_only_services_call(deployment):
    trace_id, request = spans_request("acme")
    await deployment.as_service("acme").traces.Export(request)
    got = await deployment.as_role("acme", "viewer").telemetry.GetTrace(telemetry_rr.GetTraceRequest(trace_id=trace_id))
    assert got.trace.summary.trace_id == trace_id


def test_every_public_method_has_a_role_decided():
    """A new RPC must be placed in the table (else it falls back to admin)."""
    import importlib
    import pkgutil

    import ia

    methods = set()
    for info in pkgutil.walk_packages(ia.__path__, prefix="ia."):
        if info.name.endswith("_pb2"):
            for service in importlib.import_module(info.name).DESCRIPTOR.services_by_name.values():
                methods.update(f"/{service.full_name}/{m.name}" for m in service.methods)
    assert public_service_names()  # the generated package is there
    undecided = {m for m in methods if m not in REQUIRED_ROLE and not m.startswith("/ia.plugin.v1.PluginService/")}
    assert undecided == set()
    assert required_role("/ia.plugin.v1.PluginService/ExecuteStep") == "service"
    assert required_role("/ia.new.v1.NewService/Anything") == "admin"
    assert all(required_role(m) is None for m in PUBLIC_METHODS)
