"""The plugin host's parts on their own: the bubblewrap command line, output lines,
settings, and discovery."""

from __future__ import annotations

import logging
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from plugin_host_testing import FIXTURES

from ia_modules.plugin.manifest import (
    Limits,
    Manifest,
    PathGrant,
    Permissions,
    load_manifest,
)
from ia_plugins import discovery, output, sandbox, server
from ia_plugins.discovery import discover
from ia_plugins.model import Source
from ia_plugins.sandbox import Sandbox, SandboxUnavailable
from ia_plugins.settings import HostSettings, SettingsError, socket_root
from ia_service_kit.server import ServiceConfig

# An entry point's object, loaded by `discover` below.
ENTRY_MANIFEST = {"name": "ep_plugin", "version": "2.0", "kinds": ["condition"]}
NOT_A_MANIFEST = 42


def fake_sandbox(*, privileged: bool) -> Sandbox:
    return Sandbox(
        "/usr/bin/bwrap", "/usr/bin/prlimit", "/usr/bin/setpriv" if privileged else None, privileged=privileged
    )


def pairs(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


def test_the_sandbox_for_a_root_host_drops_to_its_own_uid_without_network(tmp_path: Path) -> None:
    manifest = Manifest(
        name="probe",
        version="1",
        entrypoint=("python", "plugin.py"),
        limits=Limits(memory_mb=300, cpu_seconds=20, processes=30, open_files=50),
        permissions=Permissions(paths=(PathGrant("/srv/ref"), PathGrant(str(tmp_path), writable=True)), env=("TOKEN",)),
        folder=FIXTURES / "probe",
    )
    jail = fake_sandbox(privileged=True)

    args = jail.command(
        manifest, [jail.python, "plugin.py"], socket_dir=Path("/run/ia/probe"), env={"TOKEN": "t"},
        workdir=str(FIXTURES / "probe"), info_fd=7, uid=201234,
    )  # fmt: skip

    assert args[:5] == ["/usr/bin/bwrap", "--die-with-parent", "--new-session", "--info-fd", "7"]
    assert {"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--unshare-net"} <= set(args)
    assert "--unshare-user" not in args and "--share-net" not in args
    assert pairs(args, "--cap-add") == ["CAP_SETUID", "CAP_SETGID"] and pairs(args, "--cap-drop") == ["ALL"]
    assert "--clearenv" in args
    assert args[args.index("TOKEN") - 1 : args.index("TOKEN") + 2] == ["--setenv", "TOKEN", "t"]
    assert args[args.index("--tmpfs") - 4 : args.index("--tmpfs") + 2] == [
        "--size", str(300 * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
    ]  # fmt: skip
    ro = pairs(args, "--ro-bind")
    assert str(FIXTURES / "probe") in ro and "/srv/ref" not in ro  # a grant that does not exist is left out
    assert str(tmp_path) in pairs(args, "--bind") and "/run/ia/probe" not in pairs(args, "--bind")  # missing here
    assert "/usr/lib" in ro and "/etc/resolv.conf" not in ro
    assert pairs(args, "--remount-ro") == ["/"]
    command = args[args.index("--") + 1 :]
    assert command[:4] == ["/usr/bin/setpriv", "--reuid=201234", "--regid=201234", "--clear-groups"]
    limits = command[command.index("/usr/bin/prlimit") :]
    assert limits[:7] == [
        "/usr/bin/prlimit", f"--as={300 * 1024 * 1024}", "--cpu=20", "--nproc=30", "--nofile=50", "--core=0", "--",
    ]  # fmt: skip
    assert limits[7:] == [jail.python, "plugin.py"]


def test_the_sandbox_for_an_unprivileged_host_unshares_everything_but_granted_network() -> None:
    manifest = Manifest(name="io", version="1", entrypoint=("node", "x.js"), permissions=Permissions(network=True))
    jail = fake_sandbox(privileged=False)

    args = jail.command(
        manifest, ["/bin/sh", "x"], socket_dir=Path("/tmp"), env={}, workdir="/tmp", info_fd=3, uid=None
    )

    assert {"--unshare-all", "--disable-userns", "--share-net"} <= set(args)
    assert "--unshare-net" not in args and "--cap-add" not in args and "/usr/bin/setpriv" not in args
    assert "/etc/resolv.conf" in pairs(args, "--ro-bind") or not Path("/etc/resolv.conf").exists()
    assert args[-3:] == ["--", "/bin/sh", "x"]
    assert jail.new_uid() is None
    assert fake_sandbox(privileged=True).new_uid() >= sandbox.DEFAULT_UID_BASE


def test_binds_make_readable_parents_and_skip_paths_already_visible() -> None:
    mounts = sandbox._Mounts()
    for path in ("/usr/lib/python3", "/usr/lib", str(FIXTURES / "steps" / "shop"), str(FIXTURES / "steps")):
        mounts.read_only(path)
    mounts.writable(str(FIXTURES / "steps" / "shop"))

    args = mounts.args

    ro = pairs(args, "--ro-bind")
    assert ro == ["/usr/lib", str(FIXTURES / "steps")]
    assert pairs(args, "--bind") == [str(FIXTURES / "steps" / "shop")]
    made = pairs(args, "--dir")
    assert made[0] == "/usr" and str(FIXTURES) in made
    assert all(args[args.index("--dir", i) - 1] == "0755" for i, a in enumerate(args) if a == "--dir")


def test_detect_says_why_bubblewrap_cannot_be_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="`bwrap` is not installed"):
        Sandbox.detect()

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: f"/usr/bin/{name}")
    refused = subprocess.CompletedProcess([], 1, "", "bwrap: setting up uid map: Permission denied\n")
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: refused)
    with pytest.raises(SandboxUnavailable, match="cannot create namespaces here: bwrap: setting up uid map"):
        Sandbox.detect()


