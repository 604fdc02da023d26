"""What a plugin function gets besides its config and data: the call it serves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import timestamp_pb2

from ia.plugin.v1 import message_pb2, request_response_pb2
from ia_modules.client import to_struct

_LEVELS = {
    "debug": (message_pb2.LOG_LEVEL_DEBUG, logging.DEBUG),
    "info": (message_pb2.LOG_LEVEL_INFO, logging.INFO),
    "warning": (message_pb2.LOG_LEVEL_WARNING, logging.WARNING),
    "error": (message_pb2.LOG_LEVEL_ERROR, logging.ERROR),
}

Emit = Callable[[request_response_pb2.ExecuteStepResponse], None]


@dataclass
class PluginContext:
    """The call a plugin function is serving.

    `idempotency_key` is the same for every attempt of one step iteration: a plugin
    with side effects (a payment, an e-mail) uses it to do them once. Step plugins
    stream `log` lines and `progress` to the caller, and report what they spent
    with `record_cost`.
    """

    plugin: str
    run_id: str = ""
    step_id: str = ""
    attempt: int = 0
    idempotency_key: str = ""
    pipeline: str = ""
    # time.monotonic() by which the call must end; None without a deadline.
    deadline: float | None = None
    cost_usd: float = 0.0
    api_calls: int = 0
    logger: logging.Logger = field(init=False)
    _emit: Emit | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.logger = logging.getLogger(f"plugin.{self.plugin}")

    @classmethod
    def for_call(
        cls,
        plugin: str,
        call: message_pb2.CallContext,
        *,
        deadline: float | None = None,
        emit: Emit | None = None,
    ) -> PluginContext:
        """The context of one PluginService call."""
        return cls(
            plugin=plugin,
            run_id=call.run_id,
            step_id=call.step_id,
            attempt=call.attempt,
            idempotency_key=call.idempotency_key,
            pipeline=call.pipeline,
            deadline=deadline,
            _emit=emit,
            _loop=asyncio.get_running_loop() if emit is not None else None,
        )

    def time_remaining(self) -> float | None:
        """Seconds left before the call's deadline, or None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def log(self, message: str, level: str = "info", **fields: Any) -> None:
        """Logs a line; a step plugin also streams it to the caller (the run's events)."""
        proto_level, python_level = _LEVELS.get(level.lower(), _LEVELS["info"])
        self.logger.log(python_level, message, extra={"fields": fields} if fields else None)
        if self._emit is not None:
            now = timestamp_pb2.Timestamp()
            now.GetCurrentTime()
            record = message_pb2.LogRecord(level=proto_level, message=message, fields=to_struct(fields), time=now)
            self._send(request_response_pb2.ExecuteStepResponse(log=record))

    def progress(self, fraction: float, message: str = "") -> None:
        """Reports how far a step has got, from 0 to 1."""
        if self._emit is not None:
            clamped = min(1.0, max(0.0, float(fraction)))
            self._send(
                request_response_pb2.ExecuteStepResponse(
                    progress=message_pb2.Progress(fraction=clamped, message=message)
                )
            )

    def record_cost(self, usd: float = 0.0, api_calls: int = 0) -> None:
        """Adds to what the step spent; sent with its result."""
        self.cost_usd += usd
        self.api_calls += api_calls

    def _send(self, message: request_response_pb2.ExecuteStepResponse) -> None:
        assert self._emit is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # Sync plugin functions run in a worker thread; the stream lives on the loop.
        if self._loop is not None and running is not self._loop:
            self._loop.call_soon_threadsafe(self._emit, message)
        else:
            self._emit(message)
