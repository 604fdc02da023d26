"""PluginService over a set of `Plugin` functions: what a plugin process serves.

For every call: find the plugin and check it has the kind, check the config
against its JSON Schema, enforce the concurrency limit and the deadline (the
smaller of the caller's gRPC deadline and the host's call timeout), run the
function, and turn whatever it raised into a status with an ErrorInfo. A call
that carries a sampled `traceparent` returns its span in its trailers
(`call_span.py`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc

from ia.plugin.v1 import message_pb2, service_pb2_grpc
from ia.plugin.v1 import request_response_pb2 as rr
from ia_modules.client import to_dict, to_struct
from ia_modules.plugin.authoring import (
    ConditionResult,
    ConfigError,
    InputError,
    Issue,
    Kind,
    Plugin,
    PluginError,
    Report,
)
from ia_modules.plugin.call_span import CallSpan, parse_traceparent, sampled_parent
from ia_modules.plugin.context import Emit, PluginContext
from ia_modules.plugin.protocol import PROTOCOL_VERSION
from ia_modules.plugin.schema import violations
from ia_modules.plugin.workers import WorkerThreads
from ia_modules.status import abort, field_violation

log = logging.getLogger("ia_modules.plugin")


@dataclass
class CallFailure(Exception):
    """Why a call fails; the RPC method turns it into a status."""

    code: grpc.StatusCode
    reason: str
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    async def abort(self, context: grpc.aio.ServicerContext) -> None:
        details = [field_violation(path, description, self.reason) for path, description in self.violations]
        await abort(context, self.code, self.reason, self.message, violations=details, **self.metadata)


class CallWatch:
    """The calls in flight and their deadlines.

    A call is finished when its work is, not when its caller gave up: a plain
    function in a worker thread cannot be cancelled, so it stays here until it
    returns. `overdue` lists the calls still running `grace_s` after their
    deadline; `serve` ends a process that has one, so that the host starts a
    fresh one instead of leaving a wedged process burning CPU.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, tuple[str, float | None]] = {}
        self._ids = itertools.count(1)

    def begin(self, plugin: str, deadline: float | None) -> int:
        with self._lock:
            token = next(self._ids)
            self._calls[token] = (plugin, deadline)
            return token

    def end(self, token: int) -> None:
        with self._lock:
            self._calls.pop(token, None)

    def overdue(self, grace_s: float, now: float | None = None) -> list[str]:
        """Plugins with a call running more than `grace_s` past its deadline."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            return [
                plugin
                for plugin, deadline in self._calls.values()
                if deadline is not None and moment > deadline + grace_s
            ]


def _plugins_by_name(plugins: Iterable[Plugin]) -> dict[str, dict[Kind, Plugin]]:
    by_name: dict[str, dict[Kind, Plugin]] = {}
    for plugin in plugins:
        kinds = by_name.setdefault(plugin.name, {})
        if plugin.kind in kinds:
            raise ValueError(f"two {plugin.kind.value} plugins are named {plugin.name!r}")
        first = next(iter(kinds.values()), None)
        if first is not None and first.version != plugin.version:
            raise ValueError(f"plugin {plugin.name!r} has two versions: {first.version} and {plugin.version}")
        kinds[plugin.kind] = plugin
    if not by_name:
        raise ValueError("a plugin process must serve at least one plugin")
    return by_name


def _condition_value(value: Any) -> tuple[bool, str]:
    if isinstance(value, ConditionResult):
        return bool(value.result), value.reason
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return value[0], str(value[1])
    raise PluginError(f"a condition must return a bool or ConditionResult, not {type(value).__name__}")


def _issues(value: Any) -> list[message_pb2.ValidationIssue]:
    if value is None:
        return []
    items = [value] if isinstance(value, (Issue, str, dict)) else list(value)
    issues = []
    for item in items:
        if isinstance(item, Issue):
            issues.append(message_pb2.ValidationIssue(path=item.path, message=item.message, code=item.code))
        elif isinstance(item, str):
            issues.append(message_pb2.ValidationIssue(message=item, code="INVALID"))
        elif isinstance(item, dict):
            issues.append(
                message_pb2.ValidationIssue(
                    path=str(item.get("path", "")),
                    message=str(item.get("message", "")),
                    code=str(item.get("code", "INVALID")),
                )
            )
        else:
            raise PluginError(f"a validator must return Issue objects, not {type(item).__name__}")
    return issues


def _report(value: Any) -> rr.ReportResponse:
    if isinstance(value, str):
        return rr.ReportResponse(content=value, media_type="text/plain")
    if isinstance(value, Report):
        return rr.ReportResponse(content=value.content, media_type=value.media_type, file_name=value.file_name)
    raise PluginError(f"a reporter must return a Report or a str, not {type(value).__name__}")


def _output(value: Any, kind: Kind) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise PluginError(f"a {kind.value} plugin must return a dict, not {type(value).__name__}")
    try:
        return to_struct(value)
    except (ValueError, TypeError, AttributeError) as error:
        raise PluginError(f"the {kind.value} output is not JSON data: {error}") from None


class _Stream:
    """The logs and progress of one ExecuteStep call, written in order by a task of their own.

    The writer starts with the first message; `drain` waits until everything put so
    far is written.
    """

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context
        self._queue: asyncio.Queue[rr.ExecuteStepResponse | None] | None = None
        self._writer: asyncio.Future[None] | None = None

    def put(self, message: rr.ExecuteStepResponse) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.ensure_future(self._write(self._queue))
        self._queue.put_nowait(message)

    async def _write(self, queue: asyncio.Queue[rr.ExecuteStepResponse | None]) -> None:
        while (message := await queue.get()) is not None:
            await self._context.write(message)

    async def drain(self) -> None:
        if self._queue is not None and self._writer is not None:
            self._queue.put_nowait(None)
            await self._writer

    def cancel(self) -> None:
        if self._writer is not None:
            self._writer.cancel()


class _TracedContext:
    """The servicer context of a traced call: the status the call ends with carries its span.

    An abort sends the status at once, so the span goes into the abort's trailers;
    a call that returns gets it in its trailing metadata before it does.
    """

    def __init__(self, context: grpc.aio.ServicerContext, span: CallSpan) -> None:
        self._context = context
        self._span = span
        self._ended = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()) -> None:
        self._ended = True
        await self._context.abort(code, details, (*trailing_metadata, self._span.trailer(code, details)))

    async def abort_with_status(self, status: grpc.Status) -> None:
        await self.abort(status.code, status.details, tuple(status.trailing_metadata))

    def end(self, code: grpc.StatusCode, message: str = "") -> None:
        """Puts the span in the trailers, unless an abort sent it already."""
        if not self._ended:
            self._ended = True
            self._context.set_trailing_metadata((self._span.trailer(code, message),))


_Rpc = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _traced(method: str) -> Callable[[_Rpc], _Rpc]:
    """Records the span of each call of RPC `method` that carries a sampled traceparent (see call_span)."""
    full_method = f"/ia.plugin.v1.PluginService/{method}"

    def decorate(rpc: _Rpc) -> _Rpc:
        @functools.wraps(rpc)
        async def traced(self: PluginServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
            traceparent = request.context.traceparent
            parent = parse_traceparent(traceparent) if traceparent else sampled_parent(context.invocation_metadata())
            if parent is None:
                return await rpc(self, request, context)
            call = _TracedContext(context, CallSpan(self.process_name, full_method, parent, request))
            try:
                answer = await rpc(self, request, call)
            except Exception as error:
                call.end(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}")
                raise
            call.end(grpc.StatusCode.OK)
            return answer

        return traced

    return decorate


class PluginServicer(service_pb2_grpc.PluginServiceServicer):
    """Serves `plugins` (one or more functions per name, one per kind).

    `max_concurrency` (0: unlimited) refuses calls beyond that many in flight with
    RESOURCE_EXHAUSTED. `call_timeout_s` (0: none) bounds calls that carry no
    shorter deadline. `on_out_of_memory` runs once a call that ran out of memory
    has sent its status: `serve` ends the process there. `process_name` (the
    host's IA_PLUGIN_NAME; default, the plugin names) names the process in the
    spans of traced calls.
    """

    def __init__(
        self,
        plugins: Iterable[Plugin],
        *,
        max_concurrency: int = 0,
        call_timeout_s: float = 0.0,
        watch: CallWatch | None = None,
        on_out_of_memory: Callable[[], None] | None = None,
        process_name: str = "",
    ) -> None:
        self._plugins = _plugins_by_name(plugins)
        self.process_name = process_name or ",".join(sorted(self._plugins))
        self._max_concurrency = max_concurrency
        self._call_timeout_s = call_timeout_s
        self._watch = watch or CallWatch()
        self._on_out_of_memory = on_out_of_memory
        self._in_flight = 0
        self._threads = WorkerThreads()

    def descriptors(self) -> list[message_pb2.PluginDescriptor]:
        """One descriptor per plugin name, with every kind it has."""
        found = []
        for name in sorted(self._plugins):
            kinds = self._plugins[name]
            first = next((p for p in kinds.values() if p.config_schema), next(iter(kinds.values())))
            found.append(first.descriptor(sorted(kinds, key=lambda k: k.proto)))
        return found

    async def Describe(self, request: rr.DescribeRequest, context: grpc.aio.ServicerContext) -> rr.DescribeResponse:
        return rr.DescribeResponse(plugins=self.descriptors(), protocol_version=PROTOCOL_VERSION)

    @_traced("EvaluateCondition")
    async def EvaluateCondition(
        self, request: rr.EvaluateConditionRequest, context: grpc.aio.ServicerContext
    ) -> rr.EvaluateConditionResponse:
        try:
            value, _ = await self._invoke(Kind.CONDITION, request, context, to_dict(request.input))
            result, reason = _condition_value(value)
        except CallFailure as failure:
            await failure.abort(context)
        except PluginError as error:
            await _failure(error, request.plugin).abort(context)
        return rr.EvaluateConditionResponse(result=result, reason=reason)

    @_traced("Validate")
    async def Validate(self, request: rr.ValidateRequest, context: grpc.aio.ServicerContext) -> rr.ValidateResponse:
        try:
            value, _ = await self._invoke(Kind.VALIDATOR, request, context, to_dict(request.input))
            issues = _issues(value)
        except CallFailure as failure:
            await failure.abort(context)
        except PluginError as error:
            await _failure(error, request.plugin).abort(context)
        return rr.ValidateResponse(valid=not issues, issues=issues)

    @_traced("Transform")
    async def Transform(self, request: rr.TransformRequest, context: grpc.aio.ServicerContext) -> rr.TransformResponse:
        try:
            value, _ = await self._invoke(Kind.TRANSFORM, request, context, to_dict(request.input))
            output = _output(value, Kind.TRANSFORM)
        except CallFailure as failure:
            await failure.abort(context)
        except PluginError as error:
            await _failure(error, request.plugin).abort(context)
        return rr.TransformResponse(output=output)

    @_traced("OnEvent")
    async def OnEvent(self, request: rr.OnEventRequest, context: grpc.aio.ServicerContext) -> rr.OnEventResponse:
        try:
            when = request.event.time.ToJsonString() if request.event.HasField("time") else ""
        except ValueError as error:  # a timestamp out of range: the caller's mistake
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", f"event.time: {error}")
        event = {"type": request.event.type, "time": when, "data": to_dict(request.event.data)}
        try:
            await self._invoke(Kind.HOOK, request, context, event)
        except CallFailure as failure:
            await failure.abort(context)
        return rr.OnEventResponse()

    @_traced("Report")
    async def Report(self, request: rr.ReportRequest, context: grpc.aio.ServicerContext) -> rr.ReportResponse:
        try:
            value, _ = await self._invoke(Kind.REPORTER, request, context, to_dict(request.input))
            return _report(value)
        except CallFailure as failure:
            await failure.abort(context)
        except PluginError as error:
            await _failure(error, request.plugin).abort(context)
        raise AssertionError("unreachable")  # pragma: no cover

    @_traced("ExecuteStep")
    async def ExecuteStep(self, request: rr.ExecuteStepRequest, context: grpc.aio.ServicerContext) -> None:
        # The work runs in this task; logs and progress go out as they come, through a
        # writer started with the first of them, so a step that streams none (most
        # do) costs no extra task or queue. `context.write` is cheaper than `yield`.
        stream = _Stream(context)
        try:
            try:
                value, ctx = await self._invoke(Kind.STEP, request, context, to_dict(request.input), emit=stream.put)
                output = _output(value, Kind.STEP)
            except CallFailure as failure:
                await stream.drain()
                await failure.abort(context)
            except PluginError as error:
                await stream.drain()
                await _failure(error, request.plugin).abort(context)
            await stream.drain()
            await context.write(
                rr.ExecuteStepResponse(
                    result=message_pb2.StepResult(output=output, cost_usd=ctx.cost_usd, api_calls=ctx.api_calls)
                )
            )
        finally:
            stream.cancel()

    async def _invoke(
        self,
        kind: Kind,
        request: Any,
        context: grpc.aio.ServicerContext,
        data: dict[str, Any],
        emit: Emit | None = None,
    ) -> tuple[Any, PluginContext]:
        plugin = self._plugin(request.plugin, kind)
        config = to_dict(request.config)
        problems = violations(plugin.config_schema, config, root="config")
        if problems:
            raise _invalid_config(plugin.name, problems)
        if self._max_concurrency and self._in_flight >= self._max_concurrency:
            raise CallFailure(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "TOO_MANY_CALLS",
                f"plugin {plugin.name!r} already has {self._in_flight} calls in flight "
                f"(limit {self._max_concurrency}); retry later",
                metadata={"plugin": plugin.name, "limit": str(self._max_concurrency)},
            )
        timeout = self._timeout(context)
        deadline = None if timeout is None else time.monotonic() + timeout
        ctx = PluginContext.for_call(plugin.name, request.context, deadline=deadline, emit=emit)
        self._in_flight += 1
        try:
            async with asyncio.timeout(timeout):
                value = await self._run(plugin, config, data, ctx)
        except TimeoutError:
            raise CallFailure(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "DEADLINE_EXCEEDED",
                f"plugin {plugin.name!r} did not finish within {timeout:g}s",
                metadata={"plugin": plugin.name},
            ) from None
        except MemoryError:
            if self._on_out_of_memory is not None:
                context.add_done_callback(lambda _context: self._on_out_of_memory())
            raise CallFailure(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "OUT_OF_MEMORY",
                f"plugin {plugin.name!r} ran out of memory; its process is restarted",
                metadata={"plugin": plugin.name},
            ) from None
        except ConfigError as error:
            raise _invalid_config(plugin.name, [(f"config.{error.field}", error.message)]) from None
        except InputError as error:
            raise CallFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_INPUT",
                f"{error.field}: {error.message}",
                [(f"input.{error.field}" if error.field else "input", error.message)],
                {"plugin": plugin.name},
            ) from None
        except PluginError as error:
            raise _failure(error, plugin.name) from None
        except (CallFailure, asyncio.CancelledError):
            raise
        except Exception as error:
            log.exception("plugin %s failed", plugin.name)
            raise CallFailure(
                grpc.StatusCode.UNKNOWN,
                "PLUGIN_FAILED",
                f"plugin {plugin.name!r} failed: {type(error).__name__}: {error}",
                metadata={"plugin": plugin.name, "exception": type(error).__name__},
            ) from None
        finally:
            self._in_flight -= 1
        return value, ctx

    def _plugin(self, name: str, kind: Kind) -> Plugin:
        kinds = self._plugins.get(name)
        if kinds is None:
            raise CallFailure(
                grpc.StatusCode.NOT_FOUND,
                "PLUGIN_NOT_FOUND",
                f"this process serves no plugin {name!r}; it serves {', '.join(sorted(self._plugins))}",
                metadata={"plugin": name},
            )
        plugin = kinds.get(kind)
        if plugin is None:
            has = ", ".join(k.value for k in kinds)
            raise CallFailure(
                grpc.StatusCode.UNIMPLEMENTED,
                "KIND_NOT_SUPPORTED",
                f"plugin {name!r} is not a {kind.value} plugin (it is: {has})",
                metadata={"plugin": name, "kind": kind.value},
            )
        return plugin

    def _timeout(self, context: grpc.aio.ServicerContext) -> float | None:
        remaining = context.time_remaining()
        limits = [t for t in (remaining, self._call_timeout_s or None) if t is not None]
        return min(limits) if limits else None

    async def _run(self, plugin: Plugin, config: dict[str, Any], data: dict[str, Any], ctx: PluginContext) -> Any:
        token = self._watch.begin(plugin.name, ctx.deadline)
        function = plugin.function
        if inspect.iscoroutinefunction(function):
            try:
                return await function(config, data, ctx)
            finally:
                self._watch.end(token)

        def in_thread() -> Any:
            try:
                return function(config, data, ctx)
            finally:
                self._watch.end(token)

        return await self._threads.run(in_thread)


def _invalid_config(plugin: str, problems: list[tuple[str, str]]) -> CallFailure:
    field_name, description = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CallFailure(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_CONFIG",
        f"invalid config for plugin {plugin!r}: {field_name}: {description}{more}",
        problems,
        {"plugin": plugin, "field": field_name},
    )


def _failure(error: PluginError, plugin: str = "") -> CallFailure:
    metadata = {k: str(v) for k, v in error.metadata.items()}
    if plugin:
        metadata.setdefault("plugin", plugin)
    code = grpc.StatusCode.UNAVAILABLE if error.retryable else grpc.StatusCode.UNKNOWN
    return CallFailure(code, error.reason, error.message, metadata=metadata)
