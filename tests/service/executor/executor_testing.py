"""Definitions, a scripted step runner and error readers shared by the executor tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia.pipeline.v1 import pipeline_pb2
from ia_executor.work import StepError
from ia_modules.engine import ExecuteStep
from ia_modules.engine.values import from_struct, to_struct
from refusals import Refusal, refused  # noqa: F401 (the suite's tests import them from here)


def pipeline(steps: list[dict[str, Any]], edges: list[tuple] = (), **fields: Any) -> pipeline_pb2.Pipeline:
    """A definition message from steps and (from, to[, condition]) edges."""
    transitions = []
    for edge in edges:
        transition = {"from": edge[0], "to": edge[1]}
        if len(edge) > 2:
            transition["condition"] = edge[2]
        transitions.append(transition)
    document = {"name": fields.pop("name", "test"), "steps": steps, "flow": {"transitions": transitions}, **fields}
    return json_format.ParseDict(document, pipeline_pb2.Pipeline())


def linear(*steps: dict[str, Any], **fields: Any) -> pipeline_pb2.Pipeline:
    """A definition whose steps run one after another."""
    return pipeline(list(steps), [(a["id"], b["id"]) for a, b in zip(steps, steps[1:], strict=False)], **fields)


def start(definition: pipeline_pb2.Pipeline, inputs: dict[str, Any] | None = None, **fields: Any) -> rr.StartRunRequest:
    """A StartRun request for an inline definition."""
    return rr.StartRunRequest(definition=definition, inputs=to_struct(inputs or {}), **fields)


def state(run: message_pb2.Run) -> str:
    return message_pb2.RunState.Name(run.state).removeprefix("RUN_STATE_")


def steps(run: message_pb2.Run) -> list[tuple[str, int, str, int]]:
    """(step id, iteration, state, attempts) of each step run."""
    return [
        (s.step_id, s.iteration, message_pb2.StepState.Name(s.state).removeprefix("STEP_STATE_"), s.attempts)
        for s in run.steps
    ]


def outputs(run: message_pb2.Run) -> dict[str, Any]:
    return from_struct(run.outputs)


async def finished(executor: Any, run_id: str) -> message_pb2.Run:
    """Follows WatchRun to the run's end, then returns the run."""
    async for _ in executor.WatchRun(rr.WatchRunRequest(run_id=run_id)):
        pass
    return (await executor.GetRun(rr.GetRunRequest(run_id=run_id))).run


async def until(executor: Any, run_id: str, predicate: Any) -> list[message_pb2.RunEvent]:
    """Watches the run until an event satisfies ``predicate``; returns the events so far."""
    seen = []
    async for response in executor.WatchRun(rr.WatchRunRequest(run_id=run_id)):
        seen.append(response.event)
        if predicate(response.event):
            return seen
    raise AssertionError(f"the run ended without the awaited event; saw {len(seen)} events")


def step_event(step_id: str, step_state: str):
    def predicate(event: message_pb2.RunEvent) -> bool:
        change = event.step_state_changed
        return (
            event.WhichOneof("kind") == "step_state_changed"
            and change.step_id == step_id
            and message_pb2.StepState.Name(change.state) == f"STEP_STATE_{step_state}"
        )

    return predicate


@dataclass
class ScriptedRunner:
    """A StepRunner whose outcomes tests choose per step: an output dict, a StepError,
    or "hang" (never finishes). Without a script, a step echoes its input."""

    script: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, action: ExecuteStep) -> dict[str, Any]:
        self.calls.append((action.key, action.attempt))
        self.called.set()
        outcomes = self.script.get(action.step_id)
        outcome = outcomes.pop(0) if outcomes else action.input
        if outcome == "hang":
            await asyncio.Event().wait()
        if isinstance(outcome, StepError):
            raise outcome
        return outcome
