"""The JSON Schema (draft 2020-12) of canonical pipeline files, generated from the protos.

`pipeline_schema()` walks the descriptor of `ia.pipeline.v1.Pipeline`, so the schema
follows the contract without a hand-kept copy. It describes the canonical form the
definition model loads (DESIGN.md §4): the original snake_case field names only,
integers as JSON numbers within their proto range, `Struct` as any object and
`Value` as any JSON value, and no unknown fields. The few rules the protos cannot
state (a pipeline needs a name and steps; names and step ids have a shape) come from
the definition model's own constants. Older dialects (`flow.paths`, parameters as a
list, ...) are not described: editors flag them, and `ia-modules format --upgrade`
rewrites them canonically. `$schema` is allowed at the top so that files can point
at this schema. Descriptions are the proto comments, which `make proto` keeps in
ia/pipeline/v1/pipeline_source_info.pb next to the stubs.
"""

from __future__ import annotations

import json

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from ia.pipeline.v1 import pipeline_pb2
from ia_modules.definition.names import BUILTIN_STEP_TYPES, PIPELINE_NAME, STEP_ID

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_LIST_VALUE = "google.protobuf.ListValue"
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_DOUBLES = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}

# Rules of the definition model that the protos cannot say, keyed by message and field.
_REQUIRED = {"ia.pipeline.v1.Pipeline": ["name", "steps"]}
_REFINEMENTS = {
    ("ia.pipeline.v1.Pipeline", "name"): {"pattern": "^" + PIPELINE_NAME.pattern.removesuffix(r"\Z") + "$"},
    # A step of the graph needs an id; the step inside a `map` does not.
    ("ia.pipeline.v1.Pipeline", "steps"): {"minItems": 1, "items": {"$ref": "#/$defs/Step", "required": ["id"]}},
    ("ia.pipeline.v1.Step", "id"): {"pattern": "^" + STEP_ID.pattern.removesuffix(r"\Z") + "$"},
    # Other types name a plugin; the list only helps completion.
    ("ia.pipeline.v1.Step", "type"): {"examples": list(BUILTIN_STEP_TYPES)},
}


def pipeline_schema() -> dict:
    """The JSON Schema of a canonical pipeline file, as a JSON-ready dict."""
    definitions: dict[str, dict] = {}
    root = pipeline_pb2.Pipeline.DESCRIPTOR
    _define(root, definitions, _comments())
    top = definitions.pop(_name(root))
    top["properties"] = {"$schema": {"type": "string", "description": "The JSON Schema this file follows."}} | top[
        "properties"
    ]
    return {"$schema": DIALECT, **top, "$defs": dict(sorted(definitions.items()))}


def pipeline_schema_json() -> str:
    """The schema as the text of schemas/pipeline.schema.json: indent 2, trailing newline."""
    return json.dumps(pipeline_schema(), indent=2, ensure_ascii=False) + "\n"


def _name(descriptor: Descriptor) -> str:
    return descriptor.name


def _comments() -> dict[str, str]:
    """The proto comments by full name, from the descriptor `make proto` writes next to the stubs."""
    from importlib import resources

    from ia_modules.proto_comments import Contracts

    source = resources.files("ia.pipeline.v1") / "pipeline_source_info.pb"
    return Contracts(source.read_bytes()).comments if source.is_file() else {}


def _define(descriptor: Descriptor, definitions: dict[str, dict], comments: dict[str, str]) -> None:
    name = _name(descriptor)
    if name in definitions:
        return
    schema: dict = {"title": descriptor.full_name, "type": "object", "properties": {}}
    if descriptor.full_name in comments:
        schema["description"] = comments[descriptor.full_name]
    definitions[name] = schema  # before the fields, so recursive messages (MapSpec.step) end
    for field in descriptor.fields:
        property_schema = _field(field, definitions, comments)
        property_schema.update(_REFINEMENTS.get((descriptor.full_name, field.name), {}))
        comment = comments.get(f"{descriptor.full_name}.{field.name}")
        if comment:
            property_schema["description"] = comment
        schema["properties"][field.name] = property_schema
    required = _REQUIRED.get(descriptor.full_name)
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False


def _field(field: FieldDescriptor, definitions: dict[str, dict], comments: dict[str, str]) -> dict:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        value = message.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, definitions, comments)}
    if field.is_repeated:
        return {"type": "array", "items": _single(field, definitions, comments)}
    return _single(field, definitions, comments)


def _single(field: FieldDescriptor, definitions: dict[str, dict], comments: dict[str, str]) -> dict:
    message = field.message_type
    if message is not None:
        if message.full_name == _STRUCT:
            return {"type": "object"}
        if message.full_name == _VALUE:
            return {}
        if message.full_name == _LIST_VALUE:
            return {"type": "array"}
        _define(message, definitions, comments)
        return {"$ref": f"#/$defs/{_name(message)}"}
    if field.enum_type is not None:
        return {"type": "string", "enum": [value.name for value in field.enum_type.values]}
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return {"type": "string"}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return {"type": "integer", "minimum": low, "maximum": high}
    if kind in _DOUBLES:
        return {"type": "number"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "contentEncoding": "base64"}
    raise TypeError(f"no JSON Schema for field {field.full_name} of type {kind}")
