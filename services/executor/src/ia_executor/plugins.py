"""Running plugin steps, Python step classes and condition plugins through the plugin host.

The host says where a plugin is served and the limits a caller must respect
(ResolvePlugin); the executor then calls the plugin process directly. A
``module``/``step_class`` step is run by the built-in ``python_step`` plugin.
Answers are cached per plugin and asked again after the plugin was unavailable
(its process may have been restarted elsewhere).

The logs and progress a step plugin streams become the run's StepLog and
StepProgress events, in order, before the step's result is reported.

Each call's duration goes to `plugin_call_duration_seconds{plugin,method,status}`
(unless IA_TELEMETRY=off): the executor is the caller of every plugin call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from ia.plugin.v1 import message_pb2
from ia.plugin.v1 import request_response_pb2 as plugin_rr
from ia_modules.conditions import Verdict
from ia_modules.engine import ErrorKind, EvaluateCondition, ExecuteStep
from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, Kind, PluginClient
from ia_modules.plugin.host import PluginHostClient
from ia_service_kit.identity import outgoing_metadata
from ia_service_kit.logging import get_logger
from ia_service_kit.telemetry import (
    PLUGIN_CALL_DURATION,
    ClientCallSpan,
    forward_spans,
    telemetry_enabled,
    tracing_configured,
    uninstrumented_channel,
)

from ia_executor import records
from ia_executor.work import StepError

__all__ = ["PYTHON_STEP", "PluginRunner", "Report", "plugin_host_address", "step_error"]

log = get_logger(__name__)

_EXECUTE_STEP = "/ia.plugin.v1.PluginService/ExecuteStep"
_EVALUATE_CONDITION = "/ia.plugin.v1.PluginService/EvaluateCondition"

PYTHON_STEP = "python_step"
"""The built-in plugin that runs a ``module``/``step_class`` step."""

Report = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Records an event body (a step_log or step_progress) in the run ``run_id``."""

_LEVELS = {
    message_pb2.LOG_LEVEL_DEBUG: "debug",
    message_pb2.LOG_LEVEL_WARNING: "warning",
    message_pb2.LOG_LEVEL_ERROR: "error",
}


def plugin_host_address() -> str | None:
    """Where the plugin host listens (IA_PLUGIN_HOST_ADDRESS), or None if not configured."""
    return os.environ.get("IA_PLUGIN_HOST_ADDRESS") or None


def step_error(error: IAError, what: str) -> StepError:
    """The step error kind and message for a failed plugin call; ``what`` (if any) names the call."""
    code = error.code
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        kind = ErrorKind.STEP_TIMEOUT
    elif code == grpc.StatusCode.UNAVAILABLE:
        kind = "PLUGIN_UNAVAILABLE"
    elif code == grpc.StatusCode.INVALID_ARGUMENT:
        kind = error.reason if error.reason in ("INVALID_CONFIG", "INVALID_INPUT") else ErrorKind.INVALID_INPUT
    else:
        kind = error.reason or ErrorKind.STEP_ERROR
    violations = error.field_violations
    details = "; ".join(f"{field}: {description}" if field else description for field, description in violations)
    message = f"{what}: {error.message}" if what else error.message
    if details and details not in error.message:
        message += f" ({details})"
    return StepError(kind, message)


class _CallDuration:
    """Observes one call's duration in plugin_call_duration_seconds, by how it ended."""

    __slots__ = ("_histograms", "_method", "_plugin", "_start")

    def __init__(self, histograms: dict[tuple[str, str, str], Any], plugin: str, method: str) -> None:
        self._histograms = histograms
        self._plugin = plugin
        self._method = method
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if error is None:
            status = "OK"
        elif isinstance(error, IAError):
            status = error.code.name
        elif isinstance(error, asyncio.CancelledError):  # the run stopped waiting (cancelled, say)
            status = "CANCELLED"
        else:
            status = "UNKNOWN"
        key = (self._plugin, self._method, status)
        histogram = self._histograms.get(key)
        if histogram is None:
            # A child per plugin, method and status, looked up once (labels() costs a lock and a dict).
            histogram = self._histograms[key] = PLUGIN_CALL_DURATION.labels(*key)
        histogram.observe(time.perf_counter() - self._start)


@dataclass
class _Resolved:
    """Where a plugin is served, and the caller's limits."""

    client: PluginClient
    call_timeout_s: float


