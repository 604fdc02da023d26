"""Plain HTTP through Envoy's JSON transcoding, with the standard library only, as
a curl user would call the REST API (`google.api.http` paths of the contracts)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import grpc

from scenario import CallFailed

SUPPORTED = frozenset(
    {
        "create_pipeline", "get_pipeline", "list_pipelines", "delete_pipeline",
        "start_run", "wait_run", "get_run", "cancel_run", "watch_run", "list_runs",
        "find_task", "submit_input", "check_sequence",
    }
)  # fmt: skip

_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}
_FINAL = {"RUN_STATE_SUCCEEDED", "RUN_STATE_FAILED", "RUN_STATE_CANCELLED", "RUN_STATE_TIMED_OUT"}


class HttpFailed(Exception):
    """A REST call that did not answer 200: its HTTP status and google.rpc.Status body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def _state(value: str | None, prefix: str) -> str | None:
    return value.removeprefix(prefix) if value else None


def run_result(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": _state(run.get("state"), "RUN_STATE_"),
        "outputs": run.get("outputs", {}),
        "steps": {s["step_id"]: _state(s.get("state"), "STEP_STATE_") for s in run.get("steps", [])},
    }


class RestDriver:
    """Each method runs one step kind over REST and returns (result, saved)."""

    errors = (HttpFailed,)

    def __init__(self, endpoint: str) -> None:
        self.base = f"http://{endpoint}"

    @staticmethod
    def failed(error: HttpFailed) -> CallFailed:
        body = error.body if isinstance(error.body, dict) else {}
        code = _CODE_NAMES.get(body.get("code"), f"HTTP_{error.status}")
        failure = CallFailed(code=code, message=body.get("message", str(error.body)))
        for detail in body.get("details", []):
            kind = detail.get("@type", "").rsplit("/", 1)[-1]
            if kind == "google.rpc.ErrorInfo" and failure.reason is None:
                failure.reason = detail.get("reason")
                failure.metadata = detail.get("metadata", {})
            if kind == "google.rpc.BadRequest":
                violations = detail.get("field_violations", detail.get("fieldViolations", []))
                failure.fields += [violation.get("field", "") for violation in violations]
        return failure

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v not in (None, "")})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                raw = error.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise HttpFailed(error.code, parsed) from None

    def create_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        created = self.call("POST", "/v1/pipelines", step["definition"])["pipeline"]
        return {"revision": int(created["revision"])}, created["name"]

    def get_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        name = urllib.parse.quote(step["name"], safe="")
        version = self.call("GET", f"/v1/pipelines/{name}", query={"revision": step.get("revision")})["pipeline"]
        step_ids = [s["id"] for s in version["definition"].get("steps", [])]
        return {"revision": int(version["revision"]), "step_ids": step_ids}, version["name"]

    def list_pipelines(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        names, token = [], None
        while True:
            query = {"name_prefix": step.get("prefix"), "page_size": step.get("page_size"), "page_token": token}
            page = self.call("GET", "/v1/pipelines", query=query)
            names += [p["name"] for p in page.get("pipelines", [])]
            token = page.get("next_page_token")
            if not token:
                return {"names": names}, names

    def delete_pipeline(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        name = urllib.parse.quote(step["name"], safe="")
        deleted = self.call("DELETE", f"/v1/pipelines/{name}")
        return {"deleted_revisions": int(deleted.get("deleted_revisions", 0))}, None

    def start_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        body = {"pipeline_name": step["pipeline"], "inputs": step.get("inputs", {})}
        ids = [self.call("POST", "/v1/runs", body)["run"]["run_id"] for _ in range(step.get("count", 1))]
        return {"run_ids": ids}, ids if "count" in step else ids[0]

    def get_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.call("GET", f"/v1/runs/{step['run']}")["run"]
        return run_result(run), run["run_id"]

    def wait_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        # The watch stream ends when the run ends; a run that waits for a person
        # keeps it open, so the run's state decides when to stop reading.
        for event in self.events(step["run"], 0):
            state = event.get("run_state_changed", {}).get("state")
            if state in _FINAL or (state == "RUN_STATE_WAITING_FOR_INPUT" and self.waiting(step["run"])):
                break
        return self.get_run(step)

    def waiting(self, run_id: str) -> bool:
        run = self.call("GET", f"/v1/runs/{run_id}")["run"]
        tasks = self.call("GET", "/v1/tasks", query={"run_id": run_id}).get("tasks", [])
        return run.get("state") == "RUN_STATE_WAITING_FOR_INPUT" and bool(tasks)

    def events(self, run_id: str, from_sequence: int) -> Any:
        """The watch stream: Envoy sends it as one JSON array, written as events come."""
        url = f"{self.base}/v1/runs/{run_id}:watch?from_sequence={from_sequence}"
        try:
            response = urllib.request.urlopen(url, timeout=60)
        except urllib.error.HTTPError as error:
            with error:
                raise HttpFailed(error.code, json.loads(error.read())) from None
        with response:
            decoder, buffer = json.JSONDecoder(), ""
            for chunk in iter(lambda: response.read1(65536), b""):
                buffer += chunk.decode()
                while True:
                    buffer = buffer.lstrip("[, \r\n")
                    try:
                        message, end = decoder.raw_decode(buffer)
                    except ValueError:
                        break
                    buffer = buffer[end:]
                    yield message["event"]

    def watch_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        events, outputs, final_state, found = [], None, None, False
        for event in self.events(step["run"], step.get("from_sequence", 0)):
            kind = next(k for k in event if k not in ("run_id", "sequence", "time"))
            events.append([int(event["sequence"]), kind])
            if kind == "outputs":
                outputs = event["outputs"].get("outputs", {})
            if kind == "run_state_changed":
                final_state = _state(event["run_state_changed"].get("state"), "RUN_STATE_")
            if kind == step["until"]:
                found = True
                break
        if step["until"] != "end" and not found:
            raise HttpFailed(0, f"the stream ended without a {step['until']} event: {events}")
        last = events[-1][0] if events else step.get("from_sequence", 0)
        result = {"first_sequence": events[0][0] if events else None, "final_state": final_state, "outputs": outputs, "last": last}
        return result, {"events": events, "last": last}

    def cancel_run(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        run = self.call("POST", f"/v1/runs/{step['run']}:cancel", {"reason": step.get("reason", "")})["run"]
        return run_result(run), run["run_id"]

    def list_runs(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        size, pages, ids, token = step["page_size"], 0, [], None
        while True:
            query = {"pipeline_name": step["pipeline"], "page_size": size, "page_token": token}
            page = self.call("GET", "/v1/runs", query=query)
            pages += 1
            runs = page.get("runs", [])
            if len(runs) > size:
                raise HttpFailed(0, f"a page of {len(runs)} runs, over page_size {size}")
            ids += [run["run_id"] for run in runs]
            token = page.get("next_page_token")
            if not token:
                return {"run_ids": ids, "pages": pages}, ids

    def find_task(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        tasks = self.call("GET", "/v1/tasks", query={"run_id": step["run"]}).get("tasks", [])
        result: dict[str, Any] = {"count": len(tasks)}
        if tasks:
            task = tasks[0]
            result |= {
                "step_id": task["step_id"],
                "state": _state(task.get("state"), "HUMAN_TASK_STATE_"),
                "data": task.get("data", {}),
            }
        return result, tasks[0]["task_id"] if tasks else None

    def submit_input(self, step: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        body = {"data": step["data"], "submitter": "conformance"}
        task = self.call("POST", f"/v1/tasks/{step['task']}:submit", body)["task"]
        return {"state": _state(task.get("state"), "HUMAN_TASK_STATE_")}, task["task_id"]
