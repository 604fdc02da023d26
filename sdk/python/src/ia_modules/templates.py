"""Templates: references to run data inside step inputs, conditions and outputs.

Forms understood (DESIGN.md §4):

- ``{{ parameters.x }}`` (``pipeline_input`` is an older name for ``parameters``);
- ``{{ steps.<id>.output.<path> }}`` and the short ``{{ <id>.<path> }}``;
- ``{{ item }}`` / ``{{ index }}`` inside a ``map``, ``{{ error }}`` in an ``on_error``
  route, ``{{ result }}`` (the output of a transition's source) and ``{{ run }}``;
- the older single-brace ``{parameters.x}``, ``{pipeline_input.x}`` and
  ``{steps.<id>.output.<path>}``.

Path segments are separated by dots; list items are ``items.0`` or ``items[0]``.
A template that is the whole string keeps the JSON type of what it refers to; one
embedded in text is interpolated (strings as is, anything else JSON-encoded).
Templates are looked up, never evaluated as code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Reference",
    "Template",
    "TemplateError",
    "compile_template",
    "find_references",
    "lookup",
    "parse_reference",
    "resolve",
]

ROOTS = frozenset({"parameters", "steps", "item", "index", "error", "run", "result"})
_ALIASES = {"pipeline_input": "parameters"}

_TOKEN = re.compile(
    r"\{\{\s*(?P<double>[^{}]*?)\s*\}\}"
    r"|\{\s*(?P<single>(?:parameters|pipeline_input|steps)(?:\.[\w-]+|\[\d+\])+)\s*\}"
)
_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*")
_SEGMENT = re.compile(r"\.?([\w-]+)|\[(\d+)\]")


class TemplateError(ValueError):
    """A template is malformed or refers to data that does not exist.

    ``reference`` is the template as written, so messages can name it.
    """

    def __init__(self, message: str, reference: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference


@dataclass(frozen=True)
class Reference:
    """One reference found in a template."""

    root: str
    """"parameters", "steps", "item", "index", "error", "run" or "result"."""
    step_id: str | None
    """The step, for ``steps.<id>.output.<path>`` and the short ``<id>.<path>``."""
    path: tuple[str, ...]
    """Keys (and list indexes, as strings) below the root or the step's output."""
    text: str
    """The template as written, braces included."""


def parse_reference(expression: str, text: str | None = None) -> Reference:
    """Parse a bare reference such as ``fetch.items[0].id`` or ``parameters.x``.

    Raises TemplateError when the expression is not a plain dotted path.
    """
    text = text if text is not None else expression
    if not _PATH.fullmatch(expression):
        raise TemplateError(
            f"template {text!r} is not a reference: use a dotted path such as "
            "parameters.x or <step>.<field>; expressions are not evaluated",
            text,
        )
    segments = tuple(m.group(1) or m.group(2) for m in _SEGMENT.finditer(expression))
    head, rest = segments[0], segments[1:]
    head = _ALIASES.get(head, head)
    if head == "steps":
        if not rest:
            raise TemplateError(f"template {text!r} names no step: use steps.<id>.output.<path>", text)
        if len(rest) > 1 and rest[1] != "output":
            raise TemplateError(f"template {text!r}: expected steps.{rest[0]}.output.<path>", text)
        return Reference("steps", rest[0], rest[2:], text)
    if head in ROOTS:
        return Reference(head, None, rest, text)
    return Reference("steps", head, rest, text)


def _describe(ref: Reference) -> str:
    if ref.root == "steps":
        return f"step {ref.step_id!r}"
    return ref.root


def lookup(ref: Reference, context: Mapping[str, Any]) -> Any:
    """Return the value ``ref`` points to in ``context``; TemplateError if missing.

    ``context`` holds the roots: ``parameters``, ``steps`` (step id -> output),
    and, where they apply, ``item``, ``index``, ``error``, ``result``, ``run``.
    """
    if ref.root == "steps":
        outputs = context.get("steps") or {}
        if ref.step_id not in outputs:
            raise TemplateError(
                f"template {ref.text!r}: step {ref.step_id!r} has no output "
                "(it has not run, was skipped, or does not exist)",
                ref.text,
            )
        value = outputs[ref.step_id]
    else:
        if ref.root not in context:
            raise TemplateError(f"template {ref.text!r}: {ref.root!r} is not available here", ref.text)
        value = context[ref.root]
    for depth, key in enumerate(ref.path):
        if (type(value) is dict or isinstance(value, Mapping)) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            where = ".".join(ref.path[:depth]) or "its top level"
            raise TemplateError(f"template {ref.text!r}: {_describe(ref)} has no {key!r} at {where}", ref.text)
    return value


