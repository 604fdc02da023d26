"""An in-process stand-in for the executor, scripted per test.

The SDK's stream handling (reconnects, replayed history, waiting for input) needs
failures on cue, which the real executor does not offer. The double serves the
real generated service on port 0 and records what the client asked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
from google.protobuf import struct_pb2
from grpc_status import rpc_status

from ia.executor.v1 import message_pb2, request_response_pb2, service_pb2_grpc
from ia_service_kit.errors import error_status

RUN_ID = "run-1"


def state_event(sequence: int, state: int) -> message_pb2.RunEvent:
    """A run state change."""
    return message_pb2.RunEvent(
        run_id=RUN_ID, sequence=sequence, run_state_changed=message_pb2.RunStateChanged(state=state)
    )


def step_event(sequence: int, step_id: str, state: int, attempt: int = 1) -> message_pb2.RunEvent:
    """A step state change."""
    return message_pb2.RunEvent(
        run_id=RUN_ID,
        sequence=sequence,
        step_state_changed=message_pb2.StepStateChanged(step_id=step_id, state=state, attempt=attempt),
    )


@dataclass
class ExecutorDouble(service_pb2_grpc.ExecutorServiceServicer):
    """Serves `events` to WatchRun, breaking the stream as `breaks` says."""

    events: list[message_pb2.RunEvent] = field(default_factory=list)
    # After how many events each successive WatchRun call fails with UNAVAILABLE;
    # None serves to the end. Calls beyond the list serve to the end.
    breaks: list[int | None] = field(default_factory=list)
    run: message_pb2.Run = field(default_factory=lambda: message_pb2.Run(run_id=RUN_ID))
    tasks: list[message_pb2.HumanTask] = field(default_factory=list)
    # The run as it is once its task has been answered, if the test cares.
    run_after_submit: message_pb2.Run | None = None
    runs: list[message_pb2.Run] = field(default_factory=list)
    dry_run_response: request_response_pb2.DryRunResponse | None = None
    watch_requests: list[int] = field(default_factory=list)
    # When above 0, a batching WatchRun gets this many events a response (as an
    # executor with batching would); else one each, as an older executor sends.
    batch_size: int = 0
    watch_batched: list[bool] = field(default_factory=list)
    submitted: list[tuple[str, dict]] = field(default_factory=list)
    list_runs_requests: list[request_response_pb2.ListRunsRequest] = field(default_factory=list)
    endpoint: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def WatchRun(self, request, context) -> Iterator[request_response_pb2.WatchRunResponse]:
        with self._lock:
            call = len(self.watch_requests)
            self.watch_requests.append(request.from_sequence)
            self.watch_batched.append(request.batch)
        limit = self.breaks[call] if call < len(self.breaks) else None
        sent = 0
        group: list[message_pb2.RunEvent] = []
        for event in self.events:
            if event.sequence <= request.from_sequence:
                continue
            if limit is not None and sent == limit:
                break
            if self.batch_size and request.batch:
                group.append(event)
                if len(group) == self.batch_size:
                    yield request_response_pb2.WatchRunResponse(events=group)
                    group = []
            else:
                yield request_response_pb2.WatchRunResponse(event=event)
            sent += 1
        if group:
            yield request_response_pb2.WatchRunResponse(events=group)
        if limit is not None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "executor restarting")

    def GetRun(self, request, context) -> request_response_pb2.GetRunResponse:
        if request.run_id == "behind-a-proxy":
            # A proxy that rewrote the status but passed the service's details on.
            details = error_status(grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND", "not found")
            status = rpc_status.to_status(details)
            rewritten = status._replace(code=grpc.StatusCode.UNAVAILABLE, details="upstream reset")
            context.abort_with_status(rewritten)
        if request.run_id != self.run.run_id:
            message = f"run {request.run_id!r} not found"
            status = error_status(grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND", message, {"run_id": request.run_id})
            context.abort_with_status(rpc_status.to_status(status))
        return request_response_pb2.GetRunResponse(run=self.run)

    def ListHumanTasks(self, request, context) -> request_response_pb2.ListHumanTasksResponse:
        open_tasks = [
            t for t in self.tasks if t.run_id == request.run_id and t.state == message_pb2.HUMAN_TASK_STATE_OPEN
        ]
        return request_response_pb2.ListHumanTasksResponse(tasks=open_tasks)

    def SubmitHumanInput(self, request, context) -> request_response_pb2.SubmitHumanInputResponse:
        from google.protobuf import json_format

        self.submitted.append((request.task_id, json_format.MessageToDict(request.data)))
        task = next(t for t in self.tasks if t.task_id == request.task_id)
        task.state = message_pb2.HUMAN_TASK_STATE_SUBMITTED
        if self.run_after_submit is not None:
            self.run = self.run_after_submit
        return request_response_pb2.SubmitHumanInputResponse(task=task)

    def CancelRun(self, request, context) -> request_response_pb2.CancelRunResponse:
        self.cancel_request = request
        self.run.state = message_pb2.RUN_STATE_CANCELLED
        return request_response_pb2.CancelRunResponse(run=self.run)

    def ListRuns(self, request, context) -> request_response_pb2.ListRunsResponse:
        self.list_runs_requests.append(request)
        matching = [
            r
            for r in self.runs
            if (not request.pipeline_name or r.pipeline_name == request.pipeline_name)
            and (not request.states or r.state in request.states)
        ]
        start = int(request.page_token or 0)
        end = start + (request.page_size or 50)
        return request_response_pb2.ListRunsResponse(
            runs=matching[start:end], next_page_token=str(end) if end < len(matching) else ""
        )

    def StartRun(self, request, context) -> request_response_pb2.StartRunResponse:
        self.started = request
        return request_response_pb2.StartRunResponse(run=self.run)

    def DryRun(self, request, context) -> request_response_pb2.DryRunResponse:
        self.dry_run_request = request
        if self.dry_run_response is not None:
            return self.dry_run_response
        return request_response_pb2.DryRunResponse(
            state=message_pb2.RUN_STATE_SUCCEEDED,
            steps=[message_pb2.DryRunStep(step_id="a", state=message_pb2.STEP_STATE_SUCCEEDED, output=request.inputs)],
            outputs=struct_pb2.Struct(),
        )
