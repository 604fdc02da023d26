"""Calling a plugin: `PluginClient` speaks ia.plugin.v1.PluginService to one endpoint.

The executor (and the test harness, and `ia-plugin validate`) get the endpoint
from the plugin host's ResolvePlugin, then call the plugin process directly:

    async with PluginClient("unix:///…/io.sock") as plugin:
        outcome = await plugin.execute_step("http_request", {"url": url}, {}, call=CallInfo(run_id=…))

Every failed call raises `IAError` with the plugin's status code, ErrorInfo
reason and field violations. A plugin called with a sampled `traceparent`
(`CallInfo.traceparent`) returns its span in the trailer `ia-spans-bin`; `on_spans` receives it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc
import grpc.aio
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ia.plugin.v1 import message_pb2, service_pb2_grpc
from ia.plugin.v1 import request_response_pb2 as rr
from ia_modules.client import to_dict, to_struct
from ia_modules.errors import IAError
from ia_modules.plugin.authoring import ConditionResult, Issue, Report
from ia_modules.plugin.call_span import SPANS_TRAILER

# A restarted plugin comes back within a second or so; gRPC's default reconnect
# backoff (1 s, growing to 2 min) would keep callers waiting much longer.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
]


@dataclass(frozen=True)
class CallInfo:
    """Which run and step a call is for; `idempotency_key` is `run_id/step_id/iteration`."""

    run_id: str = ""
    step_id: str = ""
    attempt: int = 1
    idempotency_key: str = ""
    pipeline: str = ""
    # The W3C traceparent of the caller's span for this call (see call_span); "" when not traced.
    traceparent: str = ""

    def proto(self) -> message_pb2.CallContext:
        return message_pb2.CallContext(
            run_id=self.run_id,
            step_id=self.step_id,
            attempt=self.attempt,
            idempotency_key=self.idempotency_key,
            pipeline=self.pipeline,
            traceparent=self.traceparent,
        )


@dataclass
class StepOutcome:
    """What a step plugin produced, with the logs and progress it streamed."""

    output: dict[str, Any]
    cost_usd: float = 0.0
    api_calls: int = 0
    logs: list[message_pb2.LogRecord] = field(default_factory=list)
    progress: list[message_pb2.Progress] = field(default_factory=list)


@dataclass
class Validation:
    """A validator's verdict."""

    valid: bool
    issues: list[Issue]


