"""The proto3 JSON of `ia.pipeline.v1.Pipeline`, checked and written from the message descriptor.

`Conformer` checks a canonical-shaped document against the descriptor before it is parsed
into a message: unknown fields (with a "did you mean"), wrong types and out-of-range
numbers become findings with JSON paths instead of a parser exception. `to_dict` writes a
message back in a stable form: fields in proto field order, the keys of free-form objects
sorted, and integral numbers written as integers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from . import paths
from .findings import Code, Finding, did_you_mean, error

_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
}
_DOUBLES = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
# Integral numbers up to this size are written as integers without losing precision.
_EXACT_INT = 2**53


# "5s", "500 ms", "2 minutes": a duration written with its unit where seconds are expected.
_DURATION = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\s*\Z"
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def _seconds_hint(field: FieldDescriptor, value) -> str | None:
    """For text in a field of seconds: the plain number to write instead."""
    if not isinstance(value, str) or not field.name.endswith(("_s", "seconds")):
        return None
    match = _DURATION.match(value.lower())
    if match is None:
        return "write the number of seconds, e.g. 5"
    unit = "ms" if match.group(2).startswith(("ms", "milli")) else match.group(2)[0]
    seconds = float(match.group(1)) * _UNIT_SECONDS[unit]
    return f"write {seconds:g}: the value is a plain number of seconds"


# Returned for a value that was reported and must be left out of the clean copy.
_INVALID = object()


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


class Conformer:
    """Checks canonical-shaped values against the descriptor; see the module docstring.

    `source_of` maps a canonical path to the path in the document as written, so that
    findings point at what the author typed.
    """

    def __init__(self, source_of: Callable[[str], str]) -> None:
        self.findings: list[Finding] = []
        self._source_of = source_of

    def _report(self, path: str, code: Code, message: str, hint: str | None = None) -> None:
        self.findings.append(error(self._source_of(path), code, message, hint))

    def _wrong_type(self, path: str, expected: str, value, hint: str | None = None) -> None:
        self._report(path, Code.INVALID_TYPE, f"expected {expected}, got {_describe(value)}", hint)

    def message(self, value, descriptor: Descriptor, path: str) -> dict | None:
        """A clean copy of `value` for `descriptor`, or None when it is not an object."""
        if not isinstance(value, dict):
            self._wrong_type(path, "an object", value)
            return None
        out: dict = {}
        fields = descriptor.fields_by_name
        for name, item in value.items():
            where = paths.key(path, name)
            field = fields.get(name) if isinstance(name, str) else None
            if field is None:
                hint = did_you_mean(str(name), fields)
                self._report(
                    where,
                    Code.UNKNOWN_FIELD,
                    f"unknown field `{name}`",
                    hint or f"known fields here: {', '.join(sorted(fields))}",
                )
                continue
            if item is None and not (field.message_type and field.message_type.full_name == _VALUE):
                continue
            clean = self._field(field, item, where)
            if clean is not _INVALID:
                out[name] = clean
        return out

    def _field(self, field: FieldDescriptor, value, path: str):
        message_type = field.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            return self._string_map(value, path)
        if field.is_repeated:
            if not isinstance(value, (list, tuple)):
                self._wrong_type(path, "a list", value)
                return _INVALID
            items = [self._single(field, item, paths.index(path, i)) for i, item in enumerate(value)]
            return [item for item in items if item is not _INVALID]
        return self._single(field, value, path)

    def _single(self, field: FieldDescriptor, value, path: str):
        message_type = field.message_type
        if message_type is not None:
            if message_type.full_name == _STRUCT:
                if not isinstance(value, dict):
                    self._wrong_type(path, "an object", value)
                    return _INVALID
                return self.json(value, path)
            if message_type.full_name == _VALUE:
                return self.json(value, path)
            clean = self.message(value, message_type, path)
            return _INVALID if clean is None else clean
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            if isinstance(value, str):
                return value
            self._wrong_type(path, "text", value)
        elif kind == FieldDescriptor.TYPE_BOOL:
            if isinstance(value, bool):
                return value
            self._wrong_type(path, "true or false", value)
        elif kind in _INT_RANGES:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                low, high = _INT_RANGES[kind]
                if low <= value <= high:
                    return value
                self._report(path, Code.INVALID_VALUE, f"{value} is out of range ({low} to {high})")
            else:
                self._wrong_type(path, "a whole number", value)
        elif kind in _DOUBLES:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value):
                    return value
                self._report(path, Code.INVALID_VALUE, "numbers must be finite")
            else:
                self._wrong_type(path, "a number", value, _seconds_hint(field, value))
        else:  # pragma: no cover - the pipeline proto has no other scalar kinds
            raise TypeError(f"unsupported field type {kind} at {path}")
        return _INVALID

    def _string_map(self, value, path: str):
        if not isinstance(value, dict):
            self._wrong_type(path, "an object", value)
            return _INVALID
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and isinstance(item, str):
                out[key] = item
            else:
                self._wrong_type(paths.key(path, str(key)), "text", item)
        return out

    def json(self, value, path: str):
        """A copy of a free-form JSON value, or _INVALID when it holds something JSON cannot."""
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            self._report(path, Code.INVALID_VALUE, "numbers must be finite")
            return _INVALID
        if isinstance(value, (list, tuple)):
            items = [self.json(item, paths.index(path, i)) for i, item in enumerate(value)]
            return [item for item in items if item is not _INVALID]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    self._report(path, Code.INVALID_VALUE, f"object keys must be text, got {_describe(key)}")
                    continue
                clean = self.json(item, paths.key(path, key))
                if clean is not _INVALID:
                    out[key] = clean
            return out
        self._report(path, Code.INVALID_VALUE, f"{_describe(value)} is not a JSON value")
        return _INVALID


def plain(value):
    """A JSON value with object keys sorted and integral numbers written as integers."""
    if isinstance(value, dict):
        return {key: plain(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_INT:
        return int(value)
    return value


def to_dict(message: Message) -> dict:
    """The stable proto3 JSON dict of a message; see the module docstring."""
    out = {}
    for field, value in message.ListFields():
        out[field.name] = _field_value(field, value)
    return out


def _field_value(field: FieldDescriptor, value):
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        return {key: value[key] for key in sorted(value)}
    if field.is_repeated:
        return [_single_value(field, item) for item in value]
    return _single_value(field, value)


def _single_value(field: FieldDescriptor, value):
    message_type = field.message_type
    if message_type is None:
        return plain(value)
    if message_type.full_name in (_STRUCT, _VALUE):
        return plain(json_format.MessageToDict(value))
    return to_dict(value)
