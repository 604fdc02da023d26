"""Starting real plugin processes (without the host's sandbox): the handshake, health
and Describe checks, refusals with clear messages, and how a process ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import pytest
from plugin_kit_testing import write_plugin

from ia_modules.errors import IAError
from ia_modules.plugin import PluginHarness
from ia_modules.plugin.harness import socket_folder
from ia_modules.plugin.launch import LaunchError, describe_exit, launch
from ia_modules.plugin.protocol import MAGIC_COOKIE_KEY, handshake_env

ECHO = """
    import sys
    from ia_modules.plugin import serve, step_plugin

    @step_plugin
    def echo(config, data, ctx):
        print("a line on stdout")
        return data

    @step_plugin
    async def spin(config, data, ctx):
        while True:
            pass

    @step_plugin
    def out_of_memory(config, data, ctx):
        raise MemoryError

    if __name__ == "__main__":
        serve(echo, spin, out_of_memory)
"""


async def _launch_script(tmp_path: Path, source: str, **timeouts: float) -> None:
    script = tmp_path / "plugin.py"
    script.write_text(textwrap.dedent(source))
    lines: list[str] = []
    with socket_folder() as folder:
        socket_path = str(folder / "p.sock")
        launched = await launch(
            [sys.executable, str(script)],
            env={**os.environ, **handshake_env(socket_path)},
            socket_path=socket_path,
            on_line=lambda stream, line: lines.append(line),
            **timeouts,
        )
        await launched.stop(1)


async def test_a_plugin_started_like_the_host_does_serves_and_stops_gracefully(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    folder = write_plugin(tmp_path / "echo", ECHO, limits={"max_concurrency": 2, "call_timeout_s": 30})

    async with PluginHarness.subprocess(folder, on_line=lambda s, line: lines.append((s, line))) as harness:
        assert [p.name for p in harness.plugins] == ["echo", "out_of_memory", "spin"]
        assert (await harness.client.execute_step("echo", {}, {"x": 1})).output == {"x": 1}
        process = harness.process
    assert process is not None
    assert process.process.returncode == 0
    assert ("stdout", "a line on stdout") in lines
    assert any(stream == "stderr" and '"level": "info"' in line and "serving echo" in line for stream, line in lines)


async def test_a_call_running_past_its_deadline_ends_the_process(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "spinner", ECHO)

    async with PluginHarness.subprocess(folder) as harness:
        with pytest.raises(IAError) as late:
            await harness.client.execute_step("spin", timeout_s=0.5)
        assert late.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
        assert harness.process is not None
        returncode = await harness.process.wait()

    assert describe_exit(returncode) == "exit code 80 (a call overran its deadline)"


async def test_running_out_of_memory_fails_the_call_then_ends_the_process(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "hungry", ECHO)

    async with PluginHarness.subprocess(folder) as harness:
        with pytest.raises(IAError) as exhausted:
            await harness.client.execute_step("out_of_memory")
        assert harness.process is not None
        returncode = await harness.process.wait()

    assert exhausted.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert exhausted.value.reason == "OUT_OF_MEMORY"
    assert describe_exit(returncode) == "exit code 79 (ran out of memory)"


def test_a_plugin_run_by_hand_explains_itself(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "manual", ECHO)
    env = {key: value for key, value in os.environ.items() if not key.startswith("IA_PLUGIN_")}

    done = subprocess.run(
        [sys.executable, "plugin.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 78
    assert "is an IA Modules plugin and is started by the plugin host" in done.stderr
    assert "ia-plugin test" in done.stderr


async def test_a_plugin_that_gets_the_wrong_cookie_is_refused(tmp_path: Path) -> None:
    source = ECHO.replace("serve(echo", f"import os; os.environ[{MAGIC_COOKIE_KEY!r}] = 'stale'; serve(echo")
    folder = write_plugin(tmp_path / "cookie", source)

    with pytest.raises(LaunchError) as refused:
        async with PluginHarness.subprocess(folder):
            pass

    message = str(refused.value)
    assert message.startswith("plugin exited before the handshake (exit code 78 (refused to start))")
    assert "IA_PLUGIN_MAGIC_COOKIE is missing or wrong" in message


@pytest.mark.parametrize(
    ("source", "timeouts", "words"),
    [
        ("print('hello world', flush=True)\nimport time; time.sleep(30)", {}, "invalid handshake line 'hello world'"),
        ("import time; time.sleep(30)", {"handshake_timeout_s": 0.5}, "printed no handshake line within 0.5s"),
        (
            "import os, time\nprint(f\"IA-PLUGIN|1|unix|{os.environ['IA_PLUGIN_SOCKET']}|grpc\", flush=True)\n"
            "time.sleep(30)",
            {"health_timeout_s": 0.5},
            "did not answer health checks on",
        ),
        (
            "import sys; print('cannot open config', file=sys.stderr); sys.exit(2)",
            {},
            "plugin exited before the handshake (exit code 2); its last output:\n  cannot open config",
        ),
        ("print('IA-PLUGIN|2|unix|/x|grpc', flush=True)\nimport time; time.sleep(30)", {}, "speaks protocol version 2"),
    ],
    ids=["garbage", "silent", "never-healthy", "exits", "wrong-version"],
)
async def test_a_plugin_that_fails_the_handshake_is_refused_saying_why(
    tmp_path: Path, source: str, timeouts: dict[str, float], words: str
) -> None:
    with pytest.raises(LaunchError) as refused:
        await _launch_script(tmp_path, source, **timeouts)

    assert words in str(refused.value)


async def test_a_program_that_cannot_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="cannot start /no/such/program"):
        await launch(["/no/such/program"], env={}, socket_path=str(tmp_path / "s"))


def test_exits_are_described_for_people() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-99) == "killed by signal 99"
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(None) == "still running"
