"""Plugins in three languages behind one plugin host, each in its own bubblewrap
sandbox: Python (a step class run by the built-in `python_step` plugin, and the
built-in `jmespath` transform), Go (sdk/go/examples/plugin: `go_upper`,
`go_even`) and TypeScript (sdk/typescript/examples/plugin: `ts_reverse`).

The stack is a real one (`ia_modules.stack.up`) whose plugin host reads a
private IA_PLUGINS_DIR holding links to the two example folders. One pipeline
runs through the executor with a step in each language and a Go condition;
the other tests call the plugins the way the executor does: ResolvePlugin at
the host, then PluginService straight to the plugin's Unix socket.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest

from ia.executor.v1 import message_pb2 as executor_messages
from ia.plugin.v1 import message_pb2 as plugin_messages
from ia.pluginhost.v1 import message_pb2 as host_messages
from ia.pluginhost.v1 import request_response_pb2 as host_requests
from ia.pluginhost.v1 import service_pb2_grpc as host_services
from ia_modules import stack
from ia_modules.client import Client, to_dict
from ia_modules.errors import IAError
from ia_modules.plugin.client import PluginClient

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]
GO_PLUGIN = ROOT / "sdk" / "go" / "examples" / "plugin"
TS_PLUGIN = ROOT / "sdk" / "typescript" / "examples" / "plugin"
BUILT = {
    GO_PLUGIN / "bin" / "plugin": "scripts/gen_clients.sh go",
    TS_PLUGIN / "dist" / "examples" / "plugin" / "src" / "main.js": "scripts/gen_clients.sh typescript",
}


STEP_CLASSES = '''
from ia_modules.pipeline.core import Step


class Shape(Step):
    async def run(self, data):
        return {"text": data["name"], "n": data["count"]}
'''

PIPELINE = {
    "name": "polyglot",
    "parameters": {"name": "ada lovelace", "count": 4},
    "steps": [
        {"id": "shape", "module": "polyglot_steps", "step_class": "Shape"},
        {"id": "shout", "plugin": "go_upper", "config": {"field": "text"}, "inputs": {"text": "{{ shape.text }}"}},
        {"id": "mirror", "plugin": "ts_reverse", "inputs": {"text": "{{ shout.text }}"}},
    ],
    "flow": {
        "start_at": "shape",
        "transitions": [
            {
                "from": "shape",
                "to": "shout",
                "condition": {"type": "plugin", "plugin": "go_even", "config": {"field": "n"}},
            },
            {"from": "shout", "to": "mirror"},
        ],
    },
}


@pytest.fixture(scope="module")
def polyglot_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackStatus]:
    """A stack whose plugin host also serves the Go and TypeScript example plugins."""
    missing = [
        f"{path.relative_to(ROOT)} (build it with `{command}`)" for path, command in BUILT.items() if not path.exists()
    ]
    # `make test` builds and installs all of these, so under CI their absence is a failure.
    absent = pytest.fail if os.environ.get("CI") else pytest.skip
    if missing:
        absent(f"example plugins not built: {', '.join(missing)}")
    if shutil.which("bwrap") is None:
        absent("bubblewrap is not installed (`make tools` installs it)")
    data_dir = tmp_path_factory.mktemp("polyglot")
    plugins_dir = data_dir / "plugin-folders"
    plugins_dir.mkdir()
    (plugins_dir / "go_example").symlink_to(GO_PLUGIN)
    (plugins_dir / "ts_example").symlink_to(TS_PLUGIN)
    steps_dir = data_dir / "steps"
    steps_dir.mkdir()
    (steps_dir / "polyglot_steps.py").write_text(STEP_CLASSES)
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IA_PLUGINS_DIR", str(plugins_dir))
        env.setenv("IA_STEPS_PATH", str(steps_dir))
        env.delenv("IA_PLUGINS_UNSANDBOXED", raising=False)
        status = stack.up(data_dir, ports=ports)
    try:
        yield status
    finally:
        stack.down(data_dir)


@pytest.fixture(scope="module")
def plugin_host_address(polyglot_stack: stack.StackStatus) -> str:
    return f"127.0.0.1:{polyglot_stack.services['plugin_host'].port}"


@pytest.mark.parametrize(("count", "mirrored"), [(4, "ECALEVOL ADA"), (7, None)])
def test_a_pipeline_runs_steps_in_python_go_and_typescript_plugins(
    polyglot_stack: stack.StackStatus, count: int, mirrored: str | None
) -> None:
    name = f"polyglot-{uuid.uuid4().hex[:10]}"
    with Client(f"127.0.0.1:{polyglot_stack.services[stack.ENVOY].port}") as client:
        client.create_pipeline({**PIPELINE, "name": name})
        run = client.wait_run(client.start_run(name, inputs={"count": count}).run_id)

    steps = {step.step_id: step for step in run.steps}
    assert run.state == executor_messages.RUN_STATE_SUCCEEDED, run.error
    assert to_dict(steps["shape"].output) == {"text": "ada lovelace", "n": count}
    if mirrored is None:
        # go_even said no: the Go and TypeScript steps never run.
        assert {steps[s].state for s in ("shout", "mirror")} == {executor_messages.STEP_STATE_SKIPPED}
        return
    assert to_dict(steps["shout"].output) == {"text": "ADA LOVELACE"}
    assert to_dict(steps["mirror"].output) == {"text": mirrored}


async def resolve(address: str, name: str, kind: int) -> tuple[str, host_messages.Plugin]:
    """The endpoint of plugin `name` (waiting while its process starts), and what the host says of it."""
    async with grpc.aio.insecure_channel(address) as channel:
        host = host_services.PluginHostServiceStub(channel)
        resolved = await host.ResolvePlugin(host_requests.ResolvePluginRequest(name=name, kind=kind), timeout=30)
        described = await host.GetPlugin(host_requests.GetPluginRequest(name=name), timeout=10)
    return resolved.endpoint, described.plugin


async def test_one_record_flows_through_sandboxed_python_go_and_typescript_plugins(plugin_host_address: str) -> None:
    record = {"person": {"name": "ada lovelace"}, "count": 4}

    endpoints = {}
    for name, kind in [
        ("python_step", plugin_messages.PLUGIN_KIND_STEP),
        ("jmespath", plugin_messages.PLUGIN_KIND_TRANSFORM),
        ("go_even", plugin_messages.PLUGIN_KIND_CONDITION),
        ("go_upper", plugin_messages.PLUGIN_KIND_STEP),
        ("ts_reverse", plugin_messages.PLUGIN_KIND_STEP),
    ]:
        endpoints[name], plugin = await resolve(plugin_host_address, name, kind)
        assert plugin.health == host_messages.PLUGIN_HEALTH_SERVING, plugin.last_error
        assert plugin.sandbox == host_messages.SANDBOX_MODE_BUBBLEWRAP
        assert endpoints[name].startswith("unix://")

    async with PluginClient(endpoints["jmespath"]) as python:
        shaped = await python.transform("jmespath", {"mapping": {"text": "person.name", "n": "count"}}, record)
    async with PluginClient(endpoints["go_even"]) as go:
        even = await go.evaluate_condition("go_even", {"field": "n"}, shaped)
        odd = await go.evaluate_condition("go_even", {}, {"n": 7})
        shouted = await go.execute_step("go_upper", {"field": "text"}, shaped)
    async with PluginClient(endpoints["ts_reverse"]) as typescript:
        mirrored = await typescript.execute_step("ts_reverse", {}, shouted.output)

    assert shaped == {"text": "ada lovelace", "n": 4}
    assert (even.result, odd.result) == (True, False)
    assert shouted.output == {"text": "ADA LOVELACE"}
    assert mirrored.output == {"text": "ECALEVOL ADA"}


async def test_go_and_typescript_plugins_describe_themselves(plugin_host_address: str) -> None:
    go_endpoint, _ = await resolve(plugin_host_address, "go_upper", plugin_messages.PLUGIN_KIND_STEP)
    ts_endpoint, _ = await resolve(plugin_host_address, "ts_reverse", plugin_messages.PLUGIN_KIND_STEP)

    async with PluginClient(go_endpoint) as go, PluginClient(ts_endpoint) as typescript:
        go_plugins = {d.name: list(d.kinds) for d in await go.describe()}
        ts_plugins = {d.name: list(d.kinds) for d in await typescript.describe()}

    assert go_plugins == {
        "go_even": [plugin_messages.PLUGIN_KIND_CONDITION],
        "go_upper": [plugin_messages.PLUGIN_KIND_STEP],
    }
    assert ts_plugins == {"ts_reverse": [plugin_messages.PLUGIN_KIND_STEP]}


@pytest.mark.parametrize(
    ("name", "call", "code", "reason", "field"),
    [
        ("go_upper", "bad input", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "input.text"),
        ("go_upper", "bad config", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CONFIG", "config.field"),
        ("go_upper", "unknown plugin", grpc.StatusCode.NOT_FOUND, "PLUGIN_NOT_FOUND", None),
        ("ts_reverse", "bad input", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "input.text"),
        ("ts_reverse", "bad config", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CONFIG", "config.field"),
        ("ts_reverse", "unknown plugin", grpc.StatusCode.NOT_FOUND, "PLUGIN_NOT_FOUND", None),
    ],
)
async def test_go_and_typescript_plugins_fail_with_the_contract_error_details(
    plugin_host_address: str, name: str, call: str, code: grpc.StatusCode, reason: str, field: str | None
) -> None:
    endpoint, _ = await resolve(plugin_host_address, name, plugin_messages.PLUGIN_KIND_STEP)
    plugin, config, data = {
        "bad input": (name, {}, {"text": 42}),
        "bad config": (name, {"field": ""}, {"text": "x"}),
        "unknown plugin": ("no_such_plugin", {}, {}),
    }[call]

    async with PluginClient(endpoint) as client:
        with pytest.raises(IAError) as raised:
            await client.execute_step(plugin, config, data)

    assert raised.value.code == code
    assert raised.value.reason == reason
    if field is not None:
        assert [violation[0] for violation in raised.value.field_violations] == [field]


@pytest.mark.parametrize("command", [[str(GO_PLUGIN / "bin" / "plugin")], ["node", "dist/examples/plugin/src/main.js"]])
def test_the_example_plugins_refuse_to_run_outside_a_plugin_host(command: list[str]) -> None:
    folder = GO_PLUGIN if len(command) == 1 else TS_PLUGIN
    if not (folder / command[-1]).exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the example plugin in {folder.relative_to(ROOT)} is not built (scripts/gen_clients.sh)")

    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=10, env={"PATH": os.environ["PATH"]}
    )

    assert result.returncode == 1
    assert "started by the plugin host" in result.stderr
    assert result.stdout == ""
