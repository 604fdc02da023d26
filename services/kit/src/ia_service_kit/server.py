"""Boots a service: one grpc.aio server with health, reflection, error handling and
graceful shutdown, so a service's own `server.py` only wires its parts together::

    def wire(config: ServiceConfig) -> Wiring:
        database = Database.for_service(config, MIGRATIONS)
        return Wiring(servicers=[(add_XServiceServicer_to_server, XService(...))], database=database)

    def main() -> int:
        return run(ServiceConfig.from_args("x", 50059), wire)
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

import ia
from ia_modules.limits import DEFAULTS, ENV, limit_from_env
from ia_service_kit.auth import AuthInterceptor, Authenticator, AuthSettings, AuthSettingsError
from ia_service_kit.config import ServiceConfig, SettingsError
from ia_service_kit.database import Database
from ia_service_kit.errors import ErrorInterceptor
from ia_service_kit.logging import configure_logging, get_logger
from ia_service_kit.telemetry import TelemetrySettingsError, configure_tracing, serve_metrics, server_interceptors

__all__ = ["RunningServer", "ServiceConfig", "Wiring", "public_service_names", "run", "serve", "start"]


log = get_logger(__name__)

AddServicer = Callable[[Any, grpc.aio.Server], None]


@dataclass
class Wiring:
    """What a service plugs into the shared server.

    `servicers` pairs each generated `add_XServicer_to_server` with its
    implementation. Each of `on_start` is awaited once the port is bound and
    before health turns SERVING (start background work there, not in `wire`, so a
    failed bind leaves nothing running). Each of `on_stop` is awaited, and then
    `database` closed, after the last in-flight call has finished.
    """

    servicers: Sequence[tuple[AddServicer, object]]
    database: Database | None = None
    on_start: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=tuple)
    on_stop: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=tuple)


Wire = Callable[[ServiceConfig], "Wiring | Awaitable[Wiring]"]


def public_service_names() -> list[str]:
    """Every `ia.<area>.v1.<Name>Service` in the generated `ia` package, sorted."""
    names: set[str] = set()
    for module_info in pkgutil.walk_packages(ia.__path__, prefix="ia."):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(module_info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            names.add(service.full_name)
    return sorted(names)


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RunningServer:
    """A started service: its bound port, and how to stop it."""

    def __init__(
        self,
        config: ServiceConfig,
        server: grpc.aio.Server,
        port: int,
        health_servicer: health.aio.HealthServicer,
        wiring: Wiring,
    ) -> None:
        self.config = config
        self.port = port
        self._server = server
        self._health = health_servicer
        self._wiring = wiring
        self._stopped = False

    @property
    def address(self) -> str:
        """`host:port` to dial."""
        return _endpoint(self.config.host, self.port)

    async def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING, stop accepting calls, let in-flight calls finish within
        `grace` seconds (default: the config's grace period), then release resources."""
        if self._stopped:
            return
        self._stopped = True
        grace_s = self.config.grace_period_s if grace is None else grace
        log.info("shutting down", grace_s=grace_s)
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_s)
        for hook in self._wiring.on_stop:
            await hook()
        if self._wiring.database is not None:
            self._wiring.database.close()
        log.info("stopped")

    async def wait_for_termination(self) -> None:
        """Returns when the server has stopped."""
        await self._server.wait_for_termination()


