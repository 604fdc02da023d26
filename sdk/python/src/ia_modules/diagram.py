"""Pipeline diagrams: the step graph as Graphviz DOT or Mermaid, optionally coloured by a run.

    picture = diagram(pipeline)                      # nodes and edges, plain data
    picture = diagram(pipeline, step_states=run_step_states(run))
    text = to_dot(picture)                            # or to_mermaid(picture)
    png = render(text, "png")                         # runs Graphviz's `dot`

Each step kind has its own shape and colour, each transition is labelled with its
condition (and its loop bound), error routes are dashed red. Given the states of a
run, every step is filled with the colour of its state and the edges the run took
are drawn bold. `Diagram` is plain data, so the dashboard can draw it its own way.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf import json_format

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition.proto_json import plain

__all__ = [
    "Diagram",
    "DiagramError",
    "Edge",
    "Node",
    "condition_label",
    "diagram",
    "render",
    "StepActivity",
    "run_step_states",
    "step_kind",
    "to_dot",
    "to_mermaid",
]

IMAGE_FORMATS = ("png", "svg")
"""What `render` can produce."""
RENDER_TIMEOUT_S = 60
_WRAP = 36
_TEMPLATE = re.compile(r"\{\{.*?\}\}")

_SYMBOLS = {"equals": "==", "not_equals": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

# Step kind -> (Graphviz shape, fill colour, Mermaid opening and closing brackets).
_KIND_LOOK = {
    "pass": ("box", "#f3f3f3", '("', '")'),
    "plugin": ("box", "#dbe8fb", '["', '"]'),
    "module": ("box", "#fdf2cc", '[/"', '"/]'),
    "human_input": ("hexagon", "#ffe0b2", '{{"', '"}}'),
    "wait": ("ellipse", "#e8eaf6", '(["', '"])'),
    "map": ("box3d", "#e0f2f1", '[["', '"]]'),
    "pipeline": ("component", "#ede7f6", '[["', '"]]'),
    "unknown": ("box", "#ffffff", '["', '"]'),
}
# Condition type -> (DOT edge colour, DOT style).
_CONDITION_LOOK = {
    "always": ("#444444", "solid"),
    "parameter": ("#6a1b9a", "dashed"),
    "expression": ("#1565c0", "solid"),
    "cel": ("#00695c", "solid"),
    "plugin": ("#ad1457", "bold"),
    "on_error": ("#c62828", "dashed"),
}
# Run step state -> fill colour.
STATE_COLOURS = {
    "SUCCEEDED": "#b7e1cd",
    "FAILED": "#f4c7c3",
    "RUNNING": "#c9daf8",
    "RETRYING": "#fce8b2",
    "WAITING": "#ffe599",
    "SKIPPED": "#eeeeee",
    "CANCELLED": "#d9d9d9",
    "PENDING": "#ffffff",
}
_RAN = frozenset({"SUCCEEDED", "FAILED", "RUNNING", "RETRYING", "WAITING", "CANCELLED"})
_START = "__start__"


class DiagramError(Exception):
    """A diagram could not be rendered (no Graphviz, or `dot` refused the input)."""


@dataclass(frozen=True)
class Node:
    """One step as drawn."""

    id: str
    kind: str
    """pass, plugin, module, human_input, wait, map, pipeline, or unknown."""
    detail: str
    """What the step runs: the plugin, the Python class, the sub-pipeline, the map's item step."""
    start: bool = False
    error_handler: bool = False
    """The pipeline's `error_handling.on_error` step."""
    state: str | None = None
    """The step's state in the run shown (its latest iteration), when a run is shown."""
    runs: int = 0
    """How many times the step ran in the run shown (iterations of a loop)."""


@dataclass(frozen=True)
class Edge:
    """One transition or error route as drawn."""

    source: str
    target: str
    condition: str
    """always, parameter, expression, cel, plugin, or on_error."""
    label: str
    """The condition as people write it; empty for an unconditional transition."""
    max_iterations: int = 0
    taken: bool | None = None
    """Whether the run shown went along this edge; None when no run is shown."""


@dataclass
class Diagram:
    """A pipeline's steps and edges, ready to draw."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    run: bool = False
    """True when the nodes carry a run's states."""

    def to_dict(self) -> dict[str, Any]:
        """The diagram as JSON-ready data."""
        return asdict(self)


