"""Validation of a canonical pipeline: steps, graph, templates, conditions and error policy.

Every finding names a JSON path into the canonical definition, a stable code, and where
one exists a "did you mean" hint. The graph is built once and every check walks the
definition once, so validating a pipeline takes time about linear in its size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.conditions import OPERATORS, ConditionError, compile_cel
from ia_modules.templates import Reference, TemplateError, find_references, parse_reference

from . import paths
from .branches import MAX_BRANCHES, MAX_FORK, condition_form, exclusive_forms, reach, shown
from .cel_paths import member_paths
from .findings import Code, Finding, as_errors, did_you_mean, error, warning
from .graph import Edge, Graph
from .names import BUILTIN_CONDITION_TYPES, BUILTIN_STEP_TYPES, PIPELINE_NAME, STEP_ID, pipeline_name_for, step_id_for
from .plain_schemas import is_plainly_valid, surely_matches
from .proto_json import plain

SUSPICIOUS_SECONDS = 86400
"""Per-attempt timeouts above a day are likely milliseconds written as seconds."""
SUSPICIOUS_RETRY_SECONDS = {"initial_delay_s": 300, "max_delay_s": 3600}
"""Retry delays above these (a first retry after 5 minutes, any after an hour) are likely milliseconds."""

_SPEC_OF_TYPE = {"human_input": "human_input", "map": "map", "pipeline": "pipeline", "wait": "wait"}
_MAP_ITEM_TYPES = ("pass", "wait", "pipeline")
_ON_TIMEOUT = ("fail", "skip", "default")


def validate(pipeline: pipeline_pb2.Pipeline, *, strict: bool = False) -> list[Finding]:
    """Check a canonical pipeline and return every finding (empty when it is valid).

    `strict=True` reports warnings as errors. Never raises on a bad definition.
    """
    findings = _Validation(pipeline).run()
    return as_errors(findings) if strict else findings


def _duration(seconds: float) -> str:
    """A long span of seconds in words: `8.33 minutes`, `83.3 hours`."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:g} seconds"


def _to_python(message) -> object:
    return plain(json_format.MessageToDict(message))


@lru_cache(maxsize=512)
def _schema_problem(schema_json: str) -> str | None:
    # Imported here, not at the top: most definitions have no schema, and jsonschema
    # would slow every `ia-modules validate`.
    from ia_modules.json_schemas import schema_problem as problem_of

    return problem_of(json.loads(schema_json))


def schema_problem(schema: dict) -> str | None:
    """Why `schema` is not a valid JSON Schema (draft 2020-12 unless it says otherwise), or None."""
    if is_plainly_valid(schema):
        return None
    return _schema_problem(json.dumps(schema, sort_keys=True))


