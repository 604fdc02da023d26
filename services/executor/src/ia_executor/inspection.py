"""What InspectRun answers: a run's paused steps, outputs so far and evaluated conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as rr
from ia_modules.engine import ConditionRecord, PausedStep, Scheduler
from ia_modules.engine.values import to_struct

from ia_executor.messages import run_message
from ia_executor.store import RunView

__all__ = ["Inspection", "inspect_response"]


@dataclass(frozen=True)
class Inspection:
    """A run as its scheduler knows it."""

    view: RunView
    paused: list[PausedStep]
    outputs: dict[str, Any]
    conditions: list[ConditionRecord]

    @classmethod
    def of(cls, view: RunView, scheduler: Scheduler) -> Inspection:
        """What ``scheduler`` knows of the run ``view`` shows."""
        return cls(view, scheduler.paused(), scheduler.step_outputs(), list(scheduler.conditions or ()))


def inspect_response(inspection: Inspection) -> rr.InspectRunResponse:
    """An Inspection as an InspectRunResponse."""
    return rr.InspectRunResponse(
        run=run_message(inspection.view),
        paused=[
            message_pb2.PausedStep(
                step_id=step.step_id, iteration=step.iteration, input=to_struct(step.input), reason=step.reason
            )
            for step in inspection.paused
        ],
        outputs=to_struct(inspection.outputs),
        conditions=[
            message_pb2.ConditionEvaluation(
                **{"from": c.source, "to": c.target},
                iteration=c.iteration,
                condition=c.condition,
                fired=c.fired,
                reason=c.reason,
                values=to_struct(c.values),
            )
            for c in inspection.conditions
        ],
    )
