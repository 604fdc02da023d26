"""Asking the plugin host about plugins: `PluginHostClient` (ia.pluginhost.v1).

    async with PluginHostClient("localhost:50053") as host:
        where = await host.resolve("http_request", Kind.STEP)
    async with PluginClient(where.endpoint) as plugin:
        ...

Every failed call raises `IAError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import grpc

from ia.pluginhost.v1 import message_pb2, service_pb2_grpc
from ia.pluginhost.v1 import request_response_pb2 as rr
from ia_modules import tls
from ia_modules.call_metadata import Supply, aio_interceptors, bearer, resolve_token
from ia_modules.errors import IAError
from ia_modules.plugin.authoring import Kind

_PAGE_SIZE = 200

T = TypeVar("T")


class PluginHostClient:
    """An async client for the plugin host at `endpoint` (host:port)."""

    def __init__(self, endpoint: str, *, timeout_s: float = 30.0, metadata: Supply | None = None) -> None:
        """`metadata` is added to each call; without it, IA_TOKEN (if set) is sent as the bearer token."""
        self.endpoint = endpoint
        self._timeout_s = timeout_s
        if metadata is None:
            token = resolve_token()
            metadata = bearer(token) if token else None
        self._channel = tls.aio_channel(endpoint, interceptors=aio_interceptors(metadata))
        self._stub = service_pb2_grpc.PluginHostServiceStub(self._channel)

    async def __aenter__(self) -> PluginHostClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Callable[..., Awaitable[T]], request: object, timeout_s: float | None = None) -> T:
        try:
            return await method(request, timeout=timeout_s or self._timeout_s)
        except grpc.RpcError as error:
            raise IAError.from_rpc_error(error, endpoint=self.endpoint) from None

    async def list_plugins(self, kind: Kind | None = None) -> list[message_pb2.Plugin]:
        """Every plugin (all pages), by name."""
        plugins: list[message_pb2.Plugin] = []
        token = ""
        while True:
            request = rr.ListPluginsRequest(page_size=_PAGE_SIZE, page_token=token, kind=kind.proto if kind else 0)
            page = await self._call(self._stub.ListPlugins, request)
            plugins.extend(page.plugins)
            token = page.next_page_token
            if not token:
                return plugins

    async def get_plugin(self, name: str) -> message_pb2.Plugin:
        """One plugin, with its health, permissions and config schema."""
        answer = await self._call(self._stub.GetPlugin, rr.GetPluginRequest(name=name))
        return answer.plugin

    async def install(
        self, source_dir: str, *, replace: bool = False, request_id: str = "", timeout_s: float = 60.0
    ) -> list[message_pb2.Plugin]:
        """Installs a plugin folder (a path on the host's machine) and starts it."""
        request = rr.InstallPluginRequest(source_dir=source_dir, replace=replace, request_id=request_id)
        answer = await self._call(self._stub.InstallPlugin, request, timeout_s)
        return list(answer.plugins)

    async def uninstall(self, name: str) -> list[str]:
        """Removes an installed plugin's process and folder; the plugins removed with it."""
        answer = await self._call(self._stub.UninstallPlugin, rr.UninstallPluginRequest(name=name))
        return list(answer.removed_plugins)

    async def resolve(self, name: str, kind: Kind | None = None) -> rr.ResolvePluginResponse:
        """Where to call plugin `name` (its endpoint), and the limits to respect."""
        request = rr.ResolvePluginRequest(name=name, kind=kind.proto if kind else 0)
        return await self._call(self._stub.ResolvePlugin, request)