class _Relay:
    """Forwards a call's logs and progress to the run, in order, while the call goes on.

    Its queue and forwarding task start with the first message: most steps send none.
    """

    def __init__(self, report: Report, run_id: str, step_id: str, iteration: int) -> None:
        self._report = report
        self._run_id = run_id
        self._step_id = step_id
        self._iteration = iteration
        self._queue: asyncio.Queue[dict[str, Any] | None] | None = None
        self._task: asyncio.Future[None] | None = None

    def __call__(self, message: plugin_rr.ExecuteStepResponse) -> None:
        kind = message.WhichOneof("message")
        if kind == "log":
            level = _LEVELS.get(message.log.level, "info")
            body = records.step_log_body(self._step_id, self._iteration, level, message.log.message)
        elif kind == "progress":
            progress = message.progress
            body = records.step_progress_body(self._step_id, self._iteration, progress.fraction, progress.message)
        else:
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.ensure_future(self._forward(self._queue))
        self._queue.put_nowait(body)

    async def _forward(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        while (body := await queue.get()) is not None:
            try:
                await self._report(self._run_id, body)
            except Exception as error:  # a lost log line must not fail the step
                log.error("step log not recorded", run_id=self._run_id, step_id=self._step_id, error=repr(error))

    async def close(self) -> None:
        """Waits until everything received so far is recorded."""
        if self._queue is None or self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task


class PluginRunner:
    """The executor's StepRunner once a plugin host is configured.

    ``report`` records the logs and progress plugins stream (omit it to drop them);
    ``clock`` is the clock the run's deadlines are on.
    """

    def __init__(
        self, address: str, *, report: Report | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.address = address
        # Each call says which tenant's run it serves, with this deployment's service token.
        self._host = PluginHostClient(address, metadata=outgoing_metadata)
        self._report = report
        self._clock = clock
        self._resolved: dict[tuple[str, Kind], _Resolved] = {}
        self._clients: dict[str, PluginClient] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        # None when IA_TELEMETRY=off: no metric is recorded.
        self._durations: dict[tuple[str, str, str], Any] | None = {} if telemetry_enabled() else None

    async def close(self) -> None:
        """Closes the channels to the host and to every plugin."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._resolved.clear()
        await self._host.close()

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        """Runs one attempt of a plugin step or a Python step class; returns its output."""
        if action.plugin:
            name, config, what = action.plugin, action.config, f"plugin {action.plugin!r}"
        else:
            name = PYTHON_STEP
            config = {"module": action.module, "step_class": action.step_class, "config": action.config}
            what = f"step class {action.module}.{action.step_class}"
        what = f"step {action.step_id!r} ({what})"
        run_id = _run_id(action.key)
        relay = None if self._report is None else _Relay(self._report, run_id, action.step_id, action.iteration)
        try:
            async with self._calling(name, Kind.STEP, what) as plugin:
                with self._timed(name, "ExecuteStep"), ClientCallSpan(_EXECUTE_STEP) as traceparent:
                    call = CallInfo(
                        run_id,
                        step_id=action.step_id,
                        attempt=action.attempt,
                        idempotency_key=action.key,
                        traceparent=traceparent or "",
                    )
                    outcome = await plugin.client.execute_step(
                        name,
                        config,
                        action.input,
                        call=call,
                        timeout_s=self._timeout(plugin, action.deadline),
                        on_message=relay,
                    )
        finally:
            if relay is not None:
                await relay.close()
        return outcome.output

    async def evaluate(self, action: EvaluateCondition) -> Verdict:
        """Asks condition plugin ``action.plugin`` whether its transition fires."""
        # The engine's CONDITION_ERROR names the transition and the plugin.
        async with self._calling(action.plugin, Kind.CONDITION, "") as plugin:
            with self._timed(action.plugin, "EvaluateCondition"), ClientCallSpan(_EVALUATE_CONDITION) as traceparent:
                call = CallInfo(
                    _run_id(action.key),
                    step_id=action.step_id,
                    idempotency_key=action.key,
                    traceparent=traceparent or "",
                )
                answer = await plugin.client.evaluate_condition(
                    action.plugin,
                    action.config,
                    action.input,
                    call=call,
                    timeout_s=self._timeout(plugin, None),
                )
        return Verdict(answer.result, answer.reason or ("it held" if answer.result else "it did not hold"))

    @contextlib.asynccontextmanager
    async def _calling(self, name: str, kind: Kind, what: str) -> AsyncIterator[_Resolved]:
        """The resolved plugin, within its concurrency limit; failures as StepError."""
        plugin = await self._resolve(name, kind, what)
        slots = self._slots.get(name)
        try:
            if slots is None:
                yield plugin
            else:
                async with slots:
                    yield plugin
        except IAError as error:
            if error.code == grpc.StatusCode.UNAVAILABLE:
                self._resolved.pop((name, kind), None)
            raise step_error(error, what) from None

    async def _resolve(self, name: str, kind: Kind, what: str) -> _Resolved:
        plugin = self._resolved.get((name, kind))
        if plugin is not None:
            return plugin
        try:
            answer = await self._host.resolve(name, kind)
        except IAError as error:
            if error.unreachable:
                unreachable = f"the plugin host at {self.address} is unreachable"
                raise StepError("PLUGIN_UNAVAILABLE", f"{what}: {unreachable}" if what else unreachable) from None
            raise step_error(error, what) from None
        client = self._clients.get(answer.endpoint)
        if client is None:
            # Deadlines come from each call: the step's and the plugin's. The calls
            # carry their own client spans (ClientCallSpan): no interceptor. The
            # plugin's spans come back in the trailers, for this process to export.
            client = self._clients[answer.endpoint] = PluginClient(
                answer.endpoint,
                timeout_s=None,
                open_channel=uninstrumented_channel,
                on_spans=forward_spans if tracing_configured() else None,
            )
        limits = answer.limits
        if limits.max_concurrency > 0 and name not in self._slots:
            self._slots[name] = asyncio.Semaphore(limits.max_concurrency)
        plugin = self._resolved[(name, kind)] = _Resolved(client, limits.call_timeout_s)
        return plugin

    def _timed(self, plugin: str, method: str) -> contextlib.AbstractContextManager[None]:
        """Times the call (plugin_call_duration_seconds), unless telemetry is off."""
        if self._durations is None:
            return contextlib.nullcontext()
        return _CallDuration(self._durations, plugin, method)

    def _timeout(self, plugin: _Resolved, deadline: float | None) -> float | None:
        limits = [plugin.call_timeout_s] if plugin.call_timeout_s > 0 else []
        if deadline is not None:
            limits.append(max(deadline - self._clock(), 0.0))
        return min(limits) if limits else None


def _run_id(key: str) -> str:
    """The run a piece of work belongs to: its key is ``run_id/step_id/iteration[/…]``."""
    return key.split("/", 1)[0]
