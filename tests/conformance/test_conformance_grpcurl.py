"""grpcurl alone, through Envoy: list and describe the API by reflection, register
a pipeline, start a run and watch it to the end. No generated code on this side."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

# The test also waits for the stack to start.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("conformance"), pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
HELLO = json.loads((Path(__file__).resolve().parent / "scenarios.json").read_text())["pipelines"]["hello"]


@pytest.fixture(scope="module")
def grpcurl() -> str:
    """The grpcurl that `make tools` installs into .tools/bin, else one on PATH."""
    installed = ROOT / ".tools" / "bin" / "grpcurl"
    found = str(installed) if installed.is_file() else shutil.which("grpcurl")
    if found is None:
        message = "grpcurl is not installed; `make tools` installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def grpcurl_ok(grpcurl: str, endpoint: str, *args: str, data: dict | None = None) -> str:
    flags = ["-d", json.dumps(data)] if data is not None else []
    result = subprocess.run(
        [grpcurl, "-plaintext", *flags, endpoint, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def json_stream(text: str) -> list[dict]:
    """grpcurl prints each message of a stream as its own JSON document."""
    decoder, messages, text = json.JSONDecoder(), [], text.strip()
    while text:
        message, end = decoder.raw_decode(text)
        messages.append(message)
        text = text[end:].strip()
    return messages


def test_grpcurl_lists_describes_starts_and_watches_a_run(grpcurl: str, endpoint: str) -> None:
    """One test: each test here could land on another xdist worker and start a stack."""
    services = grpcurl_ok(grpcurl, endpoint, "list").split()
    executor = grpcurl_ok(grpcurl, endpoint, "describe", "ia.executor.v1.ExecutorService")
    run_message = grpcurl_ok(grpcurl, endpoint, "describe", "ia.executor.v1.Run")
    name = f"grpcurl-{uuid.uuid4().hex[:8]}"
    grpcurl_ok(grpcurl, endpoint, "ia.registry.v1.RegistryService/CreatePipeline", data={"pipeline": {**HELLO, "name": name}})
    started = json.loads(
        grpcurl_ok(
            grpcurl, endpoint, "ia.executor.v1.ExecutorService/StartRun",
            data={"pipeline_name": name, "inputs": {"who": "grpcurl", "times": 2}},
        )
    )  # fmt: skip
    watched = grpcurl_ok(
        grpcurl, endpoint, "ia.executor.v1.ExecutorService/WatchRun", data={"run_id": started["run"]["run_id"]}
    )
    events = [message["event"] for message in json_stream(watched)]

    assert {"ia.registry.v1.RegistryService", "ia.executor.v1.ExecutorService"} <= set(services)
    assert "rpc StartRun ( .ia.executor.v1.StartRunRequest )" in executor
    assert (
        "rpc WatchRun ( .ia.executor.v1.WatchRunRequest ) returns ( stream .ia.executor.v1.WatchRunResponse )"
        in executor
    )
    assert "repeated .ia.executor.v1.StepRun steps" in run_message
    assert [int(event["sequence"]) for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["run_state_changed"]["state"] == "RUN_STATE_SUCCEEDED"
    [outputs] = [event["outputs"]["outputs"] for event in events if "outputs" in event]
    assert outputs == {"greeting": "Hello, grpcurl!", "language": "en", "signed_by": "IA Modules"}
