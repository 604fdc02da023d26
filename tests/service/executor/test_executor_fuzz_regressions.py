"""Refusals found by fuzzing the REST surface (tests/e2e/test_openapi_fuzz.py): each was a 5xx before."""

import grpc
import pytest
from executor_testing import refused
from ia.executor.v1 import request_response_pb2 as rr
from ia.executor.v1 import service_pb2_grpc
from ia_executor.definitions import Definitions
from ia_executor.errors import InvalidInput


@pytest.mark.parametrize("call", ["StartRun", "DryRun"])
async def test_a_negative_revision_is_invalid_argument_not_registry_unavailable(call, start_executor, registry_address):
    server = await start_executor(registry=registry_address)
    async with grpc.aio.insecure_channel(server.address) as channel:
        executor = service_pb2_grpc.ExecutorServiceStub(channel)
        request_type = rr.StartRunRequest if call == "StartRun" else rr.DryRunRequest
        refusal = await refused(getattr(executor, call)(request_type(pipeline_name="any", revision=-40775)))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    assert refusal.violations == [("revision", "0 (the latest) or a positive revision")]


async def test_a_request_the_registry_refuses_is_the_callers_mistake(registry_address):
    definitions = Definitions(registry_address)
    try:
        with pytest.raises(InvalidInput, match="revision must be 0"):
            await definitions.registered("any", -1)
    finally:
        await definitions.close()