@pytest.mark.parametrize(
    ("line", "level", "message", "fields"),
    [
        ('{"level": "warning", "message": "slow", "time": "t", "url": "u"}', "warning", "slow", {"url": "u"}),
        ('{"severity": "ERROR", "msg": "bad"}', "error", "bad", {}),
        ('level=debug msg="cache miss" key=a', "debug", "cache miss", {}),
        ("WARNING:root:deprecated option", "warning", "root:deprecated option", {}),
        ("[error] cannot open", "error", "cannot open", {}),
        ("FATAL boom", "error", "boom", {}),
        ("just text", "info", "just text", {}),
        ("{not json", "info", "{not json", {}),
    ],
)
def test_output_lines_keep_the_level_they_state(line: str, level: str, message: str, fields: dict) -> None:
    assert output.parse_line(line) == output.OutputLine(level, message, fields)


def test_forwarded_lines_are_tagged_with_the_plugin(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ia_plugins.plugin_output")

    output.forward("io", "stderr", '{"level": "error", "message": "db down", "logger": "x", "plugin": "p"}')
    output.forward("io", "stdout", "   ")

    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("ERROR", "db down")
    assert record.ia_fields == {"plugin": "io", "stream": "stderr", "plugin_logger": "x", "plugin_plugin": "p"}  # type: ignore[attr-defined]


def test_settings_come_from_the_environment_and_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "plugins.yaml"
    config.write_text(
        "remote: {sidecar: 'localhost:7001', other: 'unix:///run/o.sock'}\n"
        "grants: {io: {paths: [/srv/db], env: [DB_TOKEN]}, python_steps: {network: true}}\n"
    )
    env = {
        "IA_PLUGINS_DIR": str(tmp_path / "mine"),
        "IA_REMOTE_PLUGINS": "sidecar=localhost:9000, extra=10.0.0.5:7000",
        "IA_PLUGINS_CONFIG": str(config),
        "IA_STEPS_PATH": f"/srv/steps:{tmp_path}",
        "IA_PLUGINS_UNSANDBOXED": "1",
        "IA_PLUGINS_BUILTINS": "0",
        "IA_PLUGIN_UID_BASE": "300000",
    }

    settings = HostSettings.from_env(tmp_path / "data", env)

    assert settings.plugins_dir == tmp_path / "mine"
    assert settings.remote == {"sidecar": "localhost:9000", "other": "unix:///run/o.sock", "extra": "10.0.0.5:7000"}
    assert settings.grants["io"] == Permissions(paths=(PathGrant("/srv/db"),), env=("DB_TOKEN",))
    assert settings.grants["python_steps"].network is True
    assert settings.steps_path == ("/srv/steps", str(tmp_path))
    assert (settings.unsandboxed, settings.builtins, settings.entry_points) == (True, False, True)
    assert settings.uid_base == 300000
    defaults = HostSettings.from_env(tmp_path / "data", {})
    assert defaults.plugins_dir == (tmp_path / "data" / "plugins").resolve()
    assert defaults.remote == {} and defaults.unsandboxed is False


@pytest.mark.parametrize(
    ("env", "config", "words"),
    [
        ({"IA_REMOTE_PLUGINS": "justaname"}, None, "IA_REMOTE_PLUGINS: 'justaname' is not name=address"),
        ({"IA_PLUGIN_UID_BASE": "lots"}, None, "IA_PLUGIN_UID_BASE='lots' is not a whole number"),
        ({}, "remote: [1, 2]", "remote: [1, 2] is not of type 'object'"),
        ({}, "grants: {io: {network: maybe}}", "grants.io: network: 'maybe' is not of type 'boolean'"),
        ({}, "remote: {a: [unclosed", "is not valid YAML"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    tmp_path: Path, env: dict[str, str], config: str | None, words: str
) -> None:
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
        env = {**env, "IA_PLUGINS_CONFIG": str(tmp_path / "c.yaml")}

    with pytest.raises(SettingsError) as refused:
        HostSettings.from_env(tmp_path, env)

    assert words in str(refused.value)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IA_PLUGINS_CONFIG: cannot read .*nope.yaml"):
        HostSettings.from_env(tmp_path, {"IA_PLUGINS_CONFIG": str(tmp_path / "nope.yaml")})


def test_a_socket_folder_too_long_for_unix_sockets_moves_under_tmp(tmp_path: Path) -> None:
    short = Path("/tmp/ia/sockets")
    long = tmp_path / ("x" * 80) / "sockets"

    assert socket_root(short) == short
    moved = socket_root(long)
    assert str(moved).startswith("/tmp/ia-plugins-") and len(str(moved)) < 40
    assert socket_root(long) == moved


def test_discovery_finds_builtins_folders_and_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "probe").mkdir(parents=True)
    (plugins / "probe" / "plugin.yaml").write_text((FIXTURES / "probe" / "plugin.yaml").read_text())
    (plugins / "broken").mkdir()
    (plugins / "broken" / "plugin.yaml").write_text("name: broken\n")
    entry_points = [
        metadata.EntryPoint("ep_plugin", "test_host_parts:ENTRY_MANIFEST", discovery.ENTRY_POINT_GROUP),
        metadata.EntryPoint("shipped", "plugin_host_testing:FIXTURE_MANIFEST", discovery.ENTRY_POINT_GROUP),
        metadata.EntryPoint("odd", "test_host_parts:NOT_A_MANIFEST", discovery.ENTRY_POINT_GROUP),
        metadata.EntryPoint("gone", "no_such_module:X", discovery.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(discovery.metadata, "entry_points", lambda group: entry_points)
    monkeypatch.setattr("plugin_host_testing.FIXTURE_MANIFEST", load_manifest(FIXTURES / "probe"), raising=False)

    found, unusable = discover(HostSettings(plugins_dir=plugins, socket_root=tmp_path, steps_path=("/s",)))

    assert [(f.manifest.name, f.source) for f in found] == [
        ("conditions", Source.BUILTIN), ("data", Source.BUILTIN), ("io", Source.BUILTIN),
        ("python_steps", Source.BUILTIN), ("probe", Source.DIRECTORY), ("ep_plugin", Source.ENTRY_POINT),
        ("probe", Source.ENTRY_POINT),
    ]  # fmt: skip
    by_name = {f.manifest.name: f for f in found}
    assert by_name["ep_plugin"].manifest.entrypoint == ("python", "-m", "test_host_parts")
    assert by_name["ep_plugin"].manifest.version == "2.0"
    assert by_name["python_steps"].manifest.entrypoint[-1] == "/s"
    assert by_name["io"].manifest.permissions.network is True
    assert {u.name: u.problem.split(":")[0] for u in unusable} == {
        "broken": str(plugins / "broken" / "plugin.yaml"),
        "odd": "test_host_parts",
        "gone": "ModuleNotFoundError",
    }


def test_unreadable_sources_are_skipped_when_switched_off(tmp_path: Path) -> None:
    found, unusable = discover(
        HostSettings(plugins_dir=tmp_path / "absent", socket_root=tmp_path, builtins=False, entry_points=False)
    )
    assert (found, unusable) == ([], [])


def test_the_host_runs_without_a_sandbox_when_bubblewrap_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(**_: object) -> Sandbox:
        raise SandboxUnavailable("bwrap: no user namespaces here")

    monkeypatch.setattr(server.Sandbox, "detect", unavailable)
    strict = server.detect_sandbox(HostSettings(plugins_dir=tmp_path, socket_root=tmp_path))
    lenient = server.detect_sandbox(HostSettings(plugins_dir=tmp_path, socket_root=tmp_path, unsandboxed=True))

    assert strict.sandbox is None and strict.sandbox_problem == "bwrap: no user namespaces here"
    assert lenient.sandbox is None
    assert [r.levelname for r in caplog.records if "bubblewrap unavailable" in r.getMessage()] == ["ERROR", "WARNING"]


def test_the_service_is_wired_from_the_environment(tmp_path: Path) -> None:
    config = ServiceConfig(name=server.NAME, default_port=server.DEFAULT_PORT, port=0, data_dir=tmp_path)

    wiring = server.wire(config, {"IA_PLUGINS_BUILTINS": "0", "IA_PLUGINS_DIR": str(tmp_path / "p")})

    [(add, service)] = wiring.servicers
    assert add.__name__ == "add_PluginHostServiceServicer_to_server"
    assert type(service).__name__ == "PluginHostService"
    assert len(wiring.on_start) == 1 and len(wiring.on_stop) == 1


def test_main_refuses_a_bad_command_line() -> None:
    with pytest.raises(SystemExit) as refused:
        server.main(["--port", "99999"])
    assert refused.value.code == 2
