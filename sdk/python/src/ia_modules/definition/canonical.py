"""The canonical text of a definition and its content hash."""

from __future__ import annotations

import hashlib
import json

from ia.pipeline.v1 import pipeline_pb2

from .proto_json import to_dict


def canonical_dict(pipeline: pipeline_pb2.Pipeline) -> dict:
    """The proto3 JSON of `pipeline` with the original (snake_case) field names.

    Fields come in proto field order, keys of free-form objects (parameters, config,
    inputs, outputs, schemas) are sorted, and integral numbers are integers.
    """
    return to_dict(pipeline)


def canonical_json(pipeline: pipeline_pb2.Pipeline) -> str:
    """`canonical_dict` as text: indent 2, UTF-8 characters kept, a trailing newline."""
    return json.dumps(canonical_dict(pipeline), indent=2, ensure_ascii=False) + "\n"


def content_hash(pipeline: pipeline_pb2.Pipeline) -> str:
    """SHA-256 (hex) of the canonical JSON with sorted keys and no whitespace.

    Two definitions that load to the same pipeline have the same hash, whatever their
    dialect, key order or formatting.
    """
    text = json.dumps(canonical_dict(pipeline), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
