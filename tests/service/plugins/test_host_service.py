"""PluginHostService in-process on port 0, with the built-in plugins running sandboxed."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from plugin_host_testing import FIXTURES, LocalHttp, host_settings, needs_sandbox, start_host
from typer.testing import CliRunner

from ia.plugin.v1 import message_pb2 as plugin_messages
from ia.pluginhost.v1 import message_pb2, service_pb2_grpc
from ia.pluginhost.v1 import request_response_pb2 as rr
from ia_modules.errors import IAError
from ia_modules.plugin import CallInfo, Kind, PluginClient
from ia_modules.plugin.host import PluginHostClient
from ia_modules.plugin.manifest import PathGrant, Permissions
from ia_modules.plugin_cli.main import app
from ia_plugins.host import PluginHost
from ia_service_kit.server import RunningServer

pytestmark = [needs_sandbox, pytest.mark.xdist_group("plugins"), pytest.mark.asyncio(loop_scope="module")]

BUILTINS = [
    "aggregate", "business_hours", "date_range", "day_of_week", "email", "filter", "http_available", "http_request",
    "jmespath", "json_report", "json_schema", "log", "markdown_report", "percentage_rollout", "python_step", "range",
    "regex", "required_fields", "sort", "sql_condition", "sql_query", "threshold_condition", "time_window", "weather",
    "webhook",
]  # fmt: skip


class Stack:
    def __init__(self, server: RunningServer, host: PluginHost, folder: Path, channel: grpc.aio.Channel) -> None:
        self.server = server
        self.host = host
        self.folder = folder
        self.stub = service_pb2_grpc.PluginHostServiceStub(channel)
        self.client = PluginHostClient(server.address)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("host")
    (folder / "db").mkdir()
    with sqlite3.connect(folder / "db" / "shop.db") as connection:
        connection.execute("CREATE TABLE orders (id INTEGER, total REAL)")
        connection.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 30), (2, 120)])
    settings = host_settings(
        folder,
        builtins=True,
        steps_path=(str(FIXTURES / "steps"),),
        grants={"io": Permissions(paths=(PathGrant(str(folder / "db")),))},
    )
    server, host = await start_host(settings)
    async with grpc.aio.insecure_channel(server.address) as channel:
        running = Stack(server, host, folder, channel)
        yield running
        await running.client.close()
    await server.stop(1)


async def resolved(stack: Stack, name: str, kind: Kind | None = None) -> PluginClient:
    where = await stack.client.resolve(name, kind)
    return PluginClient(where.endpoint)


async def test_every_builtin_is_listed_serving_in_its_sandbox(stack: Stack) -> None:
    plugins = await stack.client.list_plugins()

    assert [p.name for p in plugins] == BUILTINS
    assert {p.health for p in plugins} == {message_pb2.PLUGIN_HEALTH_SERVING}
    assert {p.sandbox for p in plugins} == {message_pb2.SANDBOX_MODE_BUBBLEWRAP}
    by_name = {p.name: p for p in plugins}
    assert {p.process for p in plugins} == {"conditions", "data", "io", "python_steps"}
    assert by_name["weather"].permissions.network is True
    assert by_name["business_hours"].permissions.network is False
    assert [g.path for g in by_name["sql_query"].permissions.paths] == [str(stack.folder / "db")]
    assert [g.path for g in by_name["python_step"].permissions.paths] == [str(FIXTURES / "steps")]
    assert by_name["time_window"].source == message_pb2.PLUGIN_SOURCE_BUILTIN
    assert by_name["time_window"].endpoint.startswith("unix:///")
    assert by_name["time_window"].config_schema["required"] == ["start", "end"]


async def test_listing_pages_and_filters_by_kind(stack: Stack) -> None:
    names, token = [], ""
    while True:
        page = await stack.stub.ListPlugins(rr.ListPluginsRequest(page_size=10, page_token=token))
        names += [p.name for p in page.plugins]
        token = page.next_page_token
        if not token:
            break
    assert names == BUILTINS

    conditions = await stack.client.list_plugins(Kind.CONDITION)
    assert [p.name for p in conditions] == [
        "business_hours", "date_range", "day_of_week", "http_available", "percentage_rollout", "sql_condition",
        "threshold_condition", "time_window", "weather",
    ]  # fmt: skip
    steps = await stack.stub.ListPlugins(rr.ListPluginsRequest(kind=plugin_messages.PLUGIN_KIND_STEP))
    assert [p.name for p in steps.plugins] == ["http_request", "python_step", "sql_query"]


async def test_a_page_token_only_works_for_its_own_query(stack: Stack) -> None:
    first = await stack.stub.ListPlugins(rr.ListPluginsRequest(page_size=2))

    with pytest.raises(grpc.aio.AioRpcError) as other_query:
        await stack.stub.ListPlugins(
            rr.ListPluginsRequest(page_size=2, page_token=first.next_page_token, kind=plugin_messages.PLUGIN_KIND_HOOK)
        )
    assert other_query.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(IAError) as forged:
        await stack.client._call(stack.client._stub.ListPlugins, rr.ListPluginsRequest(page_token="forged.token"))
    assert forged.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(IAError) as negative:
        await stack.client._call(stack.client._stub.ListPlugins, rr.ListPluginsRequest(page_size=-1))
    assert negative.value.field_violations[0][0] == "page_size"


async def test_get_plugin_returns_one_and_not_found_carries_error_info(stack: Stack) -> None:
    plugin = await stack.client.get_plugin("markdown_report")
    assert list(plugin.kinds) == [plugin_messages.PLUGIN_KIND_REPORTER]
    assert plugin.process == "data" and plugin.version == "1.0.0"

    with pytest.raises(IAError) as missing:
        await stack.client.get_plugin("teleport")
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert missing.value.reason == "PLUGIN_NOT_FOUND"
    assert missing.value.metadata == {"plugin": "teleport"}
    assert "ia-plugin list" in missing.value.message


async def test_resolve_returns_the_endpoint_and_limits_the_caller_respects(stack: Stack) -> None:
    where = await stack.client.resolve("http_request", Kind.STEP)

    assert where.plugin == "http_request" and where.process == "io"
    assert where.endpoint == f"unix://{stack.host.settings.socket_root}/io/plugin.sock"
    assert where.limits.call_timeout_s == 60 and where.limits.max_concurrency == 16

    with pytest.raises(IAError) as wrong_kind:
        await stack.client.resolve("http_request", Kind.CONDITION)
    assert wrong_kind.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert wrong_kind.value.reason == "KIND_NOT_SUPPORTED"
    with pytest.raises(IAError) as missing:
        await stack.client.resolve("teleport")
    assert missing.value.reason == "PLUGIN_NOT_FOUND"
    with pytest.raises(IAError) as nameless:
        await stack.client.resolve("")
    assert nameless.value.field_violations[0][0] == "name"


async def test_the_builtins_work_inside_their_sandboxes(stack: Stack) -> None:
    async with await resolved(stack, "business_hours") as conditions:
        answer = await conditions.evaluate_condition(
            "business_hours", {"timezone": "Asia/Kolkata"}, {"now": "2025-01-07T05:00:00Z"}
        )
    assert answer.result is True and "10:30 Asia/Kolkata" in answer.reason

    async with await resolved(stack, "jmespath") as data:
        assert await data.transform("jmespath", {"expression": "a.b"}, {"a": {"b": {"c": 1}}}) == {"c": 1}

    async with await resolved(stack, "sql_query") as io:
        rows = await io.execute_step(
            "sql_query",
            {"url": f"sqlite:///{stack.folder / 'db' / 'shop.db'}", "query": "SELECT sum(total) AS s FROM orders"},
        )
        assert rows.output["rows"] == [{"s": 150.0}]
        with LocalHttp({"/ping": (200, {"pong": True})}) as web:
            # `io` has the network grant: it shares the host's network, loopback included.
            reply = await io.execute_step("http_request", {}, {"url": f"{web.url}/ping"})
        assert reply.output["json"] == {"pong": True}

    async with await resolved(stack, "python_step") as steps:
        priced = await steps.execute_step(
            "python_step",
            {"module": "shop.orders", "step_class": "PriceOrder"},
            {"lines": [{"price": 4, "quantity": 3}]},
            call=CallInfo(step_id="price"),
        )
    assert priced.output == {"total": 12, "step": "price"}


async def test_install_starts_a_plugin_folder_and_uninstall_removes_it(stack: Stack) -> None:
    plugins = await stack.client.install(str(FIXTURES / "probe"), request_id="install-probe-1")

    assert sorted(p.name for p in plugins) == [
        "allocate", "connect", "crash", "fork_bomb", "read_file", "spin", "strict", "whoami", "write_file",
    ]  # fmt: skip
    assert {p.health for p in plugins} == {message_pb2.PLUGIN_HEALTH_SERVING}
    assert {p.source for p in plugins} == {message_pb2.PLUGIN_SOURCE_DIRECTORY}
    installed = stack.host.settings.plugins_dir / "probe"
    assert (installed / "plugin.yaml").is_file()
    again = await stack.client.install(str(FIXTURES / "probe"), request_id="install-probe-1")
    assert sorted(p.name for p in again) == sorted(p.name for p in plugins)

    with pytest.raises(IAError) as taken:
        await stack.client.install(str(FIXTURES / "probe"))
    assert taken.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert taken.value.reason == "PLUGIN_ALREADY_EXISTS"
    replaced = await stack.client.install(str(installed), replace=True)
    assert {p.health for p in replaced} == {message_pb2.PLUGIN_HEALTH_SERVING}

    removed = await stack.client.uninstall("whoami")
    assert "whoami" in removed and "crash" in removed
    assert not installed.exists()
    with pytest.raises(IAError):
        await stack.client.get_plugin("whoami")


async def test_builtins_cannot_be_uninstalled_or_replaced(stack: Stack) -> None:
    with pytest.raises(IAError) as refused:
        await stack.client.uninstall("sort")
    assert refused.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "PLUGIN_NOT_REMOVABLE"
    with pytest.raises(IAError) as missing:
        await stack.client.uninstall("teleport")
    assert missing.value.code is grpc.StatusCode.NOT_FOUND

    imposter = stack.folder / "imposter"
    shutil.copytree(FIXTURES / "probe", imposter)
    manifest = imposter / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("name: probe", "name: data"))
    with pytest.raises(IAError) as replaced:
        await stack.client.install(str(imposter), replace=True)
    assert replaced.value.reason == "PLUGIN_NOT_REMOVABLE"


async def test_install_refuses_a_plugin_whose_name_another_process_serves(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "plugin.yaml").write_text(
        "name: my_sorter\nversion: '1'\nentrypoint: python plugin.py\nplugins: [{name: sort, kinds: [transform]}]\n"
    )

    with pytest.raises(IAError) as taken:
        await stack.client.install(str(tmp_path))

    assert taken.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert taken.value.metadata == {"plugin": "sort", "process": "data"}


async def test_install_refuses_a_bad_folder_or_manifest_naming_the_field(stack: Stack, tmp_path: Path) -> None:
    for source in (str(tmp_path / "missing"), ""):
        with pytest.raises(IAError) as nowhere:
            await stack.client.install(source)
        assert nowhere.value.field_violations[0][0] == "source_dir"

    (tmp_path / "plugin.yaml").write_text("name: broken\nversion: 1\nentrypoint: run\nlimits: {memory_mb: -5}\n")
    with pytest.raises(IAError) as invalid:
        await stack.client.install(str(tmp_path))
    assert invalid.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.value.reason == "INVALID_MANIFEST"
    assert invalid.value.field_violations == [("limits.memory_mb", "-5 is less than the minimum of 0")]


async def _cli(stack: Stack, *args: str, plugins_dir: Path | None = None) -> tuple[int, str, str]:
    """Runs `ia-plugin` in a worker thread (its own event loop) while the host serves on this one."""
    env = {"IA_ENDPOINT": stack.server.address, "IA_PLUGINS_DIR": str(plugins_dir) if plugins_dir else None}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


async def test_the_cli_lists_and_describes_plugins(stack: Stack) -> None:
    code, out, _ = await _cli(stack, "list", "--format", "json")
    assert code == 0
    listed = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert listed["weather"]["kinds"] == ["condition"] and listed["weather"]["health"] == "SERVING"
    assert listed["weather"]["sandbox"] == "bubblewrap" and listed["weather"]["permissions"]["network"] is True

    code, out, _ = await _cli(stack, "list", "--kind", "hook")
    rows = out.splitlines()
    assert code == 0 and rows[0].split() == [
        "NAME",
        "KINDS",
        "VERSION",
        "HEALTH",
        "RESTARTS",
        "PROCESS",
        "SANDBOX",
        "GRANTS",
    ]
    assert [row.split()[0] for row in rows[1:]] == ["log", "webhook"]
    assert rows[2].endswith(f"network, ro:{stack.folder / 'db'}")

    code, out, _ = await _cli(stack, "info", "python_step")
    assert code == 0
    assert f"ro:{FIXTURES / 'steps'}" in out
    assert '"step_class"' in out and "memory 1024 MiB" in out

    code, _, err = await _cli(stack, "info", "teleport")
    assert code == 1 and "NOT_FOUND: no plugin named 'teleport'" in err


async def test_the_cli_installs_through_the_plugins_folder_and_uninstalls(stack: Stack, tmp_path: Path) -> None:
    code, _, _ = await _cli(stack, "init", "shouty", "--type", "transform", "--dir", str(tmp_path))
    assert code == 0
    plugins_dir = stack.host.settings.plugins_dir

    code, out, err = await _cli(stack, "install", str(tmp_path / "shouty"), plugins_dir=plugins_dir)
    assert code == 0, err
    assert out.startswith("installed shouty 0.1.0 (transform) SERVING")
    assert (plugins_dir / "shouty" / "plugin.py").is_file()
    async with await resolved(stack, "shouty") as shouty:
        assert await shouty.transform("shouty", {"min": 1}, {"amount": 3}) == {"amount": 3, "big": True}

    code, out, _ = await _cli(stack, "uninstall", "shouty", "--format", "json")
    assert code == 0 and json.loads(out) == {"removed_plugins": ["shouty"]}
    assert not (plugins_dir / "shouty").exists()
