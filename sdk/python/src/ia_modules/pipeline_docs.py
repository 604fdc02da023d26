"""A pipeline's documentation in Markdown: what it does, its diagram, and tables of its parts.

    text = markdown(pipeline)     # a README for the pipeline

Sections: the description and labels, a Mermaid diagram of the flow, then tables
of the parameters, the steps, the transitions, the outputs, and the error policy
each step runs under (its own settings over the pipeline's defaults).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition.proto_json import plain
from ia_modules.diagram import condition_label, diagram, step_kind, to_mermaid

__all__ = ["markdown"]


def _plain(message) -> Any:
    """A message as JSON data, whole numbers as integers (Struct keeps every number as a double)."""
    return plain(json_format.MessageToDict(message, preserving_proto_field_name=True))


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if text is None else str(text)
    return " ".join(text.split()).replace("|", "\\|") or " "


def _code(value: Any) -> str:
    """A value as inline code in a table cell."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split()).replace("|", "\\|").replace("`", "'")
    return f"`{text}`" if text else " "


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _parameters(pipeline: pipeline_pb2.Pipeline) -> list[str]:
    defaults = _plain(pipeline.parameters) if pipeline.HasField("parameters") else {}
    specs = {spec.name: spec for spec in pipeline.parameter_specs if spec.name}
    names = [*specs, *(name for name in defaults if name not in specs)]
    if not names:
        return ["This pipeline takes no parameters."]
    rows = []
    for name in names:
        spec = specs.get(name)
        schema = _plain(spec.schema) if spec is not None and spec.HasField("schema") else {}
        rows.append(
            [
                f"`{name}`",
                _cell(schema.get("type", "")),
                "yes" if spec is not None and spec.required else "no",
                _code(defaults[name]) if name in defaults else " ",
                _cell(spec.description if spec is not None else ""),
            ]
        )
    return _table(["Parameter", "Type", "Required", "Default", "Description"], rows)


def _step_inputs(step: pipeline_pb2.Step) -> str:
    if not step.HasField("inputs"):
        return "the previous step's output"
    return "<br>".join(f"`{name}`: {_code(value)}" for name, value in sorted(_plain(step.inputs).items()))


def _step_outputs(step: pipeline_pb2.Step) -> str:
    return ", ".join(f"`{o.name}`" + (" (required)" if o.required else "") for o in step.outputs) or " "


def _steps(pipeline: pipeline_pb2.Pipeline) -> list[str]:
    rows = []
    for step in pipeline.steps:
        kind, detail = step_kind(step)
        does = f"{kind.replace('_', ' ')}: {detail}" if detail else kind.replace("_", " ")
        title = step.name or step.description
        rows.append(
            [
                f"`{step.id}`" + (f"<br>{_cell(title)}" if title else ""),
                _cell(does),
                _step_inputs(step),
                _step_outputs(step),
            ]
        )
    return _table(["Step", "Does", "Inputs", "Outputs"], rows)


def _transitions(pipeline: pipeline_pb2.Pipeline) -> list[str]:
    if not pipeline.flow.transitions:
        return ["No transitions: only the first step runs."]
    rows = []
    for transition in pipeline.flow.transitions:
        _kind, text = condition_label(transition.condition)
        condition = _code(text) if text else "always"
        if transition.name:
            condition = f"{_cell(transition.name)} ({condition})"
        rows.append(
            [
                f"`{getattr(transition, 'from')}`",
                f"`{transition.to}`",
                condition,
                str(transition.max_iterations) if transition.max_iterations else " ",
            ]
        )
    return _table(["From", "To", "When", "At most"], rows)


def _outputs(pipeline: pipeline_pb2.Pipeline) -> list[str]:
    if not pipeline.HasField("outputs"):
        return ["The run's result is the output of the last step that ran."]
    rows = [[f"`{name}`", _code(value)] for name, value in sorted(_plain(pipeline.outputs).items())]
    return _table(["Output", "Value"], rows)


def _retry(policy: pipeline_pb2.RetryPolicy) -> str:
    if policy.max_attempts <= 1:
        return "no retry"
    parts = [f"{policy.max_attempts} attempts"]
    if policy.initial_delay_s:
        parts.append(f"first delay {policy.initial_delay_s:g}s")
    if policy.backoff_multiplier and policy.backoff_multiplier != 1:
        parts.append(f"x{policy.backoff_multiplier:g} each time")
    if policy.max_delay_s:
        parts.append(f"at most {policy.max_delay_s:g}s")
    if policy.jitter:
        parts.append(f"jitter {policy.jitter:g}")
    if policy.retry_on:
        parts.append("on " + ", ".join(policy.retry_on))
    return ", ".join(parts)


def _error_policy(pipeline: pipeline_pb2.Pipeline) -> list[str]:
    defaults = pipeline.error_handling
    lines = []
    overall = []
    if defaults.HasField("timeout_s"):
        overall.append(f"the whole run times out after {defaults.timeout_s:g}s")
    if defaults.on_error:
        overall.append(f"a failed step without its own policy routes to `{defaults.on_error}`")
    if overall:
        lines += ["Pipeline: " + "; ".join(overall) + ".", ""]
    handler_region = _region(pipeline, defaults.on_error) if defaults.on_error else set()
    rows = []
    for step in pipeline.steps:
        inherited = []
        retry = step.retry if step.HasField("retry") else defaults.retry
        if not step.HasField("retry") and defaults.HasField("retry"):
            inherited.append("retry")
        if step.HasField("timeout_s"):
            timeout = f"{step.timeout_s:g}s"
        elif defaults.HasField("step_timeout_s"):
            timeout = f"{defaults.step_timeout_s:g}s"
            inherited.append("timeout")
        else:
            timeout = "none"
        own = step.on_error or step.HasField("fallback") or step.HasField("continue_on_error")
        if step.HasField("fallback"):
            when_failed = f"use fallback {_code(_plain(step).get('fallback'))}"
        elif step.on_error:
            when_failed = f"route to `{step.on_error}`"
        elif step.continue_on_error:
            when_failed = "continue with the error as output"
        elif not own and defaults.on_error and step.id not in handler_region:
            when_failed = f"route to `{defaults.on_error}`"
            inherited.append("on error")
        elif not step.HasField("continue_on_error") and defaults.continue_on_error:
            when_failed = "continue with the error as output"
            inherited.append("on error")
        else:
            when_failed = "the run fails"
        rows.append(
            [
                f"`{step.id}`",
                _retry(retry),
                timeout,
                when_failed,
                ", ".join(inherited) if inherited else " ",
            ]
        )
    return lines + _table(["Step", "Retry", "Timeout per attempt", "When it fails", "From the pipeline"], rows)


def _region(pipeline: pipeline_pb2.Pipeline, handler: str) -> set[str]:
    """The handler and every step after it: the pipeline's on_error does not apply to them."""
    following: dict[str, list[str]] = {}
    for transition in pipeline.flow.transitions:
        following.setdefault(getattr(transition, "from"), []).append(transition.to)
    seen = {handler}
    stack = [handler]
    while stack:
        for target in following.get(stack.pop(), []):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def markdown(pipeline: pipeline_pb2.Pipeline) -> str:
    """The Markdown documentation of `pipeline` (see the module docstring)."""
    lines = [f"# {pipeline.name or 'Pipeline'}", ""]
    facts = []
    if pipeline.version:
        facts.append(f"version {pipeline.version}")
    if pipeline.labels:
        facts.append("labels " + ", ".join(f"`{k}={v}`" for k, v in sorted(pipeline.labels.items())))
    if facts:
        lines += ["; ".join(facts).capitalize() + ".", ""]
    if pipeline.description:
        lines += [pipeline.description, ""]
    sections = [
        ("Flow", ["```mermaid", to_mermaid(diagram(pipeline)).rstrip("\n"), "```"]),
        ("Parameters", _parameters(pipeline)),
        ("Steps", _steps(pipeline)),
        ("Transitions", _transitions(pipeline)),
        ("Outputs", _outputs(pipeline)),
        ("Error handling", _error_policy(pipeline)),
    ]
    for title, body in sections:
        lines += [f"## {title}", "", *body, ""]
    return "\n".join(lines)
