"""The Python SDK through Envoy, as a user's program would call it."""

from __future__ import annotations

import grpc
import pytest

from ia_modules.client import Client
from ia_modules.errors import IAError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_create_update_and_read_back_versions(client: Client, example, pipeline_name: str) -> None:
    definition = example("hello.json", pipeline_name)
    created = client.create_pipeline(definition).pipeline
    definition["description"] = "second revision"
    updated = client.update_pipeline(definition, etag=created.etag).pipeline

    versions = [v.revision for v in client.list_versions(pipeline_name)]

    assert (created.revision, updated.revision) == (1, 2)
    assert versions == [2, 1]
    assert client.get_pipeline(pipeline_name).definition.description == "second revision"
    assert client.get_pipeline(pipeline_name, revision=1).definition.description == created.definition.description


def test_errors_arrive_as_one_error_type_with_the_reason(client: Client) -> None:
    with pytest.raises(IAError) as caught:
        client.get_pipeline("no-such-pipeline")

    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    assert caught.value.reason == "PIPELINE_NOT_FOUND"


def test_validate_reports_findings_without_storing(client: Client, example, pipeline_name: str) -> None:
    definition = example("approval.json", pipeline_name)
    definition["flow"]["transitions"][1]["to"] = "nowhere"

    result = client.validate(definition)

    assert not result.valid
    assert "flow.transitions[1].to" in [f.path for f in result.findings]
