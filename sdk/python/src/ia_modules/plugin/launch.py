"""Starting a plugin process and checking it before anyone calls it.

`launch` runs a command (plain, or wrapped in a sandbox by the host) with the
handshake variables, then refuses the plugin, with a message that says why,
unless all of this happens in time:

1. its first stdout line is a valid handshake line for the socket it was given;
2. it answers SERVING on grpc.health.v1 at that socket;
3. Describe names at least one plugin, each with at least one kind.

Every other stdout and stderr line goes to `on_line(stream, line)`, the host's
log. The plugin host and the test harness both start plugins this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ia.plugin.v1 import message_pb2
from ia_modules.errors import IAError
from ia_modules.plugin.client import PluginClient
from ia_modules.plugin.protocol import Handshake, HandshakeError, parse_handshake

LineSink = Callable[[str, str], None]

# Exit codes `serve` uses, for messages people can act on.
_EXIT_MEANINGS = {
    78: "refused to start",
    79: "ran out of memory",
    80: "a call overran its deadline",
}
_STDERR_TAIL_LINES = 12


class LaunchError(Exception):
    """The plugin was refused at start; the message says why."""


def describe_exit(returncode: int | None) -> str:
    """`exit code 1`, `killed by SIGKILL`, `exit code 79 (ran out of memory)`."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    meaning = _EXIT_MEANINGS.get(returncode)
    return f"exit code {returncode}" + (f" ({meaning})" if meaning else "")


@dataclass
class LaunchedPlugin:
    """A plugin process that passed the handshake, health check and Describe."""

    process: asyncio.subprocess.Process
    handshake: Handshake
    plugins: list[message_pb2.PluginDescriptor]
    # The process group to signal: the sandboxed program's, or the process's own.
    group: int
    _readers: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    @property
    def target(self) -> str:
        return self.handshake.target

    async def wait(self) -> int:
        """Waits for the process to exit and for its last output lines; its return code."""
        returncode = await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        return returncode

    async def stop(self, grace_s: float) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `grace_s`; the return code."""
        return await terminate(self.process, self.group, grace_s, self._readers)


async def terminate(
    process: asyncio.subprocess.Process, group: int, grace_s: float, readers: Sequence[asyncio.Task[None]] = ()
) -> int:
    """Ends a plugin process: SIGTERM to its group, SIGKILL after `grace_s`."""
    if process.returncode is None:
        _signal_group(group, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            _signal_group(group, signal.SIGKILL)
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    assert process.returncode is not None
    return process.returncode


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


async def _forward(stream: asyncio.StreamReader, name: str, sink: LineSink, tail: deque[str] | None) -> None:
    while True:
        raw = await stream.readline()
        if not raw:
            return
        line = raw.decode(errors="replace").rstrip("\r\n")
        if tail is not None:
            tail.append(line)
        sink(name, line)


async def _read_info(reader: asyncio.StreamReader) -> int | None:
    """The sandboxed child's pid from bubblewrap's `--info-fd` JSON."""
    text = b""
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            break
        text += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(text)["child-pid"])
    return None


async def _sandbox_group(fd: int, timeout_s: float) -> int | None:
    """Reads bubblewrap's `--info-fd` pipe; the sandboxed child's pid (its process group)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return await asyncio.wait_for(_read_info(reader), timeout_s)
    except TimeoutError:
        return None
    finally:
        transport.close()


async def launch(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    socket_path: str,
    cwd: str | None = None,
    handshake_timeout_s: float = 10.0,
    health_timeout_s: float = 5.0,
    on_line: LineSink | None = None,
    info_pipe: tuple[int, int] | None = None,
) -> LaunchedPlugin:
    """Starts `argv` and checks handshake, health and Describe; raises LaunchError.

    `info_pipe` is a pipe (read end, write end) whose write end `argv` passes to
    bubblewrap as `--info-fd`, so the sandboxed program can be signalled directly.
    """
    sink: LineSink = on_line or (lambda _stream, _line: None)
    tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    pass_fds = (info_pipe[1],) if info_pipe else ()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as error:
        raise LaunchError(f"cannot start {argv[0]}: {error.strerror or error}") from None
    finally:
        if info_pipe:
            os.close(info_pipe[1])
    info = asyncio.ensure_future(_sandbox_group(info_pipe[0], handshake_timeout_s)) if info_pipe else None
    assert process.stdout is not None and process.stderr is not None
    readers = [asyncio.ensure_future(_forward(process.stderr, "stderr", sink, tail))]

    async def refuse(reason: str) -> LaunchError:
        if info is not None:
            info.cancel()
            await asyncio.gather(info, return_exceptions=True)
        returncode = await terminate(process, process.pid, 1.0, readers)
        lines = "\n  ".join(tail)
        detail = f"; its last output:\n  {lines}" if lines else ""
        return LaunchError(f"{reason} ({describe_exit(returncode)}){detail}")

    try:
        return await _check(process, socket_path, handshake_timeout_s, health_timeout_s, sink, readers, info, refuse)
    except asyncio.CancelledError:
        # The host is shutting down while this plugin starts: leave nothing behind.
        if info is not None:
            info.cancel()
        await terminate(process, process.pid, 0.0, readers)
        raise


async def _check(
    process: asyncio.subprocess.Process,
    socket_path: str,
    handshake_timeout_s: float,
    health_timeout_s: float,
    sink: LineSink,
    readers: list[asyncio.Task[None]],
    info: asyncio.Future[int | None] | None,
    refuse: Callable[[str], Awaitable[LaunchError]],
) -> LaunchedPlugin:
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), handshake_timeout_s)
    except TimeoutError:
        raise await refuse(f"plugin printed no handshake line within {handshake_timeout_s:g}s") from None
    if not first:
        await process.wait()
        raise await refuse("plugin exited before the handshake")
    try:
        handshake = parse_handshake(first.decode(errors="replace"), expected_socket=socket_path)
    except HandshakeError as error:
        raise await refuse(str(error)) from None
    readers.append(asyncio.ensure_future(_forward(process.stdout, "stdout", sink, None)))

    # Without the sandboxed child's pid, signals go to bubblewrap, which then
    # kills the sandbox at once rather than letting the plugin stop gracefully.
    group = (await info if info is not None else None) or process.pid

    async with PluginClient(handshake.target, timeout_s=health_timeout_s) as client:
        if not await client.health():
            raise await refuse(f"plugin did not answer health checks on {socket_path} within {health_timeout_s:g}s")
        try:
            plugins = await client.describe()
        except IAError as error:
            raise await refuse(f"Describe failed: {error}") from None
    problems = [f"plugin {d.name!r} has no kind" for d in plugins if not d.kinds]
    if not plugins or problems:
        raise await refuse("; ".join(problems) or "Describe named no plugin")
    return LaunchedPlugin(process, handshake, plugins, group, readers)
