"""`ia-modules trace RUN`: a run's spans as a tree with their durations.

The spans come from the telemetry service (through the same endpoint as every
other command). A run resumed after a restart has one trace per process that
drove it; each is printed, oldest first.
"""

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli import documents
from ia_modules.cli.console import CLIError, FormatOption, OutputFormat, emit_json, handles_errors, settings, stdout

if TYPE_CHECKING:
    from rich.text import Text

    from ia.telemetry.v1 import message_pb2

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_MAX_TRACES = 20


def duration_text(seconds: float) -> str:
    """342ms, 1.25s, 2m03s: short, and precise where it matters."""
    if seconds < 0.001:
        return f"{seconds * 1000:.2f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.3g}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _seconds(span: "message_pb2.Span") -> float:
    return (span.end_time.ToNanoseconds() - span.start_time.ToNanoseconds()) / 1e9


def children_of(spans: "list[message_pb2.Span]") -> dict[str, "list[message_pb2.Span]"]:
    """Spans by parent span id, each list by start time; "" holds the roots (and orphans)."""
    known = {span.span_id for span in spans}
    tree: dict[str, list[Any]] = {}
    for span in sorted(spans, key=lambda s: (s.start_time.ToNanoseconds(), s.span_id)):
        parent = span.parent_span_id if span.parent_span_id in known else ""
        tree.setdefault(parent, []).append(span)
    return tree


def _detail(span: "message_pb2.Span") -> str:
    attributes = span.attributes
    if "condition.expression" in attributes:
        fired = attributes["fired"] if "fired" in attributes else True
        return "fired" if fired else f"not taken: {attributes['reason']}" if "reason" in attributes else "not taken"
    parts = []
    if "status" in attributes:
        parts.append(str(attributes["status"]))
    if "attempt" in attributes and attributes["attempt"] > 1:
        parts.append(f"attempt {int(attributes['attempt'])}")
    if "iteration" in attributes and attributes["iteration"] > 0:
        parts.append(f"iteration {int(attributes['iteration'])}")
    return ", ".join(parts)


def tree_lines(spans: "list[message_pb2.Span]") -> "list[Text]":
    """One line per span, indented under its parent: name, duration, service, outcome."""
    from rich.text import Text

    from ia.telemetry.v1 import message_pb2

    tree = children_of(spans)
    lines: list[Text] = []

    def walk(span: Any, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        line = Text(prefix + branch)
        line.append(span.name, style="bold" if depth == 0 else "")
        line.append(f" ({duration_text(_seconds(span))})")
        line.append(f"  {span.service}", style="dim")
        detail = _detail(span)
        if detail:
            line.append(f"  {detail}")
        if span.status == message_pb2.SPAN_STATUS_ERROR:
            line.append(f"  error: {span.status_message}" if span.status_message else "  error", style="bold red")
        lines.append(line)
        kids = tree.get(span.span_id, [])
        deeper = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        for index, child in enumerate(kids):
            walk(child, deeper, index == len(kids) - 1, depth + 1)

    for root in tree.get("", []):
        walk(root, "", True, 0)
    return lines


def trace_document(trace: "message_pb2.Trace") -> dict[str, Any]:
    """A trace as JSON: its summary and its spans nested under their parents."""
    from google.protobuf import json_format

    from ia.telemetry.v1 import message_pb2

    tree = children_of(list(trace.spans))

    def node(span: Any) -> dict[str, Any]:
        return {
            "span_id": span.span_id,
            "parent_span_id": span.parent_span_id,
            "name": span.name,
            "service": span.service,
            "start_time": documents.timestamp(span.start_time),
            "duration_ms": round(_seconds(span) * 1000, 3),
            "status": documents.enum_name(message_pb2.SpanStatus, span.status, "SPAN_STATUS_"),
            "status_message": span.status_message,
            "attributes": json_format.MessageToDict(span.attributes),
            "children": [node(child) for child in tree.get(span.span_id, [])],
        }

    summary = trace.summary
    return {
        "trace_id": summary.trace_id,
        "run_id": summary.run_id,
        "pipeline": summary.pipeline,
        "status": documents.enum_name(message_pb2.SpanStatus, summary.status, "SPAN_STATUS_"),
        "duration_ms": round(summary.duration.ToNanoseconds() / 1e6, 3),
        "span_count": summary.span_count,
        "spans": [node(root) for root in tree.get("", [])],
    }


def _fetch(target: str) -> "list[message_pb2.Trace]":
    import grpc

    from ia.telemetry.v1 import request_response_pb2 as rr
    from ia.telemetry.v1 import service_pb2_grpc
    from ia_modules import tls
    from ia_modules.call_metadata import bearer, resolve_token, sync_interceptors
    from ia_modules.client import DEFAULT_TIMEOUT_S, resolve_endpoint
    from ia_modules.errors import IAError

    endpoint = resolve_endpoint(settings.endpoint)
    timeout = settings.timeout_s or DEFAULT_TIMEOUT_S
    token = resolve_token(settings.token)
    with tls.channel(endpoint) as plain:
        channel = grpc.intercept_channel(plain, *sync_interceptors(bearer(token) if token else None))
        telemetry = service_pb2_grpc.TelemetryServiceStub(channel)
        try:
            if _TRACE_ID.match(target):
                trace_ids = [target.lower()]
            else:
                listed = telemetry.ListTraces(
                    rr.ListTracesRequest(run_id=target, page_size=_MAX_TRACES), timeout=timeout
                )
                trace_ids = [summary.trace_id for summary in reversed(listed.traces)]
            return [
                telemetry.GetTrace(rr.GetTraceRequest(trace_id=trace_id), timeout=timeout).trace
                for trace_id in trace_ids
            ]
        except grpc.RpcError as error:
            raise IAError.from_rpc_error(error, endpoint=endpoint) from error


@handles_errors
def trace_command(
    run: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or a trace id (32 hex digits).")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show a run's trace: its spans as a tree, with durations.

    \b
    Examples:
      ia-modules trace 0c4e6f0a-5b1d-4c39-9a7e-2f8d1b6c3e21
      ia-modules trace 0c4e6f0a-5b1d-4c39-9a7e-2f8d1b6c3e21 --format json
    """
    traces = _fetch(run)
    if not traces:
        raise CLIError(
            f"no trace of run {run} is stored: the telemetry service may not have received it yet, "
            "or it is older than the retention limit"
        )
    if output is OutputFormat.json:
        emit_json({"traces": [trace_document(trace) for trace in traces]})
        return
    console = stdout()
    for trace in traces:
        summary = trace.summary
        about = f", run {summary.run_id} of {summary.pipeline}" if summary.run_id else ""
        console.print(
            f"Trace {summary.trace_id} ({duration_text(summary.duration.ToNanoseconds() / 1e9)}, "
            f"{summary.span_count} spans{about})",
            markup=False,
        )
        for line in tree_lines(list(trace.spans)):
            console.print(line)
