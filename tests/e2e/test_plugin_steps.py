"""A pipeline whose steps and conditions are plugins, run through Envoy by the whole stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ia.executor.v1 import message_pb2
from ia_modules.client import Client
from ia_modules.engine.values import from_struct

from e2e_http import json_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def warehouse() -> Iterator[str]:
    """A stock level, as a warehouse API would answer."""
    with json_server({"sku": "book", "stock": 12}, "/stock") as url:
        yield url


def test_a_pipeline_of_plugin_steps_and_a_plugin_condition_succeeds(
    client: Client, pipeline_name: str, warehouse: str
) -> None:
    in_stock = {
        "type": "plugin",
        "plugin": "threshold_condition",
        "config": {"field": "stock", "operator": ">", "value": 0},
    }
    definition = {
        "name": pipeline_name,
        "steps": [
            {"id": "fetch", "plugin": "http_request", "config": {"url": warehouse}},
            {"id": "stock", "type": "pass", "inputs": {"stock": "{{ steps.fetch.output.json.stock }}"}},
            {"id": "ship", "type": "pass", "config": {"values": {"decision": "ship"}}},
        ],
        "flow": {
            "transitions": [
                {"from": "fetch", "to": "stock"},
                {"from": "stock", "to": "ship", "condition": in_stock},
            ]
        },
    }

    events: list[message_pb2.RunEvent] = []
    run = client.start_run(definition)
    finished = client.wait_run(run.run_id, on_event=events.append)

    assert message_pb2.RunState.Name(finished.state) == "RUN_STATE_SUCCEEDED", finished.error.message
    assert from_struct(finished.outputs)["decision"] == "ship"
    assert "http request" in [e.step_log.message for e in events if e.HasField("step_log")]