def _plain(message) -> dict[str, Any]:
    """A message as JSON data, whole numbers as integers (Struct keeps every number as a double)."""
    return plain(json_format.MessageToDict(message, preserving_proto_field_name=True))


def step_kind(step: pipeline_pb2.Step) -> tuple[str, str]:
    """`(kind, detail)` of a step, e.g. `("plugin", "http_request")` or `("module", "digest.steps.Score")`."""
    if step.type == "map":
        inner_kind, inner_detail = step_kind(step.map.step) if step.map.HasField("step") else ("step", "")
        each = f"{inner_kind} {inner_detail}".strip()
        limit = f", {step.map.max_concurrency} at once" if step.map.max_concurrency else ""
        return "map", f"{each} over {step.map.items}{limit}"
    if step.type == "pipeline":
        revision = f"@{step.pipeline.revision}" if step.pipeline.revision else ""
        return "pipeline", f"{step.pipeline.name}{revision}"
    if step.type == "wait":
        return "wait", f"{step.wait.seconds:g}s"
    if step.type == "human_input":
        return "human_input", step.human_input.prompt
    if step.type:
        return (step.type, "") if step.type in _KIND_LOOK else ("unknown", step.type)
    if step.plugin:
        return "plugin", step.plugin
    if step.module or step.step_class:
        return "module", f"{step.module}.{step.step_class}".strip(".")
    return "unknown", ""


def condition_label(condition: pipeline_pb2.Condition) -> tuple[str, str]:
    """`(type, text)` of a transition's condition, the text as people write it."""
    kind = condition.type or ("cel" if condition.expr else "always")
    config = _plain(condition.config) if condition.HasField("config") else {}
    if kind == "always":
        return "always", ""
    if kind == "parameter":
        return "parameter", f"parameters.{condition.parameter or config.get('parameter', '')}"
    if kind == "cel":
        return "cel", condition.expr
    if kind == "expression":
        operator = config.get("operator", "equals")
        text = f"{config.get('source', '?')} {_SYMBOLS.get(operator, operator)}"
        if "value" in config:
            value = config["value"]
            # A template is shown as written, not as a quoted string.
            shown = value if isinstance(value, str) and "{" in value else json.dumps(value, ensure_ascii=False)
            text += f" {shown}"
        return "expression", text
    name = condition.plugin if kind == "plugin" else kind
    settings = f" {json.dumps(config, ensure_ascii=False, sort_keys=True)}" if config else ""
    return "plugin", f"plugin {name}{settings}"


@dataclass(frozen=True)
class StepActivity:
    """What a step did in a run: its latest state, how often it ran, every state it ended in."""

    state: str
    runs: int
    states: frozenset[str]


_NOT_RUN = StepActivity("PENDING", 0, frozenset())


def run_step_states(steps) -> dict[str, StepActivity]:
    """Each step's activity in a run, from the run's `StepRun`s (or dicts).

    Accepts `ia.executor.v1.StepRun` messages or dicts with `step_id`/`id`, `iteration`
    and `state` (a name such as `SUCCEEDED`, with or without the `STEP_STATE_` prefix).
    """
    from ia.executor.v1 import message_pb2

    latest: dict[str, tuple[int, str]] = {}
    counts: dict[str, int] = {}
    seen: dict[str, set[str]] = {}
    for step in steps:
        if isinstance(step, Mapping):
            step_id = step.get("step_id") or step.get("id") or ""
            iteration = int(step.get("iteration", 0))
            state = str(step.get("state", ""))
        else:
            step_id, iteration = step.step_id, step.iteration
            state = message_pb2.StepState.Name(step.state)
        state = state.removeprefix("STEP_STATE_")
        seen.setdefault(step_id, set()).add(state)
        if state != "SKIPPED":
            counts[step_id] = counts.get(step_id, 0) + 1
        if step_id not in latest or iteration >= latest[step_id][0]:
            latest[step_id] = (iteration, state)
    return {
        step_id: StepActivity(state, counts.get(step_id, 0), frozenset(seen[step_id]))
        for step_id, (_i, state) in latest.items()
    }


