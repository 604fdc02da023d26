"""What changed between two pipeline definitions, by meaning rather than by text.

    changes = diff(old, new)          # [] when both load to the same pipeline
    print(to_text(changes, "v1.json", "v2.json"))

Both sides are compared in their canonical form, so a legacy file and its upgraded
twin, or two formattings of one definition, do not differ. Steps are matched by id
and transitions by their ends (`fetch -> score`), never by position, and each
change names the field that changed, e.g. `steps[fetch].retry.max_attempts`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition import canonical_dict

__all__ = ["Change", "diff", "to_document", "to_text"]

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# Objects whose members are entries of their own: a new one is added, not a changed setting.
_ENTRIES = frozenset({"parameters", "outputs", "labels"})
_MARK = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
# The sections a change belongs to, in the order they are shown.
AREAS = ("pipeline", "parameters", "steps", "flow", "error_handling", "outputs")
_AREA_OF = {
    "name": "pipeline",
    "version": "pipeline",
    "description": "pipeline",
    "labels": "pipeline",
    "plugin_config": "pipeline",
    "parameters": "parameters",
    "parameter_specs": "parameters",
    "steps": "steps",
    "flow": "flow",
    "loop_config": "flow",
    "error_handling": "error_handling",
    "outputs": "outputs",
}


@dataclass(frozen=True)
class Change:
    """One difference: what kind, where (a path into the definition), and both sides."""

    kind: str
    """added, removed or changed."""
    area: str
    """pipeline, parameters, steps, flow, error_handling or outputs."""
    path: str
    """E.g. `steps[fetch].retry.max_attempts` or `flow.transitions[fetch -> score].condition.expr`."""
    before: Any = None
    after: Any = None


def _keyed_by_name(items: list) -> dict[str, Any] | None:
    """A list of objects with unique names (outputs, parameter specs) as a dict by name."""
    if not items or not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        return None
    names = [item["name"] for item in items]
    return dict(zip(names, items, strict=True)) if len(set(names)) == len(names) else None


def _walk(path: str, before: Any, after: Any, area: str) -> Iterator[Change]:
    """The changes from `before` to `after`, field by field through objects."""
    if before == after:
        return
    if isinstance(before, list) and isinstance(after, list):
        left, right = _keyed_by_name(before), _keyed_by_name(after)
        if left is not None and right is not None:
            yield from _members(path, left, right, area, keyed=True)
            return
    if isinstance(before, dict) and isinstance(after, dict):
        yield from _members(path, before, after, area, keyed=False)
        return
    yield Change(CHANGED, area, path, before, after)


def _member_path(path: str, key: str, keyed: bool) -> str:
    return f"{path}[{key}]" if keyed else f"{path}.{key}" if path else key


def _condition_type(condition: Any) -> str:
    return condition.get("type", "") if isinstance(condition, dict) else ""


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _members(path: str, before: dict, after: dict, area: str, *, keyed: bool) -> Iterator[Change]:
    for key in [*before, *(k for k in after if k not in before)]:
        where = _member_path(path, key, keyed)
        # A setting (not a step, transition or named entry) that appears or goes
        # away is a changed value: `required: true` -> unset.
        setting = not keyed and path not in _ENTRIES and _scalar(before.get(key, after.get(key)))
        if key not in after:
            yield Change(CHANGED if setting else REMOVED, area, where, before[key], None)
        elif key not in before:
            yield Change(CHANGED if setting else ADDED, area, where, None, after[key])
        elif key == "condition" and _condition_type(before[key]) != _condition_type(after[key]):
            # Another kind of condition is one change, not a field-by-field rewrite.
            yield Change(CHANGED, area, where, before[key], after[key])
        else:
            yield from _walk(where, before[key], after[key], area)


def _transition_key(transition: dict[str, Any], seen: dict[str, int]) -> str:
    base = f"{transition.get('from', '')} -> {transition.get('to', '')}"
    seen[base] = seen.get(base, 0) + 1
    # Two transitions between the same steps are told apart by their order.
    return base if seen[base] == 1 else f"{base} #{seen[base]}"


def _transitions(flow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    seen: dict[str, int] = {}
    return {_transition_key(t, seen): t for t in flow.get("transitions", [])}


def diff(before: pipeline_pb2.Pipeline, after: pipeline_pb2.Pipeline) -> list[Change]:
    """Every semantic difference from `before` to `after`; empty when they are the same pipeline."""
    old, new = canonical_dict(before), canonical_dict(after)
    changes: list[Change] = []
    for field in [*old, *(k for k in new if k not in old)]:
        area = _AREA_OF.get(field, "pipeline")
        left, right = old.get(field), new.get(field)
        if field == "steps":
            left = {s.get("id", f"#{i}"): s for i, s in enumerate(left or [])}
            right = {s.get("id", f"#{i}"): s for i, s in enumerate(right or [])}
            changes += _members("steps", left, right, area, keyed=True)
        elif field == "flow":
            left, right = left or {}, right or {}
            changes += _walk("flow.start_at", left.get("start_at"), right.get("start_at"), area)
            changes += _members("flow.transitions", _transitions(left), _transitions(right), area, keyed=True)
        elif left is None:
            changes.append(Change(ADDED, area, field, None, right))
        elif right is None:
            changes.append(Change(REMOVED, area, field, left, None))
        else:
            changes += _walk(field, left, right, area)
    order = {area: n for n, area in enumerate(AREAS)}
    changes.sort(key=lambda change: order[change.area])
    return changes


def _show(value: Any, limit: int = 80) -> str:
    if value is None:
        return "(unset)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(change: Change, value: Any) -> str:
    """A whole step or transition in a few words; any other value as JSON."""
    from google.protobuf import json_format

    from ia_modules.diagram import condition_label, step_kind

    try:
        if change.area == "steps" and change.path.count("[") == 1 and isinstance(value, dict):
            kind, detail = step_kind(json_format.ParseDict(value, pipeline_pb2.Step()))
            return f"{kind} {detail}".strip()
        transition = change.path.startswith("flow.transitions[") and change.path.endswith("]")
        if (transition or change.path.endswith(".condition")) and isinstance(value, dict):
            raw = value.get("condition", {}) if transition else value
            condition = json_format.ParseDict(raw, pipeline_pb2.Condition())
            kind, text = condition_label(condition)
            return f"when {text} ({kind})" if text else "always"
    except json_format.ParseError:
        pass
    return _show(value)


def _summary(changes: list[Change]) -> dict[str, int]:
    return {kind: sum(change.kind == kind for change in changes) for kind in (ADDED, REMOVED, CHANGED)}


def to_text(changes: list[Change], before_label: str, after_label: str) -> str:
    """The changes for people: one line each, grouped by area, with a count at the end."""
    if not changes:
        return f"{before_label} and {after_label} define the same pipeline\n"
    lines = [f"--- {before_label}", f"+++ {after_label}"]
    area = None
    for change in changes:
        if change.area != area:
            area = change.area
            lines.append(f"{area}:")
        mark = _MARK[change.kind]
        if change.kind == CHANGED:
            detail = f"{_describe(change, change.before)} -> {_describe(change, change.after)}"
        elif change.kind == ADDED:
            detail = f"added ({_describe(change, change.after)})"
        else:
            detail = f"removed (was {_describe(change, change.before)})"
        lines.append(f"  {mark} {change.path}: {detail}")
    counts = _summary(changes)
    total = len(changes)
    lines.append(
        f"{total} change{'' if total == 1 else 's'}: "
        + ", ".join(f"{count} {kind}" for kind, count in counts.items())
    )
    return "\n".join(lines) + "\n"


def to_document(changes: list[Change], before_label: str, after_label: str) -> dict[str, Any]:
    """The changes as one JSON document for scripts."""
    return {
        "before": before_label,
        "after": after_label,
        "identical": not changes,
        "summary": _summary(changes),
        "changes": [asdict(change) for change in changes],
    }
