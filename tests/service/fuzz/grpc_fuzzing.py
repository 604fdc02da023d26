"""Malformed calls for any gRPC method, built from its descriptors: random bytes for
the request, and requests whose every field holds an awkward value (empty, huge,
negative, unknown enum numbers, control characters, templates, paths).

A seeded `random.Random` makes every run send the same calls, so a failure can be
replayed by its seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import descriptor_pool, struct_pb2
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

STRINGS = [
    "", " ", "\x00", "a" * 10_000, "ö∑😀", "../../../etc/passwd", "'; DROP TABLE runs; --", "{{ parameters.x }}",
    "-1", "null", "%s%n", "\ud7ff", "run/step/0", "*", "🙂" * 100,
]
INTEGERS = [0, 1, -1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 7]
FLOATS = [0.0, -1.0, 1e308, -1e308, float("inf"), float("nan"), 1e-300]
UNSIGNED = [0, 1, 2**32 - 1, 2**64 - 1]

_INT_TYPES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _json(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(6 if depth < 3 else 4)
    if kind == 0:
        return rng.choice(STRINGS)
    if kind == 1:
        return rng.choice(FLOATS[:4] + [1.5, 3.0])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(INTEGERS[:5])
    if kind == 4:
        return [_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(STRINGS[:9]): _json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _scalar(rng: random.Random, field: FieldDescriptor) -> Any:
    if field.type in (FieldDescriptor.TYPE_STRING,):
        return rng.choice(STRINGS)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randrange(64))
    if field.type == FieldDescriptor.TYPE_BOOL:
        return rng.choice([True, False])
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice(FLOATS)
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = [value.number for value in field.enum_type.values]
        return rng.choice([*known, 999, -5])
    low, high = _INT_TYPES[field.type]
    return max(low, min(high, rng.choice(INTEGERS + UNSIGNED)))


def _fill(message: Message, rng: random.Random, depth: int) -> None:
    if message.DESCRIPTOR.full_name == "google.protobuf.Struct":
        struct = struct_pb2.Struct()
        try:
            struct.update({rng.choice(STRINGS[:9]): _json(rng, depth) for _ in range(rng.randrange(5))})
        except ValueError:
            return
        message.CopyFrom(struct)
        return
    if message.DESCRIPTOR.full_name == "google.protobuf.Value":
        try:
            message.CopyFrom(struct_pb2.Value())
            message.list_value.extend([_json(rng, depth)])
        except ValueError:
            return
        return
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.3:
            continue
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth > 3:
                continue
            if field.message_type.GetOptions().map_entry:
                target = getattr(message, field.name)
                value_field = field.message_type.fields_by_name["value"]
                for _ in range(rng.randrange(3)):
                    key = rng.choice(STRINGS[:9])
                    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                        _fill(target[key], rng, depth + 1)
                    else:
                        target[key] = _scalar(rng, value_field)
                continue
            if repeated:
                for _ in range(rng.randrange(3)):
                    _fill(getattr(message, field.name).add(), rng, depth + 1)
            else:
                child = getattr(message, field.name)
                child.SetInParent()
                _fill(child, rng, depth + 1)
        elif repeated:
            getattr(message, field.name).extend(_scalar(rng, field) for _ in range(rng.randrange(4)))
        else:
            setattr(message, field.name, _scalar(rng, field))


def awkward_requests(method: MethodDescriptor, seed: int, count: int) -> Iterator[Message]:
    """``count`` requests for ``method`` with awkward values in random fields."""
    cls = GetMessageClass(method.input_type)
    rng = random.Random(seed)
    for _ in range(count):
        message = cls()
        _fill(message, rng, 0)
        yield message


def random_bodies(method: MethodDescriptor, seed: int, count: int) -> Iterator[bytes]:
    """Request bodies that are random bytes, or a valid request cut short or followed by junk."""
    rng = random.Random(seed)
    valid = next(awkward_requests(method, seed, 1)).SerializeToString()
    yield b"\xff" * 16
    yield b"\x0a\xff\xff\xff\xff\x0f"  # a length that runs past the end
    yield valid[: len(valid) // 2]
    yield valid + rng.randbytes(8)
    for _ in range(max(count - 4, 0)):
        yield rng.randbytes(rng.randrange(1, 300))


def methods(service_name: str) -> list[MethodDescriptor]:
    """The methods of a service known to the default descriptor pool (import its _pb2 first)."""
    return list(descriptor_pool.Default().FindServiceByName(service_name).methods)


def raw_call(channel: grpc.aio.Channel, method: MethodDescriptor) -> Any:
    """A callable sending bytes as the request and giving bytes back, streaming or not."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    if method.client_streaming and method.server_streaming:
        return channel.stream_stream(path)
    if method.client_streaming:
        return channel.stream_unary(path)
    if method.server_streaming:
        return channel.unary_stream(path)
    return channel.unary_unary(path)