def diagram(pipeline: pipeline_pb2.Pipeline, *, step_states: Mapping[str, StepActivity] | None = None) -> Diagram:
    """The nodes and edges of `pipeline`; with `step_states` (see `run_step_states`), a run's view.

    An edge counts as taken when its source once ended the way the edge needs
    (succeeded, or failed for an error route) and its target ran. The executor does
    not record transitions, so this is read from the step states.
    """
    start = pipeline.flow.start_at or (pipeline.steps[0].id if pipeline.steps else "")
    handler = pipeline.error_handling.on_error
    states = dict(step_states or {})
    shown = step_states is not None
    picture = Diagram(name=pipeline.name, run=shown)
    for step in pipeline.steps:
        kind, detail = step_kind(step)
        activity = states.get(step.id, _NOT_RUN) if shown else None
        picture.nodes.append(
            Node(
                step.id,
                kind,
                detail,
                step.id == start,
                bool(handler) and step.id == handler,
                activity.state if activity else None,
                activity.runs if activity else 0,
            )
        )

    def taken(source: str, target: str, needs: str) -> bool | None:
        if not shown:
            return None
        return needs in states.get(source, _NOT_RUN).states and bool(states.get(target, _NOT_RUN).states & _RAN)

    for transition in pipeline.flow.transitions:
        source = getattr(transition, "from")
        kind, text = condition_label(transition.condition)
        if transition.name:
            text = f"{transition.name}: {text}" if text else transition.name
        picture.edges.append(
            Edge(
                source,
                transition.to,
                kind,
                text,
                transition.max_iterations,
                taken(source, transition.to, "SUCCEEDED"),
            )
        )
    for step in pipeline.steps:
        if step.on_error:
            route = taken(step.id, step.on_error, "FAILED")
            picture.edges.append(Edge(step.id, step.on_error, "on_error", "on error", 0, route))
    return picture


# Graphviz DOT


