"""PluginHostService: maps each RPC to the `PluginHost` and each refusal to a gRPC status."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from ia.plugin.v1 import message_pb2 as plugin_messages
from ia.pluginhost.v1 import message_pb2, service_pb2_grpc
from ia.pluginhost.v1 import request_response_pb2 as rr
from ia_modules.client import to_struct
from ia_modules.plugin.authoring import Kind
from ia_modules.plugin.manifest import Limits, Permissions
from ia_plugins import errors
from ia_plugins.host import PluginHost
from ia_plugins.model import Health, Isolation, PluginView, Source
from ia_service_kit.errors import (
    abort,
    abort_invalid_argument,
    abort_with,
    error_status,
)
from ia_service_kit.pagination import PageTokens, page_size
from ia_service_kit.request_fields import enum_name

_HEALTH = {
    Health.STARTING: message_pb2.PLUGIN_HEALTH_STARTING,
    Health.SERVING: message_pb2.PLUGIN_HEALTH_SERVING,
    Health.RESTARTING: message_pb2.PLUGIN_HEALTH_RESTARTING,
    Health.FAILED: message_pb2.PLUGIN_HEALTH_FAILED,
    Health.STOPPED: message_pb2.PLUGIN_HEALTH_STOPPED,
}
_SOURCE = {
    Source.BUILTIN: message_pb2.PLUGIN_SOURCE_BUILTIN,
    Source.DIRECTORY: message_pb2.PLUGIN_SOURCE_DIRECTORY,
    Source.ENTRY_POINT: message_pb2.PLUGIN_SOURCE_ENTRY_POINT,
    Source.REMOTE: message_pb2.PLUGIN_SOURCE_REMOTE,
}
_ISOLATION = {
    Isolation.BUBBLEWRAP: message_pb2.SANDBOX_MODE_BUBBLEWRAP,
    Isolation.UNSANDBOXED: message_pb2.SANDBOX_MODE_UNSANDBOXED,
    Isolation.REMOTE: message_pb2.SANDBOX_MODE_REMOTE,
}


def permissions_message(permissions: Permissions) -> message_pb2.Permissions:
    return message_pb2.Permissions(
        network=permissions.network,
        paths=[message_pb2.PathGrant(path=g.path, writable=g.writable) for g in permissions.paths],
        env=list(permissions.env),
    )


def limits_message(limits: Limits) -> message_pb2.Limits:
    return message_pb2.Limits(
        memory_mb=limits.memory_mb,
        cpu_seconds=limits.cpu_seconds,
        processes=limits.processes,
        open_files=limits.open_files,
        call_timeout_s=limits.call_timeout_s,
        max_concurrency=limits.max_concurrency,
    )


def plugin_message(view: PluginView) -> message_pb2.Plugin:
    """The wire form of a plugin."""
    plugin = message_pb2.Plugin(
        name=view.name,
        version=view.version,
        kinds=[kind.proto for kind in view.kinds],
        description=view.description,
        config_schema=to_struct(dict(view.config_schema)),
        process=view.process,
        source=_SOURCE[view.source],
        health=_HEALTH[view.health],
        restarts=view.restarts,
        permissions=permissions_message(view.permissions),
        limits=limits_message(view.limits),
        sandbox=_ISOLATION[view.isolation],
        endpoint=view.endpoint,
        location=view.location,
        last_error=view.last_error,
        protocol_version=view.protocol_version,
    )
    if view.start_time is not None:
        start = timestamp_pb2.Timestamp()
        start.FromDatetime(view.start_time)
        plugin.start_time.CopyFrom(start)
    return plugin


async def _refuse(context: grpc.aio.ServicerContext, error: errors.HostError) -> NoReturn:
    if isinstance(error, errors.InvalidField):
        await abort_invalid_argument(context, error.field, str(error))
    if isinstance(error, errors.InvalidManifest):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description, reason=error.reason)
            for field, description in error.problems
        ]
        await abort_with(context, error_status(error.code, error.reason, str(error), violations=violations))
    await abort(context, error.code, error.reason, str(error), **error.metadata)


def _kind(value: int) -> Kind | None:
    if value == plugin_messages.PLUGIN_KIND_UNSPECIFIED:
        return None
    enum_name(plugin_messages.PluginKind, value, "kind")  # an unknown number is INVALID_ARGUMENT
    return Kind.from_proto(value)


class PluginHostService(service_pb2_grpc.PluginHostServiceServicer):
    """The gRPC face of the plugin host."""

    def __init__(self, host: PluginHost, tokens: PageTokens) -> None:
        self._host = host
        self._tokens = tokens

    async def ListPlugins(
        self, request: rr.ListPluginsRequest, context: grpc.aio.ServicerContext
    ) -> rr.ListPluginsResponse:
        kind = _kind(request.kind)
        query = {"kind": kind.value if kind else ""}
        size = page_size(request.page_size)
        after = self._tokens.decode(request.page_token, query=query)
        await self._host.started()
        views = [v for v in self._host.views() if kind is None or kind in v.kinds]
        if after is not None:
            views = [v for v in views if v.name > after]
        page = views[:size]
        token = self._tokens.encode(page[-1].name, query=query) if len(views) > size else ""
        return rr.ListPluginsResponse(plugins=[plugin_message(v) for v in page], next_page_token=token)

    async def GetPlugin(self, request: rr.GetPluginRequest, context: grpc.aio.ServicerContext) -> rr.GetPluginResponse:
        await self._host.started()
        try:
            view = self._host.view(request.name)
        except errors.HostError as error:
            await _refuse(context, error)
        return rr.GetPluginResponse(plugin=plugin_message(view))

    async def InstallPlugin(
        self, request: rr.InstallPluginRequest, context: grpc.aio.ServicerContext
    ) -> rr.InstallPluginResponse:
        try:
            views = await self._host.install(request.source_dir, replace=request.replace, request_id=request.request_id)
        except errors.HostError as error:
            await _refuse(context, error)
        return rr.InstallPluginResponse(plugins=[plugin_message(v) for v in views])

    async def UninstallPlugin(
        self, request: rr.UninstallPluginRequest, context: grpc.aio.ServicerContext
    ) -> rr.UninstallPluginResponse:
        try:
            removed = await self._host.uninstall(request.name)
        except errors.HostError as error:
            await _refuse(context, error)
        return rr.UninstallPluginResponse(removed_plugins=removed)

    async def ResolvePlugin(
        self, request: rr.ResolvePluginRequest, context: grpc.aio.ServicerContext
    ) -> rr.ResolvePluginResponse:
        try:
            view = await self._host.resolve(request.name, _kind(request.kind))
        except errors.HostError as error:
            await _refuse(context, error)
        return rr.ResolvePluginResponse(
            plugin=view.name,
            endpoint=view.endpoint,
            version=view.version,
            limits=limits_message(view.limits),
            process=view.process,
        )
