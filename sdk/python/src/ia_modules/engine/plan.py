"""A pipeline definition compiled once into what the scheduler needs.

Compiling parses every template and condition, resolves each step's error policy
(the step's own settings over the pipeline's), finds the back edges (loops) and
the steps each loop re-runs, and adds the implicit ``on_error`` edges. The
scheduler then does no parsing while a run executes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ia_modules.conditions import Condition, ConditionError, compile_condition
from ia_modules.engine.values import normalize
from ia_modules.json_schemas import schema_problem, schema_validator
from ia_modules.templates import Template, TemplateError, compile_template

__all__ = [
    "BUILTIN_TYPES",
    "HumanInputPlan",
    "MapPlan",
    "Plan",
    "PlanError",
    "RetryPolicy",
    "StepPlan",
    "TransitionPlan",
    "compile_plan",
]

BUILTIN_TYPES = frozenset({"pass", "wait", "map", "pipeline", "human_input"})
_MAP_ITEM_KINDS = frozenset({"pass", "wait", "pipeline", "plugin", "module"})
_ON_TIMEOUT = frozenset({"fail", "skip", "default"})


class PlanError(ValueError):
    """The definition cannot be run. ``problems`` holds (JSON path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry with exponential backoff. 0 for a delay field means "no delay"/"no cap"."""

    max_attempts: int = 1
    initial_delay_s: float = 0.0
    backoff_multiplier: float = 2.0
    max_delay_s: float = 0.0
    jitter: float = 0.0
    retry_on: frozenset[str] = frozenset()

    def retries(self, kind: str, not_retryable: frozenset[str]) -> bool:
        """Whether an error of ``kind`` may be retried under this policy."""
        if self.retry_on:
            return kind in self.retry_on
        return kind not in not_retryable

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next.

        ``min(initial_delay_s * backoff_multiplier^(attempt-1), max_delay_s)``, then
        moved by up to ``jitter`` of itself in either direction.
        """
        delay = self.initial_delay_s * self.backoff_multiplier ** (attempt - 1)
        if self.max_delay_s > 0:
            delay = min(delay, self.max_delay_s)
        if self.jitter > 0 and delay > 0:
            delay += delay * self.jitter * rng.uniform(-1.0, 1.0)
        return max(delay, 0.0)


@dataclass(slots=True, eq=False)
class TransitionPlan:
    """An edge. ``on_failure`` edges are the implicit ``on_error`` routes."""

    index: int
    source: str
    target: str
    condition: Condition
    max_iterations: int = 0
    back: bool = False
    on_failure: bool = False

    @property
    def label(self) -> str:
        """``source -> target`` for messages."""
        arrow = " -(on_error)-> " if self.on_failure else " -> "
        return f"{self.source}{arrow}{self.target}"


@dataclass(frozen=True, slots=True)
class HumanInputPlan:
    """Settings of a human_input step."""

    prompt: str
    ui_schema: dict[str, Any]
    assignees: tuple[str, ...]
    timeout_s: float | None
    on_timeout: str
    default_response: dict[str, Any]


@dataclass(slots=True, eq=False)
class MapPlan:
    """Settings of a map step: the items template and the step run for each item."""

    items: Template
    step: StepPlan
    max_concurrency: int


@dataclass(slots=True, eq=False)
class StepPlan:
    """One step with everything the scheduler needs, already parsed."""

    id: str
    kind: str
    path: str
    config: dict[str, Any] = field(default_factory=dict)
    inputs: Template | None = None
    values: dict[str, Any] = field(default_factory=dict)
    required_outputs: tuple[str, ...] = ()
    output_schemas: tuple[tuple[str, Any], ...] = ()
    retry: RetryPolicy = RetryPolicy()
    timeout_s: float | None = None
    continue_on_error: bool | None = None
    on_error: str = ""
    has_fallback: bool = False
    fallback: Any = None
    plugin: str = ""
    module: str = ""
    step_class: str = ""
    wait_seconds: float = 0.0
    child_pipeline: str = ""
    child_revision: int = 0
    human: HumanInputPlan | None = None
    map: MapPlan | None = None
    incoming: list[TransitionPlan] = field(default_factory=list)
    outgoing: list[TransitionPlan] = field(default_factory=list)
    back_out: list[TransitionPlan] = field(default_factory=list)
    error_edge: TransitionPlan | None = None
    reachable: bool = False


@dataclass(slots=True, eq=False)
class Plan:
    """A compiled pipeline."""

    name: str
    version: str
    parameters: dict[str, Any]
    parameter_specs: list[tuple[str, bool, Any]]
    steps: dict[str, StepPlan]
    start: str
    transitions: list[TransitionPlan]
    outputs: Template | None
    timeout_s: float | None
    loop_max_iterations: int
    loop_max_seconds: float
    #: For each loop target: the steps a new iteration re-runs, and the edges among them.
    regions: dict[str, tuple[frozenset[str], tuple[TransitionPlan, ...]]]

    def check_inputs(self, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Check run inputs against the declared parameters.

        Returns (field path, message) pairs, for example ``("inputs.topic",
        "required parameter is missing")``; empty when the inputs are acceptable.
        """
        problems: list[tuple[str, str]] = []
        merged = {**self.parameters, **inputs}
        for name, required, validator in self.parameter_specs:
            if name not in merged:
                if required:
                    problems.append((f"inputs.{name}", "required parameter is missing"))
                continue
            if validator is None:
                continue
            for error in sorted(validator.iter_errors(merged[name]), key=lambda e: list(e.path)):
                suffix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
                problems.append((f"inputs.{name}{suffix}", error.message))
        return problems

    def parameters_for(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The run's parameters: the inputs merged over the defaults."""
        return {**self.parameters, **inputs}


def _as_dict(pipeline: Any) -> dict[str, Any]:
    if hasattr(pipeline, "DESCRIPTOR"):
        from google.protobuf import json_format

        return normalize(json_format.MessageToDict(pipeline, preserving_proto_field_name=True))
    if isinstance(pipeline, Mapping):
        return normalize(dict(pipeline))
    raise PlanError([("", f"expected a Pipeline message or a dict, got {type(pipeline).__name__}")])


def _retry(raw: Mapping[str, Any] | None, base: RetryPolicy) -> RetryPolicy:
    if not raw:
        return base
    return RetryPolicy(
        max_attempts=max(int(raw.get("max_attempts") or base.max_attempts), 1),
        initial_delay_s=float(raw.get("initial_delay_s", base.initial_delay_s)),
        backoff_multiplier=float(raw.get("backoff_multiplier") or base.backoff_multiplier),
        max_delay_s=float(raw.get("max_delay_s", base.max_delay_s)),
        jitter=min(max(float(raw.get("jitter", base.jitter)), 0.0), 1.0),
        retry_on=frozenset(raw["retry_on"]) if raw.get("retry_on") else base.retry_on,
    )


def _schema_validator(schema: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if not schema:
        return None
    problem = schema_problem(schema)
    if problem is not None:
        problems.append((path, f"invalid JSON Schema: {problem}"))
        return None
    return schema_validator(schema)


class _Compiler:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[tuple[str, str]] = []
        policy = raw.get("error_handling") or {}
        self.default_retry = _retry(policy.get("retry"), RetryPolicy())
        self.default_timeout = policy.get("step_timeout_s")
        self.default_continue = bool(policy.get("continue_on_error", False))
        self.default_on_error = policy.get("on_error") or ""

    def template(self, value: Any, path: str) -> Template | None:
        try:
            return compile_template(value)
        except TemplateError as exc:
            self.problems.append((path, str(exc)))
            return None

    def step(self, raw: Mapping[str, Any], path: str, *, inner: bool = False) -> StepPlan:
        step_id = raw.get("id") or ""
        kind = raw.get("type") or ""
        if kind and kind not in BUILTIN_TYPES:
            self.problems.append((f"{path}.type", f"unknown step type {kind!r}"))
        if not kind:
            if raw.get("plugin"):
                kind = "plugin"
            elif raw.get("module"):
                kind = "module"
            else:
                self.problems.append((path, "a step needs a `type`, a `plugin` or a `module`"))
        config = raw.get("config") or {}
        step = StepPlan(id=step_id, kind=kind, path=path, config=config)
        if "inputs" in raw:
            step.inputs = self.template(raw["inputs"], f"{path}.inputs")
        values = config.get("values") if kind == "pass" else None
        step.values = values if isinstance(values, dict) else {}
        specs = raw.get("outputs") or []
        step.required_outputs = tuple(s["name"] for s in specs if s.get("required"))
        step.output_schemas = tuple(
            (s["name"], v)
            for i, s in enumerate(specs)
            if (v := _schema_validator(s.get("schema"), f"{path}.outputs[{i}].schema", self.problems))
        )
        step.retry = _retry(raw.get("retry"), self.default_retry)
        step.timeout_s = raw.get("timeout_s", self.default_timeout)
        step.continue_on_error = raw.get("continue_on_error")
        step.on_error = raw.get("on_error") or ""
        step.has_fallback = "fallback" in raw
        step.fallback = raw.get("fallback")
        step.plugin = raw.get("plugin") or ""
        step.module = raw.get("module") or ""
        step.step_class = raw.get("step_class") or ""
        if kind == "wait":
            wait = raw.get("wait") or {}
            step.wait_seconds = float(wait.get("seconds", config.get("seconds", 0)))
        elif kind == "pipeline":
            child = raw.get("pipeline") or {}
            step.child_pipeline = child.get("name") or config.get("pipeline") or ""
            step.child_revision = int(child.get("revision", 0))
            if not step.child_pipeline:
                self.problems.append((f"{path}.pipeline.name", "a pipeline step names the pipeline to run"))
        elif kind == "human_input":
            if inner:
                self.problems.append((path, "a map cannot run a human_input step for each item"))
            step.human = self.human(raw.get("human_input") or {}, f"{path}.human_input")
        elif kind == "map":
            if inner:
                self.problems.append((path, "a map cannot contain another map"))
            else:
                step.map = self.map(raw, step, path)
        return step

    def human(self, raw: Mapping[str, Any], path: str) -> HumanInputPlan:
        on_timeout = raw.get("on_timeout") or "fail"
        if on_timeout not in _ON_TIMEOUT:
            self.problems.append((f"{path}.on_timeout", "on_timeout is one of fail, skip, default"))
        return HumanInputPlan(
            prompt=raw.get("prompt", ""),
            ui_schema=raw.get("ui_schema") or {},
            assignees=tuple(raw.get("assignees") or ()),
            timeout_s=raw.get("timeout_s"),
            on_timeout=on_timeout,
            default_response=raw.get("default_response") or {},
        )

    def map(self, raw: Mapping[str, Any], outer: StepPlan, path: str) -> MapPlan | None:
        spec = raw.get("map") or {}
        inner_raw = dict(spec.get("step") or {})
        if not inner_raw:
            self.problems.append((f"{path}.map.step", "a map step needs the step to run for each item"))
            return None
        inner_raw.setdefault("id", outer.id)
        for inherited in ("retry", "timeout_s"):
            if inherited not in inner_raw and inherited in raw:
                inner_raw[inherited] = raw[inherited]
        inner = self.step(inner_raw, f"{path}.map.step", inner=True)
        if inner.kind and inner.kind not in _MAP_ITEM_KINDS:
            self.problems.append((f"{path}.map.step.type", f"a map cannot run {inner.kind!r} steps"))
        items = self.template(spec.get("items", ""), f"{path}.map.items")
        if items is None:
            return None
        return MapPlan(items=items, step=inner, max_concurrency=int(spec.get("max_concurrency", 0)))

    def compile(self) -> Plan:
        raw = self.raw
        steps: dict[str, StepPlan] = {}
        for i, raw_step in enumerate(raw.get("steps") or []):
            step = self.step(raw_step, f"steps[{i}]")
            if not step.id:
                self.problems.append((f"steps[{i}].id", "a step needs an id"))
            elif step.id in steps:
                self.problems.append((f"steps[{i}].id", f"duplicate step id {step.id!r}"))
            else:
                steps[step.id] = step
        if not steps:
            self.problems.append(("steps", "a pipeline needs at least one step"))
            raise PlanError(self.problems)
        flow = raw.get("flow") or {}
        start = flow.get("start_at") or next(iter(steps))
        if start not in steps:
            self.problems.append(("flow.start_at", f"unknown step {start!r}"))
        transitions = self.transitions(flow.get("transitions") or [], steps)
        loop = raw.get("loop_config") or {}
        plan = Plan(
            name=raw.get("name", ""),
            version=raw.get("version", ""),
            parameters=dict(raw.get("parameters") or {}),
            parameter_specs=[
                (
                    s.get("name", ""),
                    bool(s.get("required")),
                    _schema_validator(s.get("schema"), f"parameter_specs[{i}].schema", self.problems),
                )
                for i, s in enumerate(raw.get("parameter_specs") or [])
            ],
            steps=steps,
            start=start,
            transitions=transitions,
            outputs=self.template(raw["outputs"], "outputs") if raw.get("outputs") else None,
            timeout_s=(raw.get("error_handling") or {}).get("timeout_s"),
            loop_max_iterations=int(loop.get("max_iterations", 0)),
            loop_max_seconds=float(loop.get("max_loop_time_seconds", 0)),
            regions={},
        )
        if not self.problems:
            _shape(plan, self.default_on_error, self.default_continue, self.problems)
        if self.problems:
            raise PlanError(self.problems)
        return plan

    def transitions(self, raw: list[Mapping[str, Any]], steps: dict[str, StepPlan]) -> list[TransitionPlan]:
        result = []
        for j, edge in enumerate(raw):
            path = f"flow.transitions[{j}]"
            source, target = edge.get("from", ""), edge.get("to", "")
            for end, name in (("from", source), ("to", target)):
                if name not in steps:
                    self.problems.append((f"{path}.{end}", f"unknown step {name!r}"))
            try:
                condition = compile_condition(edge.get("condition"))
            except ConditionError as exc:
                self.problems.append((f"{path}.condition", str(exc)))
                continue
            result.append(
                TransitionPlan(
                    index=j,
                    source=source,
                    target=target,
                    condition=condition,
                    max_iterations=int(edge.get("max_iterations", 0)),
                )
            )
        return result


def _shape(plan: Plan, default_on_error: str, default_continue: bool, problems: list[tuple[str, str]]) -> None:
    """Add on_error edges, classify back edges, and compute reachability and loop regions.

    A step's own fallback, on_error and continue_on_error come before the
    pipeline's defaults; the pipeline's on_error does not apply to the handler
    itself or to the steps after it.
    """
    steps = plan.steps
    edges = list(plan.transitions)
    if default_on_error and default_on_error not in steps:
        problems.append(("error_handling.on_error", f"unknown step {default_on_error!r}"))
        return
    for step in steps.values():
        if step.on_error and step.on_error not in steps:
            problems.append((f"{step.path}.on_error", f"unknown step {step.on_error!r}"))
    if problems:
        return
    always = compile_condition(None)
    by_source: dict[str, list[TransitionPlan]] = {s: [] for s in steps}
    for edge in edges:
        by_source[edge.source].append(edge)
    handler_region = _reachable(default_on_error, by_source) if default_on_error else set()
    for step in steps.values():
        own_policy = step.has_fallback or step.continue_on_error is not None
        uses_default = not own_policy and step.id not in handler_region
        target = step.on_error or (default_on_error if uses_default else "")
        if step.continue_on_error is None:
            step.continue_on_error = default_continue
        if target:
            edge = TransitionPlan(len(edges), step.id, target, always, on_failure=True)
            edges.append(edge)
            by_source[step.id].append(edge)
            step.error_edge = edge
    _classify(plan.start, steps, by_source)
    for edge in edges:
        if edge.back and not (edge.max_iterations or plan.loop_max_iterations or plan.loop_max_seconds):
            where = f"flow.transitions[{edge.index}]" if not edge.on_failure else f"{steps[edge.source].path}.on_error"
            problems.append((where, f"the loop {edge.label} is unbounded: set its max_iterations or loop_config"))
    for edge in edges:
        if not steps[edge.source].reachable:
            continue
        source = steps[edge.source]
        if edge.back:
            if not edge.on_failure:
                source.back_out.append(edge)
        else:
            steps[edge.target].incoming.append(edge)
            if not edge.on_failure:
                source.outgoing.append(edge)
    forward = {s: [e for e in out if not e.back] for s, out in by_source.items()}
    for edge in edges:
        if edge.back and edge.target not in plan.regions:
            region = _reachable(edge.target, forward)
            inner = tuple(e for e in edges if not e.back and e.source in region)
            plan.regions[edge.target] = (frozenset(region), inner)
    plan.transitions = edges


def _reachable(start: str, by_source: dict[str, list[TransitionPlan]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for edge in by_source[stack.pop()]:
            if edge.target not in seen:
                seen.add(edge.target)
                stack.append(edge.target)
    return seen


def _classify(start: str, steps: dict[str, StepPlan], by_source: dict[str, list[TransitionPlan]]) -> None:
    """Depth-first from the start: an edge into a step still on the path is a back edge."""
    on_path: set[str] = {start}
    steps[start].reachable = True
    stack = [(start, iter(by_source[start]))]
    while stack:
        node, edges = stack[-1]
        edge = next(edges, None)
        if edge is None:
            on_path.discard(node)
            stack.pop()
            continue
        target = steps[edge.target]
        if edge.target in on_path:
            edge.back = True
        elif not target.reachable:
            target.reachable = True
            on_path.add(edge.target)
            stack.append((edge.target, iter(by_source[edge.target])))


def compile_plan(pipeline: Any) -> Plan:
    """Compile a Pipeline message (or its canonical dict) into a Plan.

    Raises PlanError with JSON paths when the definition cannot be run.
    """
    return _Compiler(_as_dict(pipeline)).compile()
