"""Reading request fields that protobuf accepts but the domain cannot: timestamps
and durations out of range, enum numbers no version of the contract defines.

Each reader raises InvalidField, which the kit's ErrorInterceptor answers with
INVALID_ARGUMENT naming the field, so a handler reads its request in one line and
a malformed value never surfaces as INTERNAL.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

__all__ = ["InvalidField", "duration_ns", "enum_name", "timestamp_ns"]


class InvalidField(ValueError):
    """A request field holds a value the service cannot use: ``field`` names it."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field


def timestamp_ns(request: Any, field: str) -> int:
    """The timestamp in ``request.<field>`` in nanoseconds since the epoch; 0 when unset."""
    return _checked(request, field, "timestamp")


def duration_ns(request: Any, field: str) -> int:
    """The duration in ``request.<field>`` in nanoseconds; 0 when unset."""
    return _checked(request, field, "duration")


def _checked(request: Any, field: str, what: str) -> int:
    if not request.HasField(field):
        return 0
    value: timestamp_pb2.Timestamp | duration_pb2.Duration = getattr(request, field)
    try:
        # ToJsonString checks the range and the nanos (and a duration's signs);
        # ToNanoseconds checks nothing.
        value.ToJsonString()
    except ValueError as error:
        raise InvalidField(field, f"not a valid {what}: {error}") from None
    return value.ToNanoseconds()


def enum_name(enum: EnumTypeWrapper, value: int, field: str) -> str:
    """The name of ``value`` in ``enum``; an unknown number is an InvalidField."""
    try:
        return enum.Name(value)
    except ValueError:
        known = ", ".join(name for name in enum.keys() if not name.endswith("_UNSPECIFIED"))
        raise InvalidField(field, f"{value} is not a known value (one of {known})") from None
