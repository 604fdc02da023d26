"""The OpenAPI document of the REST surface: generated from the contracts, committed, and faithful to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import annotations_pb2
from openapi_spec_validator import validate

from ia_modules.openapi import SERVICES, openapi_document, openapi_json

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR_SET = ROOT / "build" / "api_descriptor.pb"
COMMITTED = ROOT / "schemas" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document(DESCRIPTOR_SET.read_bytes())


def test_the_committed_document_is_the_generated_one():
    assert COMMITTED.read_text() == openapi_json(DESCRIPTOR_SET.read_bytes()), (
        "schemas/openapi.json is stale: run `make schemas`"
    )


def test_the_document_is_valid_openapi(document):
    validate(document)


def test_every_annotated_rpc_is_an_operation(document):
    from google.protobuf import descriptor_pool

    import ia.executor.v1.service_pb2  # noqa: F401 - registers the services in the default pool
    import ia.pluginhost.v1.service_pb2  # noqa: F401
    import ia.registry.v1.service_pb2  # noqa: F401
    import ia.telemetry.v1.service_pb2  # noqa: F401

    expected = set()
    for name in SERVICES:
        service = descriptor_pool.Default().FindServiceByName(name)
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            if verb:
                expected.add((verb, getattr(rule, verb)))
    operations = {
        (verb, path.replace("{pipeline_name}", "{pipeline.name}")) for path, item in document["paths"].items() for verb in item
    }
    assert operations == expected


def test_names_and_values_are_the_ones_envoy_prints(document):
    schemas = document["components"]["schemas"]
    run = schemas["ia.executor.v1.Run"]["properties"]
    # preserve_proto_field_names: snake_case, as in definition files.
    assert "pipeline_name" in run and "pipelineName" not in run
    # Enums travel as their names, 64-bit integers as strings, timestamps as RFC 3339.
    assert schemas["ia.executor.v1.RunState"]["enum"][0] == "RUN_STATE_UNSPECIFIED"
    assert schemas["ia.registry.v1.PipelineVersion"]["properties"]["revision"]["type"] == "string"
    assert run["create_time"]["format"] == "date-time"


def test_path_bound_fields_leave_the_body_and_the_rest_become_query_parameters(document):
    cancel = document["paths"]["/v1/runs/{run_id}:cancel"]["post"]
    body = cancel["requestBody"]["content"]["application/json"]["schema"]
    assert "run_id" not in body["properties"] and "reason" in body["properties"]
    update = document["paths"]["/v1/pipelines/{pipeline_name}"]["patch"]
    assert [p["name"] for p in update["parameters"]] == ["pipeline_name", "update_mask", "etag"]
    assert update["parameters"][0]["description"].startswith("The request's `pipeline.name`.")
    assert update["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ia.pipeline.v1.Pipeline"
    }


def test_streams_are_arrays_and_every_failure_is_a_google_rpc_status(document):
    watch = document["paths"]["/v1/runs/{run_id}:watch"]["get"]["responses"]
    assert watch["200"]["content"]["application/json"]["schema"]["type"] == "array"
    error = document["components"]["responses"]["Error"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/google.rpc.Status"}
    defaults = [op["responses"]["default"] for item in document["paths"].values() for op in item.values()]
    assert defaults and all(d == {"$ref": "#/components/responses/Error"} for d in defaults)


def test_descriptions_come_from_the_proto_comments(document):
    start = document["paths"]["/v1/runs"]["post"]
    assert start["summary"].startswith("Starts a run")
    assert "InvalidArgument" in start["description"]


def test_the_reference_page_escapes_and_links(document):
    from ia_modules.api_reference import render

    page = render(document)
    assert "<code>/v1/runs/{run_id}:cancel</code>" in page
    assert "href='#ia.executor.v1.Run'" in page
    hostile = {"info": {"title": "<script>x</script>"}, "tags": [], "paths": {}}
    assert "<script>x" not in render(hostile)
