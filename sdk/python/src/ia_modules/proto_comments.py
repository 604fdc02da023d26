"""The messages, enums and services of a FileDescriptorSet, with the comments written above them.

protoc keeps comments only when asked (`--include_source_info`); scripts/gen_protos.py
asks for them, so that the generated documents (the OpenAPI document, the pipeline
JSON Schema) carry the contracts' own words.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

# Where source info keeps comments: FileDescriptorProto.message_type = 4,
# DescriptorProto.field = 2, .nested_type = 3, .enum_type = 4,
# FileDescriptorProto.enum_type = 5, .service = 6, ServiceDescriptorProto.method = 2.
_MESSAGE, _FIELD, _NESTED, _NESTED_ENUM, _ENUM, _SERVICE, _METHOD = 4, 2, 3, 4, 5, 6, 2


class Contracts:
    """Messages, enums and services of a descriptor set, by full name, with their comments."""

    def __init__(self, descriptor_set: bytes) -> None:
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for file in files:
            comments = {
                tuple(location.path): location.leading_comments for location in file.source_code_info.location
            }
            prefix = f"{file.package}." if file.package else ""
            for i, message in enumerate(file.message_type):
                self._message(prefix + message.name, message, (_MESSAGE, i), comments)
            for i, enum in enumerate(file.enum_type):
                self.enums[prefix + enum.name] = enum
                self._comment(prefix + enum.name, comments.get((_ENUM, i)))
            for i, service in enumerate(file.service):
                name = prefix + service.name
                self.services[name] = service
                self._comment(name, comments.get((_SERVICE, i)))
                for j, method in enumerate(service.method):
                    self._comment(f"{name}.{method.name}", comments.get((_SERVICE, i, _METHOD, j)))

    def _message(self, name: str, message, path: tuple, comments: dict) -> None:
        self.messages[name] = message
        self._comment(name, comments.get(path))
        for i, field in enumerate(message.field):
            self._comment(f"{name}.{field.name}", comments.get((*path, _FIELD, i)))
        for i, nested in enumerate(message.nested_type):
            self._message(f"{name}.{nested.name}", nested, (*path, _NESTED, i), comments)
        for i, enum in enumerate(message.enum_type):
            self.enums[f"{name}.{enum.name}"] = enum
            self._comment(f"{name}.{enum.name}", comments.get((*path, _NESTED_ENUM, i)))

    def _comment(self, name: str, text: str | None) -> None:
        if text and text.strip():
            self.comments[name] = "\n".join(line.strip() for line in text.strip().splitlines())
