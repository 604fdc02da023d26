"""grpcurl through Envoy: reflection lists and describes the public API, and calls work."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def call(grpcurl: str, endpoint: str, *args: str, data: dict | None = None) -> subprocess.CompletedProcess[str]:
    flags = ["-d", json.dumps(data)] if data is not None else []
    return subprocess.run(
        [grpcurl, "-plaintext", *flags, endpoint, *args], capture_output=True, text=True, timeout=30
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_list_shows_every_public_service(grpcurl: str, endpoint: str) -> None:
    services = ok(call(grpcurl, endpoint, "list")).split()

    assert "ia.registry.v1.RegistryService" in services
    assert "ia.executor.v1.ExecutorService" in services
    assert "grpc.health.v1.Health" in services


def test_describe_shows_the_registry_methods_and_their_rest_paths(grpcurl: str, endpoint: str) -> None:
    description = ok(call(grpcurl, endpoint, "describe", "ia.registry.v1.RegistryService"))

    assert "rpc CreatePipeline ( .ia.registry.v1.CreatePipelineRequest )" in description
    assert "rpc GetPipeline ( .ia.registry.v1.GetPipelineRequest )" in description
    assert 'get: "/v1/pipelines/{name}"' in description


def test_create_then_get_a_pipeline(grpcurl: str, endpoint: str, example, pipeline_name: str) -> None:
    definition = example("hello.json", pipeline_name)

    created = json.loads(
        ok(call(grpcurl, endpoint, "ia.registry.v1.RegistryService/CreatePipeline", data={"pipeline": definition}))
    )
    fetched = json.loads(
        ok(call(grpcurl, endpoint, "ia.registry.v1.RegistryService/GetPipeline", data={"name": pipeline_name}))
    )

    assert created["pipeline"]["revision"] == "1"
    assert fetched["pipeline"]["name"] == pipeline_name
    assert fetched["pipeline"]["revision"] == "1"
    assert [step["id"] for step in fetched["pipeline"]["definition"]["steps"]] == ["greet", "cheer", "sign"]
    assert fetched["pipeline"]["etag"] == created["pipeline"]["etag"]


def test_an_unknown_pipeline_is_not_found_with_a_stable_reason(grpcurl: str, endpoint: str) -> None:
    result = call(grpcurl, endpoint, "ia.registry.v1.RegistryService/GetPipeline", data={"name": "no-such-pipeline"})

    assert result.returncode != 0
    assert "Code: NotFound" in result.stdout + result.stderr
    assert "PIPELINE_NOT_FOUND" in result.stdout + result.stderr


def test_health_answers_serving(grpcurl: str, endpoint: str) -> None:
    reply = json.loads(ok(call(grpcurl, endpoint, "grpc.health.v1.Health/Check")))

    assert reply == {"status": "SERVING"}