class PluginClient:
    """An async client for one plugin endpoint (`unix:///path` or `host:port`).

    `timeout_s` is the deadline of each call unless the call gives its own.
    `wait_for_ready` makes a call wait (within its deadline) for a plugin that is
    restarting instead of failing at once with UNAVAILABLE. `on_spans` receives
    the `ia-spans-bin` trailer of each call that has one (a serialized OTLP
    ResourceSpans: the plugin's span of the call), failed calls included, with
    the `traceparent` the call carried (its `CallInfo`'s, else a metadata entry's;
    None when it carried none), unread: the receiver holds the spans to that
    trace (`call_span.parse_traceparent` reads it).
    """

    def __init__(
        self,
        target: str,
        *,
        timeout_s: float | None = 30.0,
        wait_for_ready: bool = True,
        open_channel: Callable[..., grpc.aio.Channel] | None = None,
        on_spans: Callable[[bytes, str | None], None] | None = None,
    ) -> None:
        self.target = target
        self._timeout_s = timeout_s
        self._wait_for_ready = wait_for_ready
        self._on_spans = on_spans
        # `open_channel` (grpc.aio.insecure_channel's signature) lets a caller that
        # traces its calls itself open the channel without client interceptors.
        self._channel = (open_channel or grpc.aio.insecure_channel)(target, options=CHANNEL_OPTIONS)
        self._stub = service_pb2_grpc.PluginServiceStub(self._channel)

    async def __aenter__(self) -> PluginClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    def _deadline(self, timeout_s: float | None) -> float | None:
        return timeout_s if timeout_s is not None else self._timeout_s

    def _spans(self, trailers: Any, request: Any, metadata: Sequence[tuple[str, str]] | None) -> None:
        # Only called when on_spans is set: reading the trailers costs an await.
        # A plugin's spans belong in the trace of the call that carried them, if any.
        traceparent = request.context.traceparent or next((v for k, v in metadata or () if k == "traceparent"), None)
        for key, value in trailers or ():
            if key == SPANS_TRAILER and isinstance(value, bytes):
                self._on_spans(value, traceparent)  # type: ignore[misc]

    def _error(
        self, error: grpc.RpcError, request: Any = None, metadata: Sequence[tuple[str, str]] | None = None
    ) -> IAError:
        if self._on_spans is not None and request is not None and isinstance(error, grpc.aio.AioRpcError):
            self._spans(error.trailing_metadata(), request, metadata)
        # A plugin process is not "the stack": say which endpoint failed, without
        # IAError's hint to start the stack.
        wrapped = IAError.from_rpc_error(error, endpoint=self.target)
        if wrapped.unreachable:
            wrapped = IAError(
                error.code(),
                f"plugin at {self.target}: {error.details() or error.code().name}",
                endpoint=self.target,
                call=error,
            )
        return wrapped

    async def health(self, *, timeout_s: float | None = None) -> bool:
        """True when the process answers SERVING."""
        stub = health_pb2_grpc.HealthStub(self._channel)
        try:
            answer = await stub.Check(
                health_pb2.HealthCheckRequest(), timeout=self._deadline(timeout_s), wait_for_ready=self._wait_for_ready
            )
        except grpc.RpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    async def describe(self, *, timeout_s: float | None = None) -> list[message_pb2.PluginDescriptor]:
        """The plugins this endpoint serves."""
        try:
            answer = await self._stub.Describe(
                rr.DescribeRequest(), timeout=self._deadline(timeout_s), wait_for_ready=self._wait_for_ready
            )
        except grpc.RpcError as error:
            raise self._error(error) from None
        return list(answer.plugins)

    async def evaluate_condition(
        self,
        plugin: str,
        config: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> ConditionResult:
        """Evaluates condition plugin `plugin` on `data`; `metadata` goes with the call."""
        request = rr.EvaluateConditionRequest(
            plugin=plugin, context=call.proto(), config=to_struct(config), input=to_struct(data)
        )
        answer = await self._unary(self._stub.EvaluateCondition, request, timeout_s, metadata)
        return ConditionResult(answer.result, answer.reason)

    async def execute_step(
        self,
        plugin: str,
        config: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
        on_message: Callable[[rr.ExecuteStepResponse], None] | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> StepOutcome:
        """Runs step plugin `plugin`; `on_message` sees each log and progress as it arrives.

        `metadata` goes with the call. The trace context goes in `call` (`CallInfo.traceparent`).
        """
        request = rr.ExecuteStepRequest(
            plugin=plugin, context=call.proto(), config=to_struct(config), input=to_struct(data)
        )
        outcome = StepOutcome(output={})
        result: message_pb2.StepResult | None = None
        try:
            stream = self._stub.ExecuteStep(
                request, timeout=self._deadline(timeout_s), wait_for_ready=self._wait_for_ready, metadata=metadata
            )
            # The result ends the stream (the contract), so after it only the status is
            # left: waiting for that directly spares a read that would only find the end.
            while result is None and (message := await stream.read()) is not grpc.aio.EOF:
                if message is None:  # grpc yields None for a reply it could not parse
                    raise _malformed(plugin, self.target, "a reply that is not an ExecuteStepResponse")
                if on_message is not None:
                    on_message(message)
                kind = message.WhichOneof("message")
                if kind == "log":
                    outcome.logs.append(message.log)
                elif kind == "progress":
                    outcome.progress.append(message.progress)
                elif kind == "result":
                    result = message.result
            if result is not None and (code := await stream.code()) is not grpc.StatusCode.OK:
                raise grpc.aio.AioRpcError(
                    code,
                    await stream.initial_metadata(),
                    await stream.trailing_metadata(),
                    await stream.details(),
                    await stream.debug_error_string(),
                )
            if result is not None and self._on_spans is not None:
                self._spans(await stream.trailing_metadata(), request, metadata)
        except grpc.RpcError as error:
            raise self._error(error, request, metadata) from None
        if result is None:
            raise IAError(
                grpc.StatusCode.INTERNAL,
                f"plugin {plugin!r} ended its ExecuteStep stream without a result",
                reason="NO_RESULT",
                endpoint=self.target,
            )
        try:
            outcome.output = to_dict(result.output)
        except ValueError as error:  # NaN or infinity: a plugin's answer is untrusted input
            raise _malformed(plugin, self.target, f"an output that is not JSON ({error})") from None
        outcome.cost_usd = result.cost_usd
        outcome.api_calls = result.api_calls
        return outcome

    async def validate(
        self,
        plugin: str,
        config: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
    ) -> Validation:
        """Runs validator plugin `plugin` on `data`."""
        request = rr.ValidateRequest(
            plugin=plugin, context=call.proto(), config=to_struct(config), input=to_struct(data)
        )
        answer = await self._unary(self._stub.Validate, request, timeout_s)
        return Validation(answer.valid, [Issue(i.message, i.path, i.code) for i in answer.issues])

    async def transform(
        self,
        plugin: str,
        config: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Runs transform plugin `plugin` on `data` and returns its output."""
        request = rr.TransformRequest(
            plugin=plugin, context=call.proto(), config=to_struct(config), input=to_struct(data)
        )
        answer = await self._unary(self._stub.Transform, request, timeout_s)
        return to_dict(answer.output)

    async def on_event(
        self,
        plugin: str,
        config: Mapping[str, Any] | None,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
    ) -> None:
        """Delivers a run event to hook plugin `plugin`."""
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        event = message_pb2.Event(type=event_type, time=now, data=to_struct(data))
        request = rr.OnEventRequest(plugin=plugin, context=call.proto(), config=to_struct(config), event=event)
        await self._unary(self._stub.OnEvent, request, timeout_s)

    async def report(
        self,
        plugin: str,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        *,
        call: CallInfo = CallInfo(),
        timeout_s: float | None = None,
    ) -> Report:
        """Renders run `summary` with reporter plugin `plugin`."""
        request = rr.ReportRequest(
            plugin=plugin, context=call.proto(), config=to_struct(config), input=to_struct(summary)
        )
        answer = await self._unary(self._stub.Report, request, timeout_s)
        return Report(answer.content, answer.media_type, answer.file_name)

    async def _unary(
        self, method: Any, request: Any, timeout_s: float | None, metadata: Sequence[tuple[str, str]] | None = None
    ) -> Any:
        try:
            call = method(
                request, timeout=self._deadline(timeout_s), wait_for_ready=self._wait_for_ready, metadata=metadata
            )
            answer = await call
            if self._on_spans is not None:
                self._spans(await call.trailing_metadata(), request, metadata)
            return answer
        except grpc.RpcError as error:
            raise self._error(error, request, metadata) from None


def _malformed(plugin: str, endpoint: str, what: str) -> IAError:
    return IAError(
        grpc.StatusCode.INTERNAL,
        f"plugin {plugin!r} sent {what}",
        reason="MALFORMED_PLUGIN_REPLY",
        endpoint=endpoint,
    )
