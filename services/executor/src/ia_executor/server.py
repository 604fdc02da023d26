"""Starts the executor: `ia-executor --port N` or `python -m ia_executor.server --port N`.

IA_REGISTRY_ADDRESS says where the registry is (default localhost:50051);
IA_PLUGIN_HOST_ADDRESS where the plugin host is (without it, plugin steps fail
with PLUGIN_UNAVAILABLE). On start, every run that had not ended is resumed from
its last checkpoint.

On PostgreSQL (IA_DATABASE_URL=postgresql://...) several executors may share the
database: each run is owned under a lease of IA_EXECUTOR_LEASE_S seconds (default
10), and the runs of a replica that stops are taken over by the others (leases.py).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from ia.executor.v1 import service_pb2_grpc
from ia_service_kit.database import Database
from ia_service_kit.logging import get_logger
from ia_service_kit.pagination import PageTokens
from ia_service_kit.server import ServiceConfig, Wiring, run

from ia_executor.definitions import Definitions
from ia_executor.leases import lease_from_env
from ia_executor.plugins import PluginRunner, plugin_host_address
from ia_executor.runs import Runs
from ia_executor.service import ExecutorService
from ia_executor.store import MIGRATIONS, Lease, RunStore
from ia_executor.work import StepRunner

NAME = "executor"
DEFAULT_PORT = 50052
DEFAULT_REGISTRY_ADDRESS = "localhost:50051"

log = get_logger(__name__)


def registry_address() -> str:
    """Where the registry listens: IA_REGISTRY_ADDRESS, else localhost:50051."""
    return os.environ.get("IA_REGISTRY_ADDRESS") or DEFAULT_REGISTRY_ADDRESS


async def wire(
    config: ServiceConfig,
    *,
    registry: str | None = None,
    runner: StepRunner | None = None,
    clock: Callable[[], float] = time.time,
    lease: Lease | None = None,
) -> Wiring:
    """The executor's parts: database, store, runs (resumed) and the gRPC service.

    ``registry``, ``runner``, ``clock`` and ``lease`` replace the defaults (tests
    pass their own). Runs are leased only on PostgreSQL.
    """
    database = Database.for_service(config, MIGRATIONS)
    if database.dialect != "postgresql":
        lease = None
    elif lease is None:
        lease = lease_from_env()
    on_stop: list[Callable[[], Awaitable[None]]] = []
    address = plugin_host_address()
    if runner is None and address is not None:
        # The runner records plugin logs in the runs, which are built with it.
        plugins = PluginRunner(address, report=lambda run_id, body: runs.note(run_id, body), clock=clock)
        runner = plugins
        on_stop.append(plugins.close)
    runs = Runs(
        RunStore(database, lease),
        Definitions(registry or registry_address()),
        PageTokens.for_database(database),
        runner=runner,
        clock=clock,
        lease=lease,
    )
    resumed = await runs.resume_all()
    if resumed:
        log.info("runs resumed", count=resumed)
    return Wiring(
        servicers=[(service_pb2_grpc.add_ExecutorServiceServicer_to_server, ExecutorService(runs))],
        database=database,
        on_stop=[runs.stop, *on_stop],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serves until SIGTERM or SIGINT; exit code 0 after a clean shutdown."""
    # What is loaded by now (modules, classes, functions) lives as long as the
    # process: out of the garbage collector's sight, a full collection no longer
    # walks it (each one paused the executor for tens of milliseconds under load).
    gc.freeze()
    return run(ServiceConfig.from_args(NAME, DEFAULT_PORT, argv), wire)


if __name__ == "__main__":
    sys.exit(main())
