"""The stack launcher: status, idempotent `up`, restart of a killed service, and the
Envoy config it renders."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from ia.executor.v1 import service_pb2 as executor_service_pb2
from ia.registry.v1 import service_pb2 as registry_service_pb2
from ia_modules import stack
from ia_modules.client import Client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "deploy" / "envoy" / "envoy.yaml").read_text()
API_DESCRIPTOR = ROOT / "build" / "api_descriptor.pb"


def kill_and_wait(pid: int) -> None:
    """SIGKILL a process and wait until it is gone."""
    descriptor = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        readable, _, _ = select.select([descriptor], [], [], 30)
        assert readable, f"process {pid} survived SIGKILL"
    finally:
        os.close(descriptor)


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_status_reports_every_process_healthy(ia_stack: stack.StackStatus) -> None:
    current = stack.status(ia_stack.data_dir)

    assert list(current.services) == [*(s.name for s in stack.SERVICES), stack.ENVOY]
    assert current.healthy
    assert current.endpoint == ia_stack.endpoint
    assert all(p.log_path.is_file() for p in current.services.values())


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_up_on_a_running_stack_starts_nothing(ia_stack: stack.StackStatus) -> None:
    again = stack.up(ia_stack.data_dir)

    assert again.started == ()
    assert again.endpoint == ia_stack.endpoint
    assert {n: p.pid for n, p in again.services.items()} == {n: p.pid for n, p in ia_stack.services.items()}


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_a_killed_registry_comes_back_with_every_version(
    ia_stack: stack.StackStatus, client: Client, example, pipeline_name: str
) -> None:
    definition = example("hello.json", pipeline_name)
    first = client.create_pipeline(definition).pipeline
    definition["description"] = "second revision"
    client.update_pipeline(definition)

    kill_and_wait(stack.status(ia_stack.data_dir).services["registry"].pid)
    assert not stack.status(ia_stack.data_dir).services["registry"].running
    restarted = stack.up(ia_stack.data_dir)

    assert restarted.started == ("registry",)
    assert restarted.services["registry"].port == ia_stack.services["registry"].port
    assert [v.revision for v in client.list_versions(pipeline_name)] == [2, 1]
    assert client.get_pipeline(pipeline_name, revision=1).content_hash == first.content_hash
    assert client.get_pipeline(pipeline_name).definition.description == "second revision"


def test_a_service_that_is_not_installed_is_named_before_anything_starts(tmp_path: Path, monkeypatch) -> None:
    missing = stack.ServiceSpec("scheduler", "ia_scheduler_not_installed.server", 0, ())
    monkeypatch.setattr(stack, "SERVICES", (*stack.SERVICES, missing))

    # Free ports all round: were the check ever to miss, nothing may take the default ports.
    everywhere = {name: 0 for name in ("envoy", "envoy_admin", *(s.name for s in stack.SERVICES))}
    with pytest.raises(stack.StackError, match=r"not installed: .*scheduler \(ia_scheduler_not_installed.server\)"):
        stack.up(tmp_path, ports=everywhere)

    assert not (tmp_path / stack.STATE_FILE).exists()


def test_a_service_that_exits_while_starting_is_named_with_its_log(tmp_path: Path, monkeypatch) -> None:
    # json.tool fails on `--port 0` at once, as a service with a broken setup would.
    monkeypatch.setattr(stack, "SERVICES", (stack.ServiceSpec("registry", "json.tool", 0, ()),))

    with pytest.raises(stack.StackError) as caught:
        stack.up(tmp_path, ports={"registry": 0})

    assert re.search(r"registry \(pid \d+\) exited while starting", str(caught.value))
    assert "json.tool: error" in str(caught.value)
    assert not (tmp_path / stack.STATE_FILE).exists()


def pid_in(message: str) -> int:
    return int(re.search(r"\(pid (\d+)\)", message).group(1))


@pytest.mark.parametrize(
    ("silent", "problem"),
    [("", "did not report SERVING on grpc.health.v1 in time"), ("1", "did not report `listening on <host>:<port>` in time")],
)
def test_a_service_that_never_serves_is_stopped_after_the_timeout(
    tmp_path: Path, monkeypatch, free_ports, silent: str, problem: str
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent), prepend=os.pathsep)
    monkeypatch.setenv("NEVER_SERVING_SILENT", silent)
    monkeypatch.setattr(stack, "SERVICES", tuple(stack.ServiceSpec(s.name, "never_serving", 0, ()) for s in stack.SERVICES))

    with pytest.raises(stack.StackError) as caught:
        stack.up(tmp_path, ports=free_ports, timeout_s=1)

    message = str(caught.value)
    assert problem in message
    assert f"last lines of {tmp_path / 'logs'}" in message
    with pytest.raises(ProcessLookupError):
        os.kill(pid_in(message), 0)
    assert not (tmp_path / stack.STATE_FILE).exists()
    assert stack.down(tmp_path) == []


def test_a_row_that_needs_a_missing_service_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(stack, "SERVICES", (stack.ServiceSpec("registry", "json.tool", 0, (), needs=("billing",)),))

    with pytest.raises(stack.StackError, match=r"rows \['registry'\] need services that never start"):
        stack.up(tmp_path)


def test_a_recorded_pid_that_now_belongs_to_another_program_is_left_alone(tmp_path: Path) -> None:
    # After a reboot, stack.json may name pids that other programs now have: here, this test's own.
    record = {"pid": os.getpid(), "port": 50051, "log": "logs/registry.log", "marker": "ia_registry.server", "log_offset": 0}
    (tmp_path / stack.STATE_FILE).write_text(json.dumps({"processes": {"registry": record}, "admin_port": 9901}))

    assert not stack.status(tmp_path).services["registry"].running
    assert stack.down(tmp_path) == []
    assert not (tmp_path / stack.STATE_FILE).exists()


def test_an_unreadable_state_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / stack.STATE_FILE).write_text("{not json")

    with pytest.raises(stack.StackError, match="stack.json is unreadable"):
        stack.status(tmp_path)


def test_down_without_a_stack_stops_nothing(tmp_path: Path) -> None:
    assert stack.down(tmp_path / "never-used") == []
    assert stack.status(tmp_path).services == {}
    assert not stack.status(tmp_path).running


def test_ports_come_from_arguments_then_environment_then_defaults(monkeypatch) -> None:
    monkeypatch.setenv("IA_REGISTRY_PORT", "6001")
    monkeypatch.delenv("IA_EXECUTOR_PORT", raising=False)
    monkeypatch.delenv("IA_ENVOY_ADMIN_PORT", raising=False)

    ports = stack._resolve_ports({"envoy": 7000})

    assert ports["envoy"] == 7000
    assert ports["registry"] == 6001
    assert ports["envoy_admin"] == 9901
    assert ports["executor"] == 50052
    assert set(ports) == {"envoy", "envoy_admin", *(s.name for s in stack.SERVICES)}


@pytest.mark.parametrize(("value", "ports"), [("http", None), ("70000", None), (None, {"gateway": 1})])
def test_bad_ports_are_refused_clearly(monkeypatch, value: str | None, ports: dict | None) -> None:
    if value is not None:
        monkeypatch.setenv("IA_ENVOY_PORT", value)

    with pytest.raises(stack.StackError, match="IA_ENVOY_PORT|unknown port name"):
        stack._resolve_ports(ports)


def render(tmp_path: Path) -> str:
    return stack.render_envoy_config(
        TEMPLATE,
        descriptor_set=tmp_path / "api.pb",
        envoy_port=8080,
        admin_port=9901,
        upstream_ports={s.name: 50051 + i for i, s in enumerate(stack.SERVICES)},
    )


def test_every_service_row_has_a_route_a_cluster_and_rest(tmp_path: Path) -> None:
    rendered = render(tmp_path)

    for i, spec in enumerate(stack.SERVICES):
        assert re.search(rf"- name: {spec.name}\n(.*\n)*?.*port_value: {50051 + i} }}", rendered)
        for service in spec.grpc_services:
            # The route, possibly after a comment, then the transcoder's list.
            assert re.search(rf"prefix: /{re.escape(service)}/ }}\n(\s*#.*\n)*\s*route: {{ cluster: {spec.name},", rendered)
            assert re.search(rf"services:\n(\s*- .*\n)*?\s*- {re.escape(service)}\n", rendered)


def test_the_rendered_config_is_valid_for_envoy(tmp_path: Path) -> None:
    shutil.copyfile(API_DESCRIPTOR, tmp_path / "api.pb")
    (tmp_path / "envoy.yaml").write_text(render(tmp_path))

    result = subprocess.run(
        [stack._envoy_binary(), "--mode", "validate", "--config-path", str(tmp_path / "envoy.yaml"), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_service_names_match_the_stack_rows() -> None:
    served = {name for spec in stack.SERVICES for name in spec.grpc_services}

    assert registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name in served
    assert executor_service_pb2.DESCRIPTOR.services_by_name["ExecutorService"].full_name in served


def test_a_template_variable_without_a_row_is_reported() -> None:
    with pytest.raises(stack.StackError, match="EXECUTOR_HOST"):
        stack.render_envoy_config(
            TEMPLATE, descriptor_set=Path("api.pb"), envoy_port=1, admin_port=2, upstream_ports={"registry": 3}
        )


def test_the_descriptor_set_carries_the_error_detail_types() -> None:
    from google.protobuf import descriptor_pb2

    files = [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(API_DESCRIPTOR.read_bytes()).file]

    assert "google/rpc/error_details.proto" in files
    assert "google/rpc/status.proto" in files
    assert "ia/registry/v1/service.proto" in files