async def start(config: ServiceConfig, wire: Wire, *, auth: AuthSettings | None = None) -> RunningServer:
    """Wires the service, binds, starts serving and marks it SERVING.

    `auth` defaults to the settings in the environment (see `ia_service_kit.auth`).
    Raises OSError when the port cannot be bound, AuthSettingsError when a
    non-loopback address is to be bound without authentication.
    """
    auth = auth or AuthSettings.from_env(config.data_dir)
    wiring = wire(config)
    if inspect.isawaitable(wiring):
        wiring = await wiring
    authenticator = Authenticator.for_settings(auth)
    # IA_MAX_MESSAGE_BYTES: the error interceptor refuses a bigger request naming the
    # limit. grpc itself takes up to twice that (plus room for small limits), so the
    # interceptor sees the bytes; beyond it grpc refuses on its own, naming both sizes.
    message_bytes = limit_from_env(ENV["message_bytes"], DEFAULTS.message_bytes)
    receive_bytes = 2 * message_bytes + 1024 * 1024
    server = grpc.aio.server(
        # Telemetry outermost, so it sees the status the error interceptor settles on.
        # Authentication innermost: its refusals are aborts, which the error interceptor passes on.
        interceptors=[*server_interceptors(), ErrorInterceptor(message_bytes), AuthInterceptor(authenticator)],
        options=[
            ("grpc.max_send_message_length", message_bytes),
            ("grpc.max_receive_message_length", receive_bytes),
            # Without this, a second process could bind the same port silently.
            ("grpc.so_reuseport", 0),
        ],
    )
    served: list[str] = []
    for add_servicer, servicer in wiring.servicers:
        add_servicer(servicer, server)
    for add_servicer, _ in wiring.servicers:
        served.extend(_service_names_of(add_servicer))

    health_servicer = health.aio.HealthServicer()
    for name in ["", *served]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    # Envoy forwards `grpcurl list`/`describe` to a single backend while the front
    # door presents one API, so every process describes the whole public API, not
    # only the services it serves itself.
    reflection.enable_server_reflection(
        [*public_service_names(), health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )

    try:
        if config.tls is None:
            port = server.add_insecure_port(_endpoint(config.host, config.bind_port))
        else:
            port = server.add_secure_port(_endpoint(config.host, config.bind_port), config.tls.server_credentials())
    except RuntimeError as error:
        authenticator.close()
        if wiring.database is not None:
            wiring.database.close()
        raise OSError(f"cannot bind {_endpoint(config.host, config.bind_port)}: {error}") from error
    # Checked once the address is known to be bindable, and before anything is served.
    try:
        auth.check_bind(config.host)
    except AuthSettingsError:
        await server.stop(0)
        authenticator.close()
        if wiring.database is not None:
            wiring.database.close()
        raise
    await server.start()
    if auth.enabled:
        jwt = bool(auth.jwt_secret or auth.jwks_file)
        log.info("authentication on", keys=auth.keys_url.split("://", 1)[0], jwt=jwt)
    else:
        log.warning(
            "development mode: no authentication, every caller acts as a trusted service; "
            "allowed only because the address is loopback",
            host=config.host,
        )
    wiring.on_stop = [*wiring.on_stop, _closing(authenticator)]
    for hook in wiring.on_start:
        await hook()
    for name in ["", *served]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        f"listening on {_endpoint(config.host, port)}",
        host=config.host,
        port=port,
        services=",".join(served),
        tls="mutual" if config.tls is not None and config.tls.mutual else "on" if config.tls is not None else "off",
    )
    return RunningServer(config, server, port, health_servicer, wiring)


def _closing(authenticator: Authenticator) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        authenticator.close()

    return close


def _service_names_of(add_servicer: AddServicer) -> list[str]:
    """The service a generated `add_<Name>Servicer_to_server` registers, for per-service health.

    Generated code keeps it in `<file>_pb2_grpc`, next to `<file>_pb2` whose
    descriptor names the service; any other callable yields no name.
    """
    module_name = getattr(add_servicer, "__module__", "") or ""
    short_name = getattr(add_servicer, "__name__", "").removeprefix("add_").removesuffix("Servicer_to_server")
    if not module_name.endswith("_pb2_grpc"):
        return []
    descriptor = importlib.import_module(module_name.removesuffix("_grpc")).DESCRIPTOR
    service = descriptor.services_by_name.get(short_name)
    return [service.full_name] if service is not None else []


async def serve(config: ServiceConfig, wire: Wire, *, stop: asyncio.Event | None = None) -> None:
    """Runs the service until SIGTERM or SIGINT (or until `stop` is set), then shuts
    down gracefully."""
    running = await start(config, wire)
    try:
        metrics = serve_metrics(config)
    except BaseException:
        await running.stop(0)
        raise
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, _on_signal, stop_event, signum)
    try:
        await stop_event.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await running.stop()
        if metrics is not None:
            metrics.close()


def _on_signal(stop_event: asyncio.Event, signum: int) -> None:
    log.info("signal received", signal=signal.Signals(signum).name)
    stop_event.set()


# How long a thread may keep the interpreter while another waits for it (Python's
# default: 5 ms). The span exporter and the store's writer are threads: at the
# default, a reply ready on the event loop could wait 5 ms behind an export batch.
_SWITCH_INTERVAL_S = 0.0005


def run(config: ServiceConfig, wire: Wire, *, tracing: bool = True) -> int:
    """The body of a service's `main()`: logging, tracing, serve until signalled, exit code.

    `tracing=False` keeps the process's own spans to itself (the telemetry service,
    whose spans would come back to it as more spans).
    """
    configure_logging(config.name)
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    tracer = None
    try:
        if tracing:
            tracer = configure_tracing(config.name)
        asyncio.run(serve(config, wire))
    except (OSError, TelemetrySettingsError, AuthSettingsError, SettingsError) as error:
        log.error("cannot start", error=str(error))
        return 1
    except Exception:
        # A database that cannot be opened or migrated, say: one log line with the
        # traceback, and a non-zero exit for the launcher.
        log.exception("cannot start")
        return 1
    finally:
        if tracer is not None:
            tracer.shutdown()
    return 0
