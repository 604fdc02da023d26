"""Server processes on loopback for the suites that go over the wire."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

# `listening on <host>:<port>`, or `listening on unix:<path>` for a Unix socket.
LISTENING = re.compile(r"listening on (?:(unix:\S+)|([\w.\[\]:-]+):(\d+))")


class ServerProcess:
    """A process started with `--port 0` that prints `listening on <host>:<port>`.

    Its combined output is kept (the last lines) to explain a failure. Used as a
    context manager: SIGTERM on exit, SIGKILL if it does not stop in time.
    """

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, start_timeout: float = 60.0) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.output: deque[str] = deque(maxlen=60)
        self.address = ""
        self._process: subprocess.Popen | None = None
        self._listening = threading.Event()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
            cwd=self.cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while not self._listening.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(
                    f"`{' '.join(self.argv)}` did not start listening "
                    f"(exit status {self._process.returncode}); last output:\n"
                    + "\n".join(self.output)
                )
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line.rstrip())
            if not self._listening.is_set() and (match := LISTENING.search(line)):
                unix, host, port = match.groups()
                if unix:
                    self.address = unix
                else:
                    host = "127.0.0.1" if host in ("0.0.0.0", "[::]", "::") else host
                    self.address = f"{host}:{port}"
                self._listening.set()

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far, from /proc."""
        from ia_modules.benchmark.processes import cpu_seconds

        return cpu_seconds(self.pid) or 0.0

    def tree_cpu_seconds(self) -> float:
        """User + system CPU time the process and every process under it (a plugin
        host's sandboxed plugins, say) have used so far, from /proc."""
        from ia_modules.benchmark.processes import tree_cpu_seconds

        return tree_cpu_seconds(self.pid) or 0.0

    def __exit__(self, *exc) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def whole_run(stub, start_request) -> bool:
    """Start a run and follow its events until the stream ends; True if it succeeded."""
    import grpc
    from ia.executor.v1 import message_pb2, request_response_pb2
    from measure import progress

    try:
        started = await stub.StartRun(start_request, timeout=60)
        state = started.run.state
        # Batched, as the clients ask for it.
        watch = request_response_pb2.WatchRunRequest(run_id=started.run.run_id, batch=True)
        async for response in stub.WatchRun(watch, timeout=60):
            for event in response.events:
                if event.WhichOneof("kind") == "run_state_changed":
                    state = event.run_state_changed.state
    except grpc.aio.AioRpcError as error:
        progress(f"run failed: {error.code().name}: {error.details()}")
        return False
    return state == message_pb2.RUN_STATE_SUCCEEDED
