"""A dry run in this process, with the engine the executor uses, explained for people.

    document = dry_run_report(pipeline, inputs={"amount": 250}, mocks={"fetch": {"status": 200}})

The document has the shape of the executor's DryRun answer as the CLI prints it
(`state`, `steps`, `not_taken`, `outputs`, `error`), and each transition not taken
also carries `values`: what the data its condition reads held, so that
`result.amount < {{ parameters.threshold }} was false` comes with
`result.amount = 250, parameters.threshold = 100`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition.cel_paths import member_paths
from ia_modules.engine import Plan, StepState, compile_plan, dry_run
from ia_modules.templates import Reference, TemplateError, find_references, lookup, parse_reference

__all__ = ["InputProblems", "dry_run_report"]


class InputProblems(ValueError):
    """The inputs do not fit the pipeline's parameters; `problems` are (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


def _condition_references(condition: pipeline_pb2.Condition) -> list[Reference]:
    """The data a condition reads, as references (best effort: nothing is evaluated)."""
    kind = condition.type or ("cel" if condition.expr else "always")
    config = json_format.MessageToDict(condition.config) if condition.HasField("config") else {}
    references: list[Reference] = []
    try:
        if kind == "parameter":
            name = condition.parameter or config.get("parameter", "")
            references.append(Reference("parameters", None, (name,), f"parameters.{name}"))
        elif kind == "expression":
            source = str(config.get("source", "")).strip().strip("{} \t")
            references.append(parse_reference(source))
            references += find_references(config.get("value"))
        elif kind == "cel":
            for root, *rest in member_paths(condition.expr):
                text = ".".join([root, *rest])
                if root == "steps" and rest:
                    references.append(Reference("steps", rest[0], tuple(rest[1:]), text))
                else:
                    references.append(Reference(root, None, tuple(rest), text))
    except TemplateError:
        return references
    return references


def _shown_name(reference: Reference) -> str:
    return reference.text.strip("{} \t")


def _values(references: list[Reference], context: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for reference in references:
        try:
            values[_shown_name(reference)] = lookup(reference, context)
        except TemplateError:
            values[_shown_name(reference)] = None
    return values


def _check_mocks(plan: Plan, mocks: Mapping[str, Any]) -> list[str]:
    import difflib

    notes = []
    for step_id in mocks:
        if step_id not in plan.steps:
            close = difflib.get_close_matches(step_id, list(plan.steps), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            notes.append(f"the mocks name step `{step_id}`, which the pipeline does not have{hint}")
    return notes


def dry_run_report(
    pipeline: pipeline_pb2.Pipeline, inputs: Mapping[str, Any], mocks: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Walk `pipeline` with the engine, mocked steps and echoes, and explain the path.

    Raises `ia_modules.engine.PlanError` when the pipeline cannot run, and
    `InputProblems` when the inputs miss a required parameter or break its schema.
    `notes` in the result lists mocks for steps the pipeline does not have.
    """
    plan = compile_plan(pipeline)
    problems = plan.check_inputs(inputs)
    if problems:
        raise InputProblems(problems)
    parameters = plan.parameters_for(inputs)
    mocks = dict(mocks or {})
    result = dry_run(plan, parameters, mocks)
    latest: dict[str, Any] = {}
    states: dict[str, StepState] = {}
    for record in result.steps:
        states[record.step_id] = record.state
        if record.output is not None:
            latest[record.step_id] = record.output
    transitions: dict[tuple[str, str], list[pipeline_pb2.Transition]] = {}
    for transition in pipeline.flow.transitions:
        transitions.setdefault((getattr(transition, "from"), transition.to), []).append(transition)
    not_taken = []
    for edge in result.not_taken:
        entry: dict[str, Any] = {"from": edge.source, "to": edge.target, "reason": edge.reason, "values": {}}
        # Only a condition that was evaluated has values to show; an edge out of a
        # skipped or failed step was never tested.
        if states.get(edge.source) is StepState.SUCCEEDED:
            context = {"parameters": parameters, "steps": latest, "result": latest.get(edge.source)}
            for transition in transitions.get((edge.source, edge.target), []):
                entry["values"].update(_values(_condition_references(transition.condition), context))
        not_taken.append(entry)
    return {
        "state": result.state.value,
        "steps": [
            {
                "id": record.step_id,
                "iteration": record.iteration,
                "state": record.state.value,
                "input": record.input or {},
                "output": record.output or {},
            }
            for record in result.steps
        ],
        "not_taken": not_taken,
        "outputs": result.outputs or {},
        "error": result.error.to_dict() if result.error is not None else None,
        "notes": _check_mocks(plan, mocks),
    }
