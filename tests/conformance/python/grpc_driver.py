"""The Python SDK (`ia_modules.client`) as a conformance driver."""

from __future__ import annotations

from typing import Any

import grpc

from ia.executor.v1 import message_pb2 as executor_messages
from ia.executor.v1 import request_response_pb2 as executor_requests
from ia.executor.v1 import service_pb2_grpc as executor_grpc
from ia_modules.client import Client, to_dict
from ia_modules.errors import IAError
from scenario import CallFailed

SUPPORTED = frozenset(
    {
        "create_pipeline", "get_pipeline", "list_pipelines", "delete_pipeline",
        "start_run", "wait_run", "get_run", "cancel_run", "watch_run", "list_runs",
        "find_task", "submit_input", "check_sequence", "unreachable",
        "inspect_run", "step_run", "resume_run",
    }
)  # fmt: skip


def failed(error: IAError) -> CallFailed:
    return CallFailed(
        code=error.code.name,
        message=str(error),
        reason=error.reason,
        metadata=dict(error.metadata),
        fields=[field for field, _ in error.field_violations],
        unreachable=error.unreachable,
    )


def run_result(run: executor_messages.Run) -> dict[str, Any]:
    return {
        "state": executor_messages.RunState.Name(run.state).removeprefix("RUN_STATE_"),
        "outputs": to_dict(run.outputs),
        "steps": {s.step_id: executor_messages.StepState.Name(s.state).removeprefix("STEP_STATE_") for s in run.steps},
    }


class GrpcDriver:
    """Each method runs one step kind through the SDK and returns (result, saved)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = Client(endpoint)
        # Only to count ListRuns pages: the SDK's list_runs hides them.
        self.executor = executor_grpc.ExecutorServiceStub(grpc.insecure_channel(endpoint))

    # The SDK's error, which the scenario engine turns into CallFailed with `failed`.
    errors = (IAError,)

    @staticmethod
    def failed(error: IAError) -> CallFailed:
        return failed(error)

    def create_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        created = self.client.create_pipeline(step["definition"])
        return {"revision": created.pipeline.revision}, created.pipeline.name

    def get_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        version = self.client.get_pipeline(step["name"], step.get("revision", 0))
        return {"revision": version.revision, "step_ids": [s.id for s in version.definition.steps]}, version.name

    def list_pipelines(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        names = [p.name for p in self.client.list_pipelines(prefix=step.get("prefix", ""), page_size=step.get("page_size", 0))]
        return {"names": names}, names

    def delete_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        return {"deleted_revisions": self.client.delete_pipeline(step["name"])}, None

    def start_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        breakpoints = step.get("breakpoints", ())
        ids = [
            self.client.start_run(step["pipeline"], inputs=step.get("inputs"), breakpoints=breakpoints).run_id
            for _ in range(step.get("count", 1))
        ]
        return {"run_ids": ids}, ids if "count" in step else ids[0]

    def wait_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.client.wait_run(step["run"])
        return run_result(run), run.run_id

    def get_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.client.get_run(step["run"])
        return run_result(run), run.run_id

    def cancel_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.client.cancel_run(step["run"], reason=step.get("reason", ""))
        return run_result(run), run.run_id

    def inspect_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        inspection = self.client.inspect_run(step["run"])
        result = {
            "state": executor_messages.RunState.Name(inspection.run.state).removeprefix("RUN_STATE_"),
            "paused": sorted(p.step_id for p in inspection.paused),
            "inputs": {p.step_id: to_dict(p.input) for p in inspection.paused},
            "outputs": to_dict(inspection.outputs),
        }
        return result, inspection.run.run_id

    def step_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.client.step_run(step["run"], inputs=step.get("inputs"), step_id=step.get("step_id", ""))
        return run_result(run), run.run_id

    def resume_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.client.resume_run(step["run"], inputs=step.get("inputs"), step_id=step.get("step_id", ""))
        return run_result(run), run.run_id

    def watch_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        events, outputs, final_state = [], None, None
        found = False
        stream = self.client.watch_run(step["run"], from_sequence=step.get("from_sequence", 0))
        try:
            for event in stream:
                kind = event.WhichOneof("kind")
                events.append([event.sequence, kind])
                if kind == "outputs":
                    outputs = to_dict(event.outputs.outputs)
                if kind == "run_state_changed":
                    final_state = executor_messages.RunState.Name(event.run_state_changed.state).removeprefix("RUN_STATE_")
                if kind == step["until"]:
                    found = True
                    break
        finally:
            stream.close()
        if step["until"] != "end" and not found:
            raise CallFailed("NONE", f"the stream ended without a {step['until']} event: {events}")
        last = events[-1][0] if events else step.get("from_sequence", 0)
        result = {
            "first_sequence": events[0][0] if events else None,
            "final_state": final_state,
            "outputs": outputs,
            "last": last,
        }
        return result, {"events": events, "last": last}

    def list_runs(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        size, pages, paged = step["page_size"], 0, []
        request = executor_requests.ListRunsRequest(pipeline_name=step["pipeline"], page_size=size)
        while True:
            page = self.executor.ListRuns(request, timeout=30)
            pages += 1
            if len(page.runs) > size:
                raise CallFailed("NONE", f"a page of {len(page.runs)} runs, over page_size {size}")
            paged += [run.run_id for run in page.runs]
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
        listed = [run.run_id for run in self.client.list_runs(pipeline=step["pipeline"], page_size=size)]
        if listed != paged:
            raise CallFailed("NONE", f"the SDK listed {listed}, the pages held {paged}")
        return {"run_ids": listed, "pages": pages}, listed

    def find_task(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        tasks = list(self.client.list_human_tasks(run_id=step["run"]))
        result: dict[str, Any] = {"count": len(tasks)}
        if tasks:
            task = tasks[0]
            result |= {
                "step_id": task.step_id,
                "state": executor_messages.HumanTaskState.Name(task.state).removeprefix("HUMAN_TASK_STATE_"),
                "data": to_dict(task.data),
            }
        return result, tasks[0].task_id if tasks else None

    def submit_input(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        task = self.client.submit_human_input(step["task"], step["data"], submitter="conformance")
        return {"state": executor_messages.HumanTaskState.Name(task.state).removeprefix("HUMAN_TASK_STATE_")}, task.task_id

    def unreachable(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        with Client(step["endpoint"], timeout=step["deadline_seconds"]) as client:
            client.get_pipeline("conformance")
        return {}, None