def _strings(value, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its path; only those that may hold a template."""
    if isinstance(value, str):
        if "{" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, paths.key(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, paths.index(path, i))


class _Validation:
    def __init__(self, pipeline: pipeline_pb2.Pipeline) -> None:
        self.p = pipeline
        self.findings: list[Finding] = []
        self.ids: dict[str, int] = {}
        self.outputs: dict[str, set[str]] = {}
        self.parameters: set[str] | None = None
        # Steps no route reaches: warned about once, and not checked for what ran before them.
        self.unreachable: set[int] = set()
        self.start = 0
        # Steps read by each step's inputs and by the outputs: (step index, path, template).
        self.reads: dict[str, list[tuple[int, str, str]]] = {}

    def error(self, path: str, code: Code, message: str, hint: str | None = None) -> None:
        self.findings.append(error(path, code, message, hint))

    def warning(self, path: str, code: Code, message: str, hint: str | None = None) -> None:
        self.findings.append(warning(path, code, message, hint))

    def run(self) -> list[Finding]:
        p = self.p
        self._name()
        self._parameters()
        self._steps()
        if p.HasField("error_handling"):
            self._error_policy(p.error_handling, "error_handling")
        if p.HasField("loop_config"):
            self._loop_config(p.loop_config)
        graph = self._graph()
        self._templates(graph)
        return self.findings

    # The pipeline, its parameters and its steps.

    def _name(self) -> None:
        name = self.p.name
        if not name:
            self.error(
                "name",
                Code.MISSING_NAME,
                "the pipeline has no name",
                'add "name": "my-pipeline" (lowercase letters, digits, `-`, `_`, `.`)',
            )
        elif not PIPELINE_NAME.match(name):
            slug = pipeline_name_for(name)
            self.error(
                "name",
                Code.INVALID_NAME,
                f"`{name}` is not a valid pipeline name: use lowercase letters, digits, `-`, `_` and `.`, "
                "starting with a letter",
                f"did you mean `{slug}`?" if slug else None,
            )

    def _parameters(self) -> None:
        p = self.p
        defaults = _to_python(p.parameters) if p.HasField("parameters") else {}
        specs = list(p.parameter_specs)
        if p.HasField("parameters") or specs:
            self.parameters = set(defaults) | {s.name for s in specs if s.name}
        seen: dict[str, int] = {}
        for i, spec in enumerate(specs):
            where = paths.index("parameter_specs", i)
            if not spec.name:
                self.error(paths.key(where, "name"), Code.MISSING_PARAMETER_NAME, "this parameter has no name")
                continue
            if spec.name in seen:
                self.error(
                    paths.key(where, "name"),
                    Code.DUPLICATE_PARAMETER,
                    f"parameter `{spec.name}` is declared twice",
                    f"the first is parameter_specs[{seen[spec.name]}]",
                )
                continue
            seen[spec.name] = i
            if spec.HasField("schema"):
                schema = _to_python(spec.schema)
                problem = schema_problem(schema)
                if problem:
                    self.error(paths.key(where, "schema"), Code.INVALID_SCHEMA, f"not a valid JSON Schema: {problem}")
                elif spec.name in defaults:
                    self._check_default(defaults[spec.name], schema, paths.key("parameters", spec.name))

    def _check_default(self, value, schema: dict, where: str) -> None:
        if is_plainly_valid(schema) and surely_matches(value, schema):
            return
        import jsonschema

        from ia_modules.json_schemas import schema_validator

        problem = jsonschema.exceptions.best_match(schema_validator(schema).iter_errors(value))
        if problem is not None:
            self.error(where, Code.INVALID_DEFAULT, f"the default does not match its schema: {problem.message}")

    def _steps(self) -> None:
        steps = self.p.steps
        if not steps:
            self.error("steps", Code.NO_STEPS, "the pipeline has no steps", "add at least one step")
            return
        for i, step in enumerate(steps):
            where = paths.index("steps", i)
            self._step_id(step, where, i)
            self._step(step, where, inner=False)

    def _step_id(self, step: pipeline_pb2.Step, where: str, i: int) -> None:
        if not step.id:
            self.error(
                paths.key(where, "id"),
                Code.MISSING_STEP_ID,
                "this step has no id",
                'add "id": "fetch" (letters, digits and `_`, starting with a letter)',
            )
            return
        if not STEP_ID.match(step.id):
            suggestion = step_id_for(step.id)
            self.error(
                paths.key(where, "id"),
                Code.INVALID_STEP_ID,
                f"`{step.id}` is not a valid step id: use letters, digits and `_`, starting with a letter",
                f"did you mean `{suggestion}`?" if STEP_ID.match(suggestion) else None,
            )
        if step.id in self.ids:
            self.error(
                paths.key(where, "id"),
                Code.DUPLICATE_STEP_ID,
                f"step id `{step.id}` is used twice",
                f"the first is steps[{self.ids[step.id]}]; rename one of them",
            )
            return
        self.ids[step.id] = i
        names = {o.name for o in step.outputs if o.name}
        if names:
            self.outputs[step.id] = names

    def _step(self, step: pipeline_pb2.Step, where: str, *, inner: bool) -> None:
        kinds = [
            k
            for k, on in (("type", step.type), ("plugin", step.plugin), ("module", step.module or step.step_class))
            if on
        ]
        if not kinds:
            self.error(
                where,
                Code.MISSING_STEP_KIND,
                "the step does not say what it does",
                "set a built-in `type`, a `plugin`, or a `module` and `step_class`",
            )
        elif len(kinds) > 1:
            self.error(
                paths.key(where, kinds[1]),
                Code.AMBIGUOUS_STEP_KIND,
                f"a step does its work in one way only, but this one sets {' and '.join(kinds)}",
                "keep only one of them",
            )
        if step.type and step.type not in BUILTIN_STEP_TYPES:
            hint = did_you_mean(step.type, BUILTIN_STEP_TYPES) or f'to run a plugin, write "plugin": "{step.type}"'
            self.error(
                paths.key(where, "type"),
                Code.UNKNOWN_STEP_TYPE,
                f"unknown step type `{step.type}`; the built-in types are {', '.join(BUILTIN_STEP_TYPES)}",
                hint,
            )
        if bool(step.module) != bool(step.step_class):
            missing = "step_class" if step.module else "module"
            self.error(
                paths.key(where, missing),
                Code.INCOMPLETE_MODULE_STEP,
                f"a Python step needs both `module` and `step_class`; `{missing}` is missing",
            )
        for spec in _SPEC_OF_TYPE.values():
            if step.HasField(spec) and step.type != spec:
                self.error(
                    paths.key(where, spec),
                    Code.UNEXPECTED_SETTINGS,
                    f"`{spec}` settings belong to a step of type `{spec}`, not to this one",
                    f'set "type": "{spec}" or remove `{spec}`',
                )
        if inner and step.type in ("map", "human_input"):
            self.error(
                paths.key(where, "type"),
                Code.INVALID_SETTING,
                f"a map cannot run a `{step.type}` step for each item",
                f"use one of {', '.join(_MAP_ITEM_TYPES)}, a plugin or a module",
            )
        else:
            check = getattr(self, f"_{step.type}_step", None)
            if check is not None:
                check(step, where)
        self._outputs(step, where)
        self._step_policy(step, where)

    def _wait_step(self, step: pipeline_pb2.Step, where: str) -> None:
        if not step.HasField("wait"):
            self.error(
                paths.key(where, "wait"),
                Code.MISSING_SETTING,
                "a wait step needs `wait.seconds`",
                'add "wait": {"seconds": 5}',
            )
        elif step.wait.seconds < 0:
            self.error(
                paths.join(where, ["wait", "seconds"]), Code.INVALID_SETTING, "`wait.seconds` cannot be negative"
            )

    def _map_step(self, step: pipeline_pb2.Step, where: str) -> None:
        spec = step.map
        spec_path = paths.key(where, "map")
        if not spec.items:
            self.error(
                paths.key(spec_path, "items"),
                Code.MISSING_SETTING,
                "a map step needs `items`, a template that gives the list",
                'e.g. "{{ fetch.items }}"',
            )
        if not spec.HasField("step"):
            self.error(
                paths.key(spec_path, "step"),
                Code.MISSING_SETTING,
                "a map step needs `step`, the step to run for each item",
            )
        else:
            self._step(spec.step, paths.key(spec_path, "step"), inner=True)
        if spec.max_concurrency < 0:
            self.error(
                paths.key(spec_path, "max_concurrency"),
                Code.INVALID_SETTING,
                "`max_concurrency` cannot be negative (0 means no limit)",
            )

    def _pipeline_step(self, step: pipeline_pb2.Step, where: str) -> None:
        spec_path = paths.key(where, "pipeline")
        if not step.pipeline.name:
            self.error(
                paths.key(spec_path, "name"),
                Code.MISSING_SETTING,
                "a pipeline step needs `pipeline.name`, the pipeline to run",
            )
        elif not PIPELINE_NAME.match(step.pipeline.name):
            self.error(
                paths.key(spec_path, "name"),
                Code.INVALID_SETTING,
                f"`{step.pipeline.name}` is not a valid pipeline name",
            )
        if step.pipeline.revision < 0:
            self.error(
                paths.key(spec_path, "revision"),
                Code.INVALID_SETTING,
                "`revision` cannot be negative (0 means the latest)",
            )

    def _human_input_step(self, step: pipeline_pb2.Step, where: str) -> None:
        spec = step.human_input
        spec_path = paths.key(where, "human_input")
        schema_path = paths.key(spec_path, "ui_schema")
        schema = None
        if not spec.HasField("ui_schema"):
            self.error(
                schema_path,
                Code.MISSING_SETTING,
                "a human_input step needs `ui_schema`, the JSON Schema of the answer",
                'e.g. {"type": "object", "properties": {"approved": {"type": "boolean"}}}',
            )
        else:
            schema = _to_python(spec.ui_schema)
            problem = schema_problem(schema)
            if problem:
                self.error(schema_path, Code.INVALID_UI_SCHEMA, f"`ui_schema` is not a valid JSON Schema: {problem}")
                schema = None
            elif schema.get("type", "object") != "object":
                # The answer becomes the step's output, which later steps read field by field.
                self.error(
                    paths.key(schema_path, "type"),
                    Code.INVALID_UI_SCHEMA,
                    "`ui_schema` must describe an object: the answer is the step's output",
                    'use "type": "object" with the fields under "properties"',
                )
        if spec.HasField("timeout_s") and spec.timeout_s <= 0:
            self.error(
                paths.key(spec_path, "timeout_s"),
                Code.INVALID_TIMEOUT,
                "`timeout_s` must be more than 0; leave it out to wait forever",
            )
        if spec.on_timeout and spec.on_timeout not in _ON_TIMEOUT:
            self.error(
                paths.key(spec_path, "on_timeout"),
                Code.INVALID_SETTING,
                f"`on_timeout` is one of {', '.join(_ON_TIMEOUT)}",
                did_you_mean(spec.on_timeout, _ON_TIMEOUT),
            )
        if spec.on_timeout == "default" and not spec.HasField("default_response"):
            self.error(
                paths.key(spec_path, "default_response"),
                Code.MISSING_SETTING,
                '`on_timeout: "default"` needs a `default_response`',
            )
        if schema is not None and spec.HasField("default_response"):
            self._check_default(_to_python(spec.default_response), schema, paths.key(spec_path, "default_response"))

    def _outputs(self, step: pipeline_pb2.Step, where: str) -> None:
        seen: set[str] = set()
        for i, output in enumerate(step.outputs):
            out_path = paths.index(paths.key(where, "outputs"), i)
            if not output.name:
                self.error(paths.key(out_path, "name"), Code.MISSING_OUTPUT_NAME, "this output has no name")
            elif output.name in seen:
                self.error(
                    paths.key(out_path, "name"), Code.DUPLICATE_OUTPUT, f"output `{output.name}` is declared twice"
                )
            seen.add(output.name)
            if output.HasField("schema"):
                problem = schema_problem(_to_python(output.schema))
                if problem:
                    self.error(
                        paths.key(out_path, "schema"), Code.INVALID_SCHEMA, f"not a valid JSON Schema: {problem}"
                    )

    # Error policy and loop bounds.

    def _step_policy(self, step: pipeline_pb2.Step, where: str) -> None:
        if step.HasField("retry"):
            self._retry(step.retry, paths.key(where, "retry"))
        if step.HasField("timeout_s"):
            self._timeout(step.timeout_s, paths.key(where, "timeout_s"), per_attempt=True)
        if step.continue_on_error and step.on_error:
            self.warning(
                paths.key(where, "on_error"),
                Code.UNUSED_ERROR_ROUTE,
                "with `continue_on_error` the step never fails, so `on_error` is never used",
                "remove one of them",
            )

    def _error_policy(self, policy: pipeline_pb2.ErrorPolicy, where: str) -> None:
        if policy.HasField("retry"):
            self._retry(policy.retry, paths.key(where, "retry"))
        if policy.HasField("timeout_s"):
            self._timeout(policy.timeout_s, paths.key(where, "timeout_s"), per_attempt=False)
        if policy.HasField("step_timeout_s"):
            self._timeout(policy.step_timeout_s, paths.key(where, "step_timeout_s"), per_attempt=True)

    def _retry(self, retry: pipeline_pb2.RetryPolicy, where: str) -> None:
        def bad(field: str, message: str, hint: str | None = None) -> None:
            self.error(paths.key(where, field), Code.INVALID_RETRY, message, hint)

        if retry.max_attempts < 1:
            bad("max_attempts", "`max_attempts` must be at least 1 (it counts the first attempt; 1 means no retry)")
        for field in ("initial_delay_s", "max_delay_s"):
            value = getattr(retry, field)
            if value < 0:
                bad(field, f"`{field}` cannot be negative")
            elif value > SUSPICIOUS_RETRY_SECONDS[field]:
                self.warning(
                    paths.key(where, field),
                    Code.SUSPICIOUS_UNIT,
                    f"`{field}` is {value:g} seconds ({_duration(value)})",
                    f"did you mean {value / 1000:g} seconds? the unit is seconds, not milliseconds",
                )
        if retry.max_delay_s and retry.max_delay_s < retry.initial_delay_s:
            bad("max_delay_s", "`max_delay_s` is smaller than `initial_delay_s`")
        if retry.backoff_multiplier and retry.backoff_multiplier < 1:
            bad("backoff_multiplier", "`backoff_multiplier` must be at least 1", "use 2 to double each delay")
        if not 0 <= retry.jitter <= 1:
            bad("jitter", "`jitter` is a fraction of the delay, from 0 to 1", "0.1 moves each delay by up to 10%")

    def _timeout(self, value: float, where: str, *, per_attempt: bool) -> None:
        if value <= 0:
            self.error(
                where, Code.INVALID_TIMEOUT, "a timeout must be more than 0 seconds", "leave it out for no timeout"
            )
        elif per_attempt and value > SUSPICIOUS_SECONDS:
            self.warning(
                where,
                Code.SUSPICIOUS_UNIT,
                f"a timeout of {value:g} seconds is more than a day",
                f"did you mean {value / 1000:g} seconds? the unit is seconds, not milliseconds",
            )

    def _loop_config(self, loop: pipeline_pb2.LoopConfig) -> None:
        if loop.max_iterations < 0:
            self.error("loop_config.max_iterations", Code.INVALID_LOOP_BOUND, "`max_iterations` cannot be negative")
        if loop.max_loop_time_seconds < 0:
            self.error(
                "loop_config.max_loop_time_seconds",
                Code.INVALID_LOOP_BOUND,
                "`max_loop_time_seconds` cannot be negative",
            )

    # The graph.

    def _step_ref(self, name: str, where: str, what: str) -> int | None:
        index = self.ids.get(name)
        if index is None:
            hint = did_you_mean(name, self.ids) if name else None
            shown = f"`{name}`" if name else "no step"
            self.error(
                where,
                Code.UNKNOWN_STEP,
                f"{what} names {shown}, which is not a step of this pipeline",
                hint or (f"the steps are {', '.join(list(self.ids)[:10])}" if self.ids else None),
            )
        return index

    def _graph(self) -> Graph:
        p = self.p
        edges: list[Edge] = []
        start = 0
        if p.flow.start_at:
            found = self._step_ref(p.flow.start_at, "flow.start_at", "`start_at`")
            start = found if found is not None else -1
        self.start = start
        for j, transition in enumerate(p.flow.transitions):
            where = paths.index("flow.transitions", j)
            source = self._step_ref(getattr(transition, "from"), paths.key(where, "from"), "this transition")
            target = self._step_ref(transition.to, paths.key(where, "to"), "this transition")
            if transition.max_iterations < 0:
                self.error(
                    paths.key(where, "max_iterations"), Code.INVALID_LOOP_BOUND, "`max_iterations` cannot be negative"
                )
            if source is not None and target is not None:
                edges.append(Edge(source, target, where, bounded=transition.max_iterations > 0))
        edges.extend(self._error_edges(edges))
        graph = Graph(len(p.steps), edges)
        if p.steps and start >= 0:
            reached = graph.reachable(start)
            for i, step in enumerate(p.steps):
                if i not in reached and self.ids.get(step.id) == i:
                    self.unreachable.add(i)
                    self.warning(
                        paths.index("steps", i),
                        Code.UNREACHABLE_STEP,
                        f"step `{step.id}` can never run: no transition or error route leads to it",
                        "add a transition to it, or remove it",
                    )
        loop = p.loop_config
        if not (loop.max_iterations > 0 or loop.max_loop_time_seconds > 0):
            for cycle, closing in graph.unbounded_cycles():
                names = [p.steps[i].id for i in cycle]
                shown = " -> ".join([*names, names[0]])
                self.error(
                    closing.path,
                    Code.UNBOUNDED_CYCLE,
                    f"the loop {shown} has no bound and could run forever",
                    "set `max_iterations` on one of its transitions, or `loop_config.max_iterations`",
                )
        return graph

    def _error_edges(self, transitions: list[Edge]) -> list[Edge]:
        """Error routes as edges: each step's `on_error`, else the pipeline's default.

        As in the engine, the default applies neither to steps with their own error
        policy nor to the handler and the steps after it.
        """
        p = self.p
        edges = []
        for i, step in enumerate(p.steps):
            if step.on_error:
                target = self._step_ref(step.on_error, paths.index("steps", i) + ".on_error", "`on_error`")
                if target is not None and not step.continue_on_error:
                    edges.append(Edge(i, target, paths.index("steps", i) + ".on_error"))
        default = p.error_handling.on_error
        if not default:
            return edges
        handler = self._step_ref(default, "error_handling.on_error", "`on_error`")
        if handler is None:
            return edges
        region = Graph(len(p.steps), transitions).reachable(handler)
        for i, step in enumerate(p.steps):
            own = step.on_error or step.HasField("fallback") or step.HasField("continue_on_error")
            if not own and i not in region:
                edges.append(Edge(i, handler, "error_handling.on_error"))
        return edges

    # Templates and conditions.

    def _templates(self, graph: Graph) -> None:
        p = self.p
        for i, step in enumerate(p.steps):
            where = paths.index("steps", i)
            at = i if self.ids.get(step.id) == i else None
            if step.HasField("inputs"):
                reader = f"step `{step.id}`" if at is not None and at not in self.unreachable else None
                self._check_templates(_to_python(step.inputs), paths.key(where, "inputs"), graph, at, reader=reader)
            if step.type == "map":
                spec_path = paths.key(where, "map")
                templates = self._check_templates(step.map.items, paths.key(spec_path, "items"), graph, at)
                if step.map.items and not templates:
                    self.error(
                        paths.key(spec_path, "items"),
                        Code.INVALID_SETTING,
                        "`items` must be a template that gives a list",
                        'e.g. "{{ fetch.items }}"',
                    )
                if step.map.step.HasField("inputs"):
                    inner = paths.join(spec_path, ["step", "inputs"])
                    self._check_templates(_to_python(step.map.step.inputs), inner, graph, at, in_map=True)
        for j, transition in enumerate(p.flow.transitions):
            if transition.HasField("condition"):
                where = paths.join("flow.transitions", [j, "condition"])
                self._condition(transition.condition, where, graph, self.ids.get(getattr(transition, "from")))
        if p.HasField("outputs"):
            self._check_templates(_to_python(p.outputs), "outputs", graph, None, reader="the run's outputs")
        self._joins(graph)

    # Joins that read branches that exclude each other.

    def _joins(self, graph: Graph) -> None:
        """A step (or the run's outputs) reading the outputs of two branches that never both run.

        After an if/else only one branch runs, so a join that needs both fails every
        time. Two branches exclude each other when one step's transitions into them
        have conditions that cannot both hold (`x == 1` / `x != 1`, `e` / `!(e)`), and
        each branch is reached only through its transition. Branch points inside a loop
        are left out: another iteration may take the other branch. One finding per reader.
        """
        readers = {reader: reads for reader, reads in self.reads.items() if len({r[0] for r in reads}) > 1}
        if not readers:
            return
        exclusive = self._exclusive_transitions(graph)
        branches = {j for pair in exclusive for j in pair}
        if not branches or len(branches) > MAX_BRANCHES:
            return
        arms = self._arms(branches, graph)
        for reader, reads in readers.items():
            seen: list[tuple[int, str, str]] = []
            for target, path, text in reads:
                clash = next(
                    (
                        (other, other_path, other_text, exclusive[(a, b)])
                        for other, other_path, other_text in seen
                        for a in arms.get(other, ())
                        for b in arms.get(target, ())
                        if (a, b) in exclusive
                    ),
                    None,
                )
                if clash is not None:
                    other, other_path, other_text, why = clash
                    steps = self.p.steps
                    self.error(
                        path,
                        Code.JOIN_NEVER_RUNS,
                        f"{reader} reads `{other_text}` and `{text}`, but `{steps[other].id}` and "
                        f"`{steps[target].id}` are on branches that exclude each other ({why}), "
                        "so one of them is always missing",
                        f"read only one branch here (the other read is at {other_path}), or give both "
                        "branches a step that outputs the same field and read that",
                    )
                    break
                seen.append((target, path, text))

    def _exclusive_transitions(self, graph: Graph) -> dict[tuple[int, int], str]:
        """Ordered pairs of transitions out of one step (outside loops) whose conditions exclude each other."""
        by_source: dict[int, list[int]] = {}
        for j, transition in enumerate(self.p.flow.transitions):
            source = self.ids.get(getattr(transition, "from"))
            if source is not None and transition.to in self.ids and transition.HasField("condition"):
                by_source.setdefault(source, []).append(j)
        pairs: dict[tuple[int, int], str] = {}
        transitions = self.p.flow.transitions
        for source, edges in by_source.items():
            if not 2 <= len(edges) <= MAX_FORK or graph.is_upstream(source, source):
                continue
            forms = {j: condition_form(transitions[j].condition) for j in edges}
            for n, a in enumerate(edges):
                for b in edges[n + 1 :]:
                    if exclusive_forms(forms[a], forms[b]):
                        first, second = transitions[a].condition, transitions[b].condition
                        text = f"after `{self.p.steps[source].id}`: {shown(first)} / {shown(second)}"
                        pairs[(a, b)] = pairs[(b, a)] = text
        return pairs

    def _arms(self, transitions: set[int], graph: Graph) -> dict[int, list[int]]:
        """For each step, the transitions (of `transitions`) every route from the start to it takes."""
        arms: dict[int, list[int]] = {}
        if self.start < 0:
            return arms
        edges = graph.edges
        everything = graph.reachable(self.start)
        for j in sorted(transitions):
            where = paths.index("flow.transitions", j)
            successors: list[list[int]] = [[] for _ in self.p.steps]
            for edge in edges:
                if edge.path != where:
                    successors[edge.source].append(edge.target)
            for step in everything - reach(self.start, successors):
                arms.setdefault(step, []).append(j)
        return arms

    def _check_templates(
        self,
        value,
        where: str,
        graph: Graph,
        at: int | None,
        *,
        in_map: bool = False,
        same_step_ok: bool = False,
        reader: str | None = None,
    ) -> int:
        """Check every template in `value`; return how many there are (malformed ones included).

        With `reader` (a step's inputs, the run's outputs), the steps read are noted for `_joins`.
        """
        count = 0
        for path, text in _strings(value, where):
            try:
                references = find_references(text)
            except TemplateError as exc:
                count += 1
                self.error(
                    path,
                    Code.INVALID_TEMPLATE,
                    str(exc),
                    "write a dotted path such as {{ parameters.topic }} or {{ fetch.items }}",
                )
                continue
            count += len(references)
            for reference in references:
                self._reference(reference, path, graph, at, in_map=in_map, same_step_ok=same_step_ok)
                if reader is not None and reference.root == "steps" and reference.step_id in self.ids:
                    self.reads.setdefault(reader, []).append((self.ids[reference.step_id], path, reference.text))
        return count

    def _reference(
        self,
        ref: Reference,
        where: str,
        graph: Graph,
        at: int | None,
        *,
        in_map: bool,
        same_step_ok: bool,
        result_of: int | None = None,
    ) -> None:
        """Check one reference; `result_of` is the step whose output `result` is (in a condition)."""
        if ref.root == "result" and result_of is not None and ref.path:
            step_id = self.p.steps[result_of].id
            declared = self.outputs.get(step_id)
            if declared is not None and ref.path[0] not in declared:
                self.error(
                    where,
                    Code.UNKNOWN_OUTPUT,
                    f"`{ref.text}` reads `{ref.path[0]}`, which step `{step_id}` (where the transition starts) "
                    "does not output",
                    did_you_mean(ref.path[0], declared) or f"its outputs are {', '.join(sorted(declared))}",
                )
        elif ref.root == "parameters":
            if self.parameters is not None and ref.path and ref.path[0] not in self.parameters:
                self.error(
                    where,
                    Code.UNKNOWN_PARAMETER,
                    f"`{ref.text}` refers to parameter `{ref.path[0]}`, which is not declared",
                    did_you_mean(ref.path[0], self.parameters) or "declare it in `parameters`",
                )
        elif ref.root in ("item", "index"):
            if not in_map:
                self.error(
                    where,
                    Code.ITEM_OUTSIDE_MAP,
                    f"`{ref.text}` refers to `{ref.root}`, which exists only in the step of a map",
                )
        elif ref.root == "steps":
            self._step_reference(ref, where, graph, at, same_step_ok=same_step_ok)

    def _step_reference(self, ref: Reference, where: str, graph: Graph, at: int | None, *, same_step_ok: bool) -> None:
        target = self.ids.get(ref.step_id)
        if target is None:
            hint = did_you_mean(ref.step_id, [*list(self.ids), "parameters"])
            self.error(
                where, Code.UNKNOWN_STEP, f"`{ref.text}` refers to step `{ref.step_id}`, which does not exist", hint
            )
            return
        upstream_known = at is not None and at not in self.unreachable
        if upstream_known and not (same_step_ok and target == at) and not graph.is_upstream(target, at):
            current = self.p.steps[at].id
            self.error(
                where,
                Code.STEP_NOT_UPSTREAM,
                f"`{ref.text}` reads the output of `{ref.step_id}`, which has not run before `{current}`",
                f"add a transition path from `{ref.step_id}` to `{current}`, or read another step",
            )
            return
        declared = self.outputs.get(ref.step_id)
        if declared is not None and ref.path and ref.path[0] not in declared:
            self.error(
                where,
                Code.UNKNOWN_OUTPUT,
                f"`{ref.text}` reads `{ref.path[0]}`, which step `{ref.step_id}` does not output",
                did_you_mean(ref.path[0], declared) or f"its outputs are {', '.join(sorted(declared))}",
            )

    def _condition(self, condition: pipeline_pb2.Condition, where: str, graph: Graph, source: int | None) -> None:
        kind = condition.type
        if not kind:
            if condition.expr or condition.plugin or condition.parameter or condition.HasField("config"):
                self.error(
                    paths.key(where, "type"),
                    Code.INCOMPLETE_CONDITION,
                    "the condition has no `type`",
                    f"use one of {', '.join(BUILTIN_CONDITION_TYPES)}",
                )
        elif kind == "always":
            return
        elif kind == "parameter":
            name = condition.parameter
            if not name and condition.HasField("config"):
                name = _to_python(condition.config).get("parameter") or ""
            if not isinstance(name, str) or not name:
                self.error(
                    paths.key(where, "parameter"),
                    Code.INCOMPLETE_CONDITION,
                    "a parameter condition names the parameter to test in `parameter`",
                )
            elif self.parameters is not None and name not in self.parameters:
                self.error(
                    paths.key(where, "parameter"),
                    Code.UNKNOWN_PARAMETER,
                    f"parameter `{name}` is not declared",
                    did_you_mean(name, self.parameters),
                )
        elif kind == "expression":
            self._expression(condition, where, graph, source)
        elif kind == "cel":
            if not condition.expr.strip():
                self.error(
                    paths.key(where, "expr"),
                    Code.INCOMPLETE_CONDITION,
                    "a cel condition needs `expr`, the expression to evaluate",
                    'e.g. "result.score > 0.8"',
                )
            else:
                try:
                    compile_cel(condition.expr)
                except ConditionError as exc:
                    self.error(paths.key(where, "expr"), Code.INVALID_CEL, str(exc))
                else:
                    self._cel_references(condition.expr, paths.key(where, "expr"), graph, source)
        elif kind == "plugin":
            if not condition.plugin:
                self.error(
                    paths.key(where, "plugin"),
                    Code.INCOMPLETE_CONDITION,
                    "a plugin condition names the condition plugin in `plugin`",
                )
        else:
            self.error(
                paths.key(where, "type"),
                Code.UNKNOWN_CONDITION_TYPE,
                f"unknown condition type `{kind}`; use one of {', '.join(BUILTIN_CONDITION_TYPES)}",
                did_you_mean(kind, BUILTIN_CONDITION_TYPES)
                or f'for a condition plugin write "type": "plugin", "plugin": "{kind}"',
            )

    def _cel_references(self, expr: str, where: str, graph: Graph, source: int | None) -> None:
        """Check the dotted paths a CEL expression reads, as if each were a template."""
        for root, *rest in member_paths(expr):
            text = ".".join([root, *rest])
            if root == "steps" and rest:
                ref = Reference("steps", rest[0], tuple(rest[1:]), text)
            elif root in ("parameters", "result"):
                ref = Reference(root, None, tuple(rest), text)
            else:
                continue
            self._reference(ref, where, graph, source, in_map=False, same_step_ok=True, result_of=source)

    def _expression(self, condition: pipeline_pb2.Condition, where: str, graph: Graph, at: int | None) -> None:
        config = _to_python(condition.config) if condition.HasField("config") else {}
        config_path = paths.key(where, "config")
        source = config.get("source")
        if not isinstance(source, str) or not source.strip():
            self.error(
                paths.key(config_path, "source"),
                Code.INCOMPLETE_CONDITION,
                "an expression condition needs `config.source`, the value to test",
                'e.g. "result.score" or "fetch.status"',
            )
        else:
            text = source.strip()
            if text.startswith("{") and text.endswith("}"):
                text = text.strip("{} \t")
            try:
                ref = parse_reference(text, source)
            except TemplateError as exc:
                self.error(paths.key(config_path, "source"), Code.INVALID_TEMPLATE, str(exc))
            else:
                self._reference(
                    ref, paths.key(config_path, "source"), graph, at, in_map=False, same_step_ok=True, result_of=at
                )
        operator = config.get("operator", "equals")
        if not isinstance(operator, str) or operator not in OPERATORS:
            hint = did_you_mean(operator, OPERATORS) if isinstance(operator, str) else None
            self.error(
                paths.key(config_path, "operator"),
                Code.UNKNOWN_OPERATOR,
                f"unknown operator {json.dumps(operator)}; use one of {', '.join(sorted(OPERATORS))}",
                hint,
            )
        elif operator != "exists" and "value" not in config:
            self.error(
                paths.key(config_path, "value"),
                Code.INCOMPLETE_CONDITION,
                f"operator `{operator}` compares with `config.value`, which is missing",
            )
        if "value" in config:
            self._check_templates(config["value"], paths.key(config_path, "value"), graph, at, same_step_ok=True)