def _embed(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


class Template:
    """A value with its templates parsed once, to be rendered many times."""

    __slots__ = ("_render", "references")

    def __init__(self, render: Callable[[Mapping[str, Any]], Any], references: list[Reference]):
        self._render = render
        self.references = references

    def render(self, context: Mapping[str, Any]) -> Any:
        """Return the value with every template replaced from ``context``."""
        return self._render(context)

    @property
    def is_constant(self) -> bool:
        """True when the value holds no template at all."""
        return not self.references


def _compile_string(text: str) -> tuple[Callable[[Mapping[str, Any]], Any], list[Reference]]:
    if "{" not in text:
        return (lambda _ctx: text), []
    parts: list[str | Reference] = []
    refs: list[Reference] = []
    position = 0
    for match in _TOKEN.finditer(text):
        expression = match.group("double")
        if expression is None:
            expression = match.group("single")
        ref = parse_reference(expression, match.group(0))
        refs.append(ref)
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(ref)
        position = match.end()
    if not refs:
        return (lambda _ctx: text), []
    if position < len(text):
        parts.append(text[position:])
    if len(parts) == 1:
        whole = refs[0]
        return (lambda ctx: lookup(whole, ctx)), refs
    frozen = tuple(parts)

    def interpolate(ctx: Mapping[str, Any]) -> str:
        return "".join([p if type(p) is str else _embed(lookup(p, ctx)) for p in frozen])

    return interpolate, refs


def _compile(value: Any) -> tuple[Callable[[Mapping[str, Any]], Any], list[Reference]]:
    if isinstance(value, str):
        return _compile_string(value)
    if isinstance(value, Mapping):
        items = [(k, _compile(v)) for k, v in value.items()]
        refs = [r for _k, (_f, rs) in items for r in rs]
        if not refs:
            return (lambda _ctx: value), []
        renders = tuple((k, f) for k, (f, _rs) in items)
        return (lambda ctx: {k: f(ctx) for k, f in renders}), refs
    if isinstance(value, (list, tuple)):
        compiled = [_compile(v) for v in value]
        refs = [r for _f, rs in compiled for r in rs]
        if not refs:
            return (lambda _ctx: value), []
        renders = tuple(f for f, _rs in compiled)
        return (lambda ctx: [f(ctx) for f in renders]), refs
    return (lambda _ctx: value), []


def compile_template(value: Any) -> Template:
    """Parse every template in ``value`` (a str, dict or list, nested) once.

    Raises TemplateError for a malformed template. Parts without templates are
    returned as they are, not copied: treat rendered values as read-only.
    """
    render, refs = _compile(value)
    return Template(render, refs)


_STRING_CACHE: dict[str, Template] = {}
_STRING_CACHE_LIMIT = 4096


def _cached(text: str) -> Template:
    template = _STRING_CACHE.get(text)
    if template is None:
        template = compile_template(text)
        if len(_STRING_CACHE) >= _STRING_CACHE_LIMIT:
            _STRING_CACHE.clear()
        _STRING_CACHE[text] = template
    return template


def find_references(value: Any) -> list[Reference]:
    """Every reference in ``value`` (str, dict or list, nested), in order.

    Raises TemplateError for a malformed template.
    """
    if isinstance(value, str):
        return list(_cached(value).references)
    return compile_template(value).references


def resolve(value: Any, context: Mapping[str, Any]) -> Any:
    """Replace every template in ``value`` from ``context``.

    A template that is the whole string keeps its JSON type; embedded ones are
    interpolated. Raises TemplateError naming a missing or malformed reference.
    """
    if isinstance(value, str):
        return _cached(value).render(context)
    return compile_template(value).render(context)
