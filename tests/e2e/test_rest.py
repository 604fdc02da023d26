"""REST (JSON) through Envoy's transcoder, with nothing but the standard library."""

from __future__ import annotations

import pytest
from e2e_http import http

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_create_list_and_get_a_pipeline(base_url: str, example, pipeline_name: str) -> None:
    definition = example("hello.json", pipeline_name)

    created = http("POST", f"{base_url}/v1/pipelines", definition)
    listed = http("GET", f"{base_url}/v1/pipelines?name_prefix={pipeline_name}")
    fetched = http("GET", f"{base_url}/v1/pipelines/{pipeline_name}")

    assert created.status == 200
    assert created.body["pipeline"]["revision"] == "1"
    assert [p["name"] for p in listed.body["pipelines"]] == [pipeline_name]
    assert fetched.status == 200
    # Proto field names and no zero values: the stored definition reads like the file.
    stored = fetched.body["pipeline"]["definition"]
    assert stored["flow"]["start_at"] == "greet"
    assert stored["parameter_specs"][0]["name"] == "who"
    assert stored["steps"][0]["inputs"] == definition["steps"][0]["inputs"]


def test_an_unknown_pipeline_is_a_404_with_a_json_status(base_url: str) -> None:
    reply = http("GET", f"{base_url}/v1/pipelines/no-such-pipeline")

    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.body["code"] == 5
    assert "no-such-pipeline" in reply.body["message"]
    reasons = [d["reason"] for d in reply.body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert reasons == ["PIPELINE_NOT_FOUND"]


def test_an_invalid_definition_is_a_400_naming_the_field(base_url: str, example, pipeline_name: str) -> None:
    definition = example("hello.json", pipeline_name)
    definition["flow"]["transitions"][0]["to"] = "nowhere"

    reply = http("POST", f"{base_url}/v1/pipelines", definition)

    assert reply.status == 400
    assert reply.body["code"] == 3
    violations = [
        violation
        for detail in reply.body["details"]
        if detail["@type"].endswith("google.rpc.BadRequest")
        for violation in detail["field_violations"]
    ]
    assert any(v["field"] == "flow.transitions[0].to" and "nowhere" in v["description"] for v in violations)
    assert http("GET", f"{base_url}/v1/pipelines/{pipeline_name}").status == 404


def test_the_callers_request_id_is_kept(base_url: str) -> None:
    reply = http("GET", f"{base_url}/v1/pipelines?page_size=1", headers={"x-request-id": "e2e-request-42"})

    assert reply.status == 200
    assert reply.headers["x-request-id"] == "e2e-request-42"
