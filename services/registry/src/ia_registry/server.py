"""Starts the registry: `ia-registry --port N` or `python -m ia_registry.server --port N`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ia.registry.v1 import service_pb2_grpc
from ia_registry.registry import Registry
from ia_registry.service import RegistryService
from ia_registry.store import MIGRATIONS, PipelineStore
from ia_service_kit.database import Database
from ia_service_kit.pagination import PageTokens
from ia_service_kit.server import ServiceConfig, Wiring, run

NAME = "registry"
DEFAULT_PORT = 50051


def wire(config: ServiceConfig) -> Wiring:
    """The registry's parts: its database, store, domain and gRPC service."""
    database = Database.for_service(config, MIGRATIONS)
    registry = Registry(PipelineStore(database), PageTokens.for_database(database))
    return Wiring(
        servicers=[(service_pb2_grpc.add_RegistryServiceServicer_to_server, RegistryService(registry))],
        database=database,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serves until SIGTERM or SIGINT; exit code 0 after a clean shutdown."""
    return run(ServiceConfig.from_args(NAME, DEFAULT_PORT, argv), wire)


if __name__ == "__main__":
    sys.exit(main())