def _dot_text(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _wrap(text: str) -> list[str]:
    """Lines of at most about `_WRAP` characters, never breaking inside a `{{ template }}`."""
    glued = _TEMPLATE.sub(lambda match: match.group().replace(" ", "\u00a0"), text)
    return [line.replace("\u00a0", " ") for line in textwrap.wrap(glued, _WRAP, break_on_hyphens=False)]


def _node_label(node: Node) -> str:
    lines = [node.id]
    kind = node.kind.replace("_", " ")
    detail = _wrap(f"{kind}: {node.detail}" if node.detail else kind)
    lines += detail[:3] if len(detail) <= 3 else [*detail[:2], _shorten(detail[2] + "...", _WRAP)]
    if node.error_handler:
        lines.append("handles errors")
    if node.state is not None:
        lines.append(node.state + (f" x{node.runs}" if node.runs > 1 else ""))
    return "\n".join(lines)


def _edge_label(edge: Edge) -> str:
    parts = [_shorten(edge.label)] if edge.label else []
    if edge.max_iterations:
        parts.append(f"at most {edge.max_iterations} times")
    return "\n".join(parts)


def to_dot(picture: Diagram) -> str:
    """The diagram as Graphviz DOT text, top to bottom."""
    lines = [
        f"digraph {_dot_text(picture.name or 'pipeline')} {{",
        "  rankdir=TB;",
        f"  graph [fontname=Helvetica, label={_dot_text(picture.name)}, labelloc=t, fontsize=16];",
        '  node [fontname=Helvetica, fontsize=11, style="filled,rounded"];',
        "  edge [fontname=Helvetica, fontsize=9];",
        f'  {_START} [label="", shape=circle, width=0.2, style=filled, fillcolor="#333333"];',
    ]
    for node in picture.nodes:
        shape, fill, _open, _close = _KIND_LOOK[node.kind]
        style = ["filled"]
        if node.kind == "pass":
            style.append("rounded")
        if node.state == "SKIPPED":
            style.append("dashed")
        if node.state is not None:
            fill = STATE_COLOURS.get(node.state, "#ffffff")
        attributes = [
            f"label={_dot_text(_node_label(node))}",
            f"shape={shape}",
            f'style="{",".join(style)}"',
            f'fillcolor="{fill}"',
        ]
        if node.state == "SKIPPED":
            attributes.append('fontcolor="#888888"')
        if node.error_handler:
            attributes.append('color="#c62828"')
        lines.append(f"  {_dot_text(node.id)} [{', '.join(attributes)}];")
    start = next((n.id for n in picture.nodes if n.start), None)
    if start is not None:
        lines.append(f"  {_START} -> {_dot_text(start)};")
    for edge in picture.edges:
        colour, style = _CONDITION_LOOK[edge.condition]
        attributes = []
        label = _edge_label(edge)
        if label:
            attributes.append(f"label={_dot_text(label)}")
        if edge.taken is False:
            colour, style = "#bbbbbb", "dotted" if style == "solid" else style
            attributes.append('fontcolor="#999999"')
        attributes += [f'color="{colour}"', f"style={style}"]
        if edge.taken:
            attributes.append("penwidth=2.5")
        lines.append(f"  {_dot_text(edge.source)} -> {_dot_text(edge.target)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# Mermaid


def _mermaid_text(text: str) -> str:
    """Text for inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _mermaid_id(step_id: str) -> str:
    # A prefix keeps step ids such as `end` or `graph` clear of Mermaid's keywords.
    return f"step_{step_id}"


def to_mermaid(picture: Diagram) -> str:
    """The diagram as a Mermaid flowchart, e.g. for a README."""
    lines = ["flowchart TD"]
    lines.append(f'  {_START}(("start"))')
    for node in picture.nodes:
        _shape, _fill, opening, closing = _KIND_LOOK[node.kind]
        lines.append(f"  {_mermaid_id(node.id)}{opening}{_mermaid_text(_node_label(node))}{closing}")
    start = next((n.id for n in picture.nodes if n.start), None)
    if start is not None:
        lines.append(f"  {_START} --> {_mermaid_id(start)}")
    for edge in picture.edges:
        arrow = {"on_error": "-.->", "plugin": "==>"}.get(edge.condition, "-->")
        label = _edge_label(edge)
        text = f'|"{_mermaid_text(label)}"|' if label else ""
        lines.append(f"  {_mermaid_id(edge.source)} {arrow}{text} {_mermaid_id(edge.target)}")
    kinds = sorted({node.kind for node in picture.nodes})
    if picture.run:
        for state in sorted({node.state for node in picture.nodes if node.state}):
            extra = ",stroke-dasharray:4 3,color:#888888" if state == "SKIPPED" else ""
            lines.append(f"  classDef {state.lower()} fill:{STATE_COLOURS.get(state, '#ffffff')}{extra}")
        for node in picture.nodes:
            if node.state:
                lines.append(f"  class {_mermaid_id(node.id)} {node.state.lower()}")
        # Mermaid numbers links in the order written, the start arrow first.
        first = 1 if start is not None else 0
        for number, edge in enumerate(picture.edges, start=first):
            if edge.taken:
                lines.append(f"  linkStyle {number} stroke-width:3px")
    else:
        for kind in kinds:
            lines.append(f"  classDef {kind} fill:{_KIND_LOOK[kind][1]}")
        for node in picture.nodes:
            lines.append(f"  class {_mermaid_id(node.id)} {node.kind}")
    lines.append(f"  style {_START} fill:#333333")
    return "\n".join(lines) + "\n"


# Images


def render(dot_source: str, image_format: str) -> bytes:
    """Renders DOT text to PNG or SVG with Graphviz's `dot` program.

    Raises DiagramError when `dot` is not installed or fails.
    """
    if image_format not in IMAGE_FORMATS:
        raise DiagramError(f"cannot render {image_format!r}; choose one of {', '.join(IMAGE_FORMATS)}")
    program = shutil.which("dot")
    if program is None:
        raise DiagramError(
            "Graphviz's `dot` program is not installed (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz); .dot and .mmd output need no Graphviz"
        )
    try:
        finished = subprocess.run(
            [program, f"-T{image_format}"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise DiagramError(f"`dot` took longer than {RENDER_TIMEOUT_S}s to draw the diagram") from error
    if finished.returncode != 0 or not finished.stdout:
        detail = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiagramError(f"`dot` failed: {detail[0] if detail else f'exit status {finished.returncode}'}")
    return finished.stdout
