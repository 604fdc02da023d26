"""Runs a real grpc.aio service in-process, on its own event-loop thread.

The CLI and the synchronous client block the calling thread, so the service gets
a loop of its own that keeps serving while a test waits on a reply.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from ia_service_kit.server import RunningServer, ServiceConfig, Wire, start

_START_TIMEOUT_S = 30


class BackgroundService:
    """A started service; `address` to dial, `stop()` to end it."""

    def __init__(self, name: str, wire: Wire, data_dir: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"{name}-loop", daemon=True)
        self._thread.start()
        config = ServiceConfig(name=name, default_port=0, port=0, data_dir=data_dir)
        self._running: RunningServer = asyncio.run_coroutine_threadsafe(start(config, wire), self._loop).result(
            _START_TIMEOUT_S
        )

    @property
    def address(self) -> str:
        return self._running.address

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._running.stop(grace=0), self._loop).result(_START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT_S)
        self._loop.close()
