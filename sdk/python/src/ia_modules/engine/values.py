"""JSON values as the engine sees them, and their protobuf Struct/Value form.

protobuf's Struct keeps every number as a double, so ``3`` comes back as ``3.0``.
The engine turns whole doubles back into ints: templates then interpolate ``3``,
not ``3.0``, and CEL can add them to integer literals.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

__all__ = ["from_struct", "from_value", "normalize", "to_struct", "to_value"]

_INT_LIMIT = 2**53


def normalize(value: Any) -> Any:
    """Return ``value`` with whole floats turned into ints, recursively."""
    if isinstance(value, float):
        if value.is_integer() and -_INT_LIMIT <= value <= _INT_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def from_struct(message: struct_pb2.Struct | None) -> dict[str, Any]:
    """A Struct as a plain dict (an unset Struct is ``{}``)."""
    if message is None:
        return {}
    return normalize(json_format.MessageToDict(message))


def from_value(message: struct_pb2.Value) -> Any:
    """A Value as a plain Python value."""
    return normalize(json_format.MessageToDict(message))


def to_struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    """A dict as a Struct."""
    message = struct_pb2.Struct()
    if value:
        message.update(value)
    return message


def to_value(value: Any) -> struct_pb2.Value:
    """Any JSON value as a Value."""
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message
