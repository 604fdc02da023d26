"""The OpenAPI 3 document of the REST surface, generated from the contracts.

`openapi_document(descriptor_set)` reads a FileDescriptorSet (build/api_descriptor.pb,
written by `make proto` with source info) and describes what Envoy's
grpc_json_transcoder serves from the `google.api.http` annotations, as it is
configured in deploy/envoy/envoy.yaml:

- paths and verbs exactly as annotated; fields bound in the path are path
  parameters, the `body` field (or `*`) is the JSON request body, and every other
  scalar field (dotted for nested messages) is a query parameter;
- JSON with the original proto field names (`preserve_proto_field_names`), enums
  as their names, 64-bit integers as decimal strings, `Timestamp` as RFC 3339 text,
  `Struct` as an object and `Value` as any JSON value; fields with zero values are
  left out of responses, so no response field is required;
- a server-streaming RPC answers with a JSON array of its messages;
- every failure is an HTTP status with a `google.rpc.Status` body whose `details`
  carry `ErrorInfo` (and `BadRequest` for invalid definitions).

Descriptions come from the proto comments. scripts/gen_api_docs.py writes the
document to schemas/openapi.json, which the stack serves at /openapi.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from ia_modules.proto_comments import Contracts

TITLE = "IA Modules REST API"
# OpenAPI 3.0: its schema dialect is the one every generator and fuzzer supports fully.
OPENAPI_VERSION = "3.0.3"
SERVICES = (
    "ia.registry.v1.RegistryService",
    "ia.executor.v1.ExecutorService",
    "ia.pluginhost.v1.PluginHostService",
    "ia.telemetry.v1.TelemetryService",
)
STATUS = "google.rpc.Status"
_F = descriptor_pb2.FieldDescriptorProto
_INT32 = {_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32}
_UINT32 = {_F.TYPE_UINT32, _F.TYPE_FIXED32}
_INT64 = {_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64, _F.TYPE_UINT64, _F.TYPE_FIXED64}
_WELL_KNOWN = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$", "example": "1.5s"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Field paths, separated by commas."},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Any": {
        "type": "object",
        "required": ["@type"],
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
}
# Well-known types with a text form, which a query parameter can carry.
_QUERY_WELL_KNOWN = ("google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask")
# google.api.http verbs, in HttpRule's field order.
_VERBS = ("get", "put", "post", "delete", "patch")
_PATH_VARIABLE = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")
class _Schemas:
    """The components/schemas of the document, filled as messages are referenced."""

    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts
        self.components: dict[str, dict] = {}

    def ref(self, full_name: str) -> dict:
        """A schema for message or enum `full_name`: a well-known type inline, else a $ref."""
        if full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[full_name])
        if full_name not in self.components:
            self.components[full_name] = {}  # first, so that recursive messages end
            if full_name in self.contracts.enums:
                self.components[full_name] = self._enum(full_name)
            else:
                self.components[full_name] = self._message(full_name)
        return {"$ref": f"#/components/schemas/{full_name}"}

    def _enum(self, full_name: str) -> dict:
        values = [value.name for value in self.contracts.enums[full_name].value]
        return self._described({"type": "string", "enum": values}, full_name)

    def _message(self, full_name: str) -> dict:
        message = self.contracts.messages[full_name]
        properties = {field.name: self.field(full_name, field) for field in message.field}
        schema: dict = {"type": "object", "properties": properties, "additionalProperties": False}
        exclusive = _oneof_groups(message)
        if exclusive:
            schema["allOf"] = [{"not": {"required": [a, b]}} for group in exclusive for a, b in _pairs(group)]
        return self._described(schema, full_name)

    def field(self, owner: str, field: descriptor_pb2.FieldDescriptorProto) -> dict:
        """The schema of one field of message `owner`, with its comment."""
        entry = self._map_entry(field)
        if entry is not None:
            value = next(f for f in entry.field if f.name == "value")
            schema = {"type": "object", "additionalProperties": self.single(value)}
        elif field.label == _F.LABEL_REPEATED:
            schema = {"type": "array", "items": self.single(field)}
        else:
            schema = self.single(field)
        comment = self.contracts.comments.get(f"{owner}.{field.name}")
        if comment:
            # In OpenAPI 3.0 a $ref ignores its siblings, so a described reference is wrapped.
            wrapped = {"allOf": [schema]} if "$ref" in schema else schema
            schema = {**wrapped, "description": comment}
        return schema

    def single(self, field: descriptor_pb2.FieldDescriptorProto) -> dict:
        """The schema of one value of `field` (an item, when it is repeated)."""
        if field.type in (_F.TYPE_MESSAGE, _F.TYPE_ENUM):
            return self.ref(field.type_name.lstrip("."))
        if field.type == _F.TYPE_STRING:
            return {"type": "string"}
        if field.type == _F.TYPE_BOOL:
            return {"type": "boolean"}
        if field.type in _INT32:
            return {"type": "integer", "format": "int32"}
        if field.type in _UINT32:
            return {"type": "integer", "format": "int32", "minimum": 0}
        if field.type in _INT64:
            # proto3 JSON writes 64-bit integers as strings, so that JavaScript keeps them exact.
            return {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
        if field.type == _F.TYPE_DOUBLE:
            return {"type": "number", "format": "double"}
        if field.type == _F.TYPE_FLOAT:
            return {"type": "number", "format": "float"}
        if field.type == _F.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        raise ValueError(f"no JSON form for field {field.name} of type {field.type}")

    def _map_entry(self, field: descriptor_pb2.FieldDescriptorProto):
        if field.type != _F.TYPE_MESSAGE or field.label != _F.LABEL_REPEATED:
            return None
        message = self.contracts.messages.get(field.type_name.lstrip("."))
        return message if message is not None and message.options.map_entry else None

    def _described(self, schema: dict, full_name: str) -> dict:
        comment = self.contracts.comments.get(full_name)
        return {**schema, "description": comment} if comment else schema


def openapi_document(descriptor_set: bytes, *, version: str = "v1") -> dict:
    """The OpenAPI document of the annotated RPCs of SERVICES in `descriptor_set`."""
    contracts = Contracts(descriptor_set)
    schemas = _Schemas(contracts)
    paths: dict[str, dict] = {}
    tags = []
    for service_name in SERVICES:
        service = contracts.services[service_name]
        short = service_name.rsplit(".", 1)[1]
        tags.append({"name": short, "description": contracts.comments.get(service_name, "")})
        for method in service.method:
            for verb, template, body in _bindings(method):
                operation = _operation(contracts, schemas, service_name, short, method, template, body)
                paths.setdefault(_openapi_path(template), {})[verb] = operation
    schemas.ref(STATUS)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": version,
            "description": "The REST mapping of the IA Modules gRPC services, as Envoy transcodes it. "
            "Generated from the google.api.http annotations of protos/ by scripts/gen_api_docs.py.",
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "responses": {"Error": _error_response()},
        },
    }


def openapi_json(descriptor_set: bytes) -> str:
    """The document as the text of schemas/openapi.json: indent 2, trailing newline."""
    return json.dumps(openapi_document(descriptor_set), indent=2, ensure_ascii=False) + "\n"


def _bindings(method: descriptor_pb2.MethodDescriptorProto) -> Iterator[tuple[str, str, str]]:
    if not method.options.HasExtension(annotations_pb2.http):
        return
    rule: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
    for candidate in (rule, *rule.additional_bindings):
        verb = candidate.WhichOneof("pattern")
        if verb in _VERBS:
            yield verb, getattr(candidate, verb), candidate.body


def _openapi_path(template: str) -> str:
    return _PATH_VARIABLE.sub(lambda m: "{" + _parameter_name(m.group(1)) + "}", template)


def _parameter_name(field_path: str) -> str:
    # `{pipeline.name}` binds a nested field; OpenAPI tools read a dot in a template
    # variable as attribute access, so the parameter is named with `_` instead.
    return field_path.replace(".", "_")


def _operation(contracts, schemas, service_name, short, method, template, body) -> dict:
    request_name = method.input_type.lstrip(".")
    response_name = method.output_type.lstrip(".")
    bound = _PATH_VARIABLE.findall(template)
    parameters = [_path_parameter(contracts, schemas, request_name, name) for name in bound]
    top_bound = {name.split(".", 1)[0] for name in bound}
    comment = contracts.comments.get(f"{service_name}.{method.name}", "")
    operation: dict = {
        "operationId": f"{short}_{method.name}",
        "tags": [short],
        "summary": comment.split("\n", 1)[0],
        "description": comment,
    }
    request = contracts.messages[request_name]
    if body == "*":
        operation["requestBody"] = _json_body(_body_schema(schemas, request_name, request, top_bound))
    elif body:
        field = next(f for f in request.field if f.name == body)
        operation["requestBody"] = _json_body(schemas.single(field))
    if body != "*":
        skipped = top_bound | ({body} if body else set())
        for field in request.field:
            if field.name not in skipped:
                parameters.extend(_query_parameters(contracts, schemas, request_name, field, ""))
    if parameters:
        operation["parameters"] = parameters
    response = schemas.ref(response_name)
    if method.server_streaming:
        response = {
            "type": "array",
            "items": response,
            "description": "The stream's messages, as one JSON array that grows until the stream ends.",
        }
    operation["responses"] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": response}}},
        "default": {"$ref": "#/components/responses/Error"},
    }
    return operation


def _path_parameter(contracts, schemas, request_name: str, dotted: str) -> dict:
    field, owner = _field_at(contracts, request_name, dotted)
    schema = schemas.single(field)
    if schema == {"type": "string"}:
        # An empty segment, or one with a slash, matches no route.
        schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
    parameter = {"name": _parameter_name(dotted), "in": "path", "required": True, "schema": schema}
    comment = contracts.comments.get(f"{owner}.{field.name}")
    if "." in dotted:
        comment = f"The request's `{dotted}`." + (f" {comment}" if comment else "")
    if comment:
        parameter["description"] = comment
    return parameter


def _field_at(contracts, message_name: str, dotted: str):
    *parents, last = dotted.split(".")
    owner = message_name
    for part in parents:
        owner = next(f for f in contracts.messages[owner].field if f.name == part).type_name.lstrip(".")
    return next(f for f in contracts.messages[owner].field if f.name == last), owner


def _query_parameters(contracts, schemas, owner: str, field, prefix: str) -> Iterator[dict]:
    name = prefix + field.name
    type_name = field.type_name.lstrip(".")
    is_message = field.type == _F.TYPE_MESSAGE
    if is_message and type_name not in _WELL_KNOWN:
        if field.label == _F.LABEL_REPEATED:
            return  # maps and repeated messages have no query form
        for nested in contracts.messages[type_name].field:
            yield from _query_parameters(contracts, schemas, type_name, nested, name + ".")
        return
    if is_message and type_name not in _QUERY_WELL_KNOWN:
        return  # Struct, Value, Any: no query form
    schema = schemas.field(owner, field)
    description = schema.pop("description", None)
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if field.label == _F.LABEL_REPEATED:
        parameter.update(style="form", explode=True)
    if description:
        parameter["description"] = description
    yield parameter


def _body_schema(schemas: _Schemas, request_name: str, request, path_bound: set[str]) -> dict:
    if not path_bound:
        return schemas.ref(request_name)
    # The path carries these fields; the body holds the rest of the request.
    properties = {f.name: schemas.field(request_name, f) for f in request.field if f.name not in path_bound}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _oneof_groups(message) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for field in message.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            groups.setdefault(field.oneof_index, []).append(field.name)
    return [names for names in groups.values() if len(names) > 1]


def _pairs(names: list[str]) -> Iterator[tuple[str, str]]:
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            yield first, second


def _error_response() -> dict:
    return {
        "description": "The call failed. The HTTP status follows the gRPC code (INVALID_ARGUMENT and "
        "FAILED_PRECONDITION 400, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, UNAVAILABLE 503, ...). "
        "`details` holds a google.rpc.ErrorInfo with a stable `reason` in the domain `ia-modules`, and "
        "for an invalid definition a google.rpc.BadRequest whose field violations are JSON paths into it.",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{STATUS}"}}},
    }
