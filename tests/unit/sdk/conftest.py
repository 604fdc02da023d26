"""Fixtures of the SDK tests: a scripted executor double on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from executor_double import ExecutorDouble

from ia.executor.v1 import service_pb2_grpc


@pytest.fixture
def executor() -> Iterator[ExecutorDouble]:
    """An ExecutorDouble serving on a free loopback port."""
    double = ExecutorDouble()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    service_pb2_grpc.add_ExecutorServiceServicer_to_server(double, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    double.endpoint = f"127.0.0.1:{port}"
    yield double
    server.stop(grace=None)


@pytest.fixture(autouse=True)
def instant_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect without the backoff delay; the delay itself is not under test."""
    monkeypatch.setattr("ia_modules.client._reconnect_delay", lambda failures: 0.0)
