"""Reading definition text: size limit, decoding, JSON parsing, and JSON path -> source line.

The parse itself uses the C JSON decoder. Lines are only needed when there is something
to report, so the path -> line map is built lazily by a small token scanner.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import paths
from ..limits import DEFAULTS, ENV, limit_from_env
from .findings import Code, Finding, Severity, error

MAX_DOCUMENT_BYTES = limit_from_env(ENV["definition_bytes"], DEFAULTS.definition_bytes)
"""Largest definition accepted, in bytes of JSON text (IA_MAX_DEFINITION_BYTES)."""


@dataclass
class Parsed:
    """The outcome of reading a source: the parsed value (None on failure) and what went wrong."""

    value: object | None
    findings: list[Finding]
    lines: LineMap | None = None


class _NotJson(ValueError):
    """A constant such as NaN or Infinity that Python's decoder accepts but JSON does not."""


def _refuse_constant(name: str):
    raise _NotJson(name)


class _DuplicateSeen:
    """object_pairs_hook that notices duplicate keys while building plain dicts."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, pairs):
        result = dict(pairs)
        if len(result) != len(pairs):
            self.seen = True
        return result


def parse(source: str | bytes) -> Parsed:
    """Decode and parse JSON text; never raises, reports problems as findings with lines."""
    if isinstance(source, bytes):
        if len(source) > MAX_DOCUMENT_BYTES:
            return Parsed(None, [_too_large(len(source))])
        try:
            text = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = source.count(b"\n", 0, exc.start) + 1
            finding = Finding(
                Severity.ERROR,
                paths.ROOT,
                f"the definition is not UTF-8 text (byte {exc.start})",
                Code.INVALID_ENCODING,
                "save the file as UTF-8",
                line,
            )
            return Parsed(None, [finding])
    else:
        text = source.removeprefix("\ufeff")
        if len(text) > MAX_DOCUMENT_BYTES or (
            len(text) * 4 > MAX_DOCUMENT_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES
        ):
            return Parsed(None, [_too_large(len(text.encode("utf-8", "surrogatepass")))])

    duplicates = _DuplicateSeen()
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=duplicates)
    except json.JSONDecodeError as exc:
        return Parsed(None, [_malformed(text, exc)])
    except _NotJson as exc:
        message = f"`{exc}` is not valid JSON; numbers must be finite"
        return Parsed(None, [error(paths.ROOT, Code.INVALID_JSON, message, "write the value as a string or null")])
    except RecursionError:
        return Parsed(None, [error(paths.ROOT, Code.INVALID_JSON, "the JSON is nested too deeply")])

    lines = LineMap(text)
    findings = []
    if duplicates.seen:
        for path, line in lines.duplicate_keys():
            findings.append(
                Finding(
                    Severity.WARNING,
                    path,
                    "this key appears more than once in its object; only the last value is kept",
                    Code.DUPLICATE_KEY,
                    "remove the earlier entries",
                    line,
                )
            )
    return Parsed(value, findings, lines)


def _too_large(size: int) -> Finding:
    return error(
        paths.ROOT,
        Code.DOCUMENT_TOO_LARGE,
        f"the definition is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes (IA_MAX_DEFINITION_BYTES)",
        "keep large data out of the definition: pass it as run inputs or fetch it in a step",
    )


def _malformed(text: str, exc: json.JSONDecodeError) -> Finding:
    hint = None
    before = text[: exc.pos].rstrip()
    if before.endswith(",") and exc.msg.startswith(("Expecting property name", "Expecting value")):
        hint = "JSON does not allow a trailing comma before `}` or `]`"
    elif exc.pos < len(text) and text[exc.pos] == "'":
        hint = "JSON strings and keys use double quotes"
    elif exc.msg.startswith("Expecting ',' delimiter"):
        hint = "a comma may be missing between two entries"
    return Finding(
        Severity.ERROR,
        paths.ROOT,
        f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        Code.INVALID_JSON,
        hint,
        exc.lineno,
    )


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


@dataclass
class LineMap:
    """Maps JSON paths to the 1-based line where their value starts in well-formed JSON text."""

    text: str
    _lines: dict[str, int] | None = field(default=None, repr=False)
    _duplicates: list[tuple[str, int]] = field(default_factory=list, repr=False)

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its closest enclosing value present in the text."""
        lines = self._scan()
        parts = paths.segments(path)
        while parts and paths.join(paths.ROOT, parts) not in lines:
            parts.pop()
        return lines.get(paths.join(paths.ROOT, parts))

    def duplicate_keys(self) -> list[tuple[str, int]]:
        """Keys repeated within one object: the path and the line of each repeat."""
        self._scan()
        return self._duplicates

    def _scan(self) -> dict[str, int]:
        if self._lines is not None:
            return self._lines
        lines: dict[str, int] = {}
        # A frame is [path, is_object, pending_key, next_index, keys_seen].
        stack: list[list] = []
        line = 1
        last = 0
        text = self.text
        expect_key = False
        for match in _TOKEN.finditer(text):
            token = match.group()
            start = match.start()
            line += text.count("\n", last, start)
            last = start
            first = token[0]
            if first in ",:":
                if first == ",":
                    frame = stack[-1]
                    if frame[1]:
                        expect_key = True
                    else:
                        frame[3] += 1
                continue
            if first in "}]":
                stack.pop()
                expect_key = False
                continue
            if expect_key:
                frame = stack[-1]
                name = json.loads(token)
                frame[2] = name
                if name in frame[4]:
                    self._duplicates.append((paths.key(frame[0], name), line))
                frame[4].add(name)
                expect_key = False
                continue
            if not stack:
                path = paths.ROOT
            elif stack[-1][1]:
                path = paths.key(stack[-1][0], stack[-1][2])
            else:
                path = paths.index(stack[-1][0], stack[-1][3])
            lines.setdefault(path, line)
            if first == "{":
                stack.append([path, True, None, 0, set()])
                expect_key = True
            elif first == "[":
                stack.append([path, False, None, 0, None])
        self._lines = lines
        return lines
