"""Memory and CPU of the processes that do the work, read from /proc (psutil is not needed).

With the stack, those are the executor and the plugin host (with the plugin
processes it started), found through stack.json in the data folder; with
--local, this process.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ProcessSampler",
    "cpu_seconds",
    "cpu_snapshot",
    "descendants",
    "rss_bytes",
    "stack_processes",
    "tree_cpu_seconds",
]

# Services whose resources a run uses; the others only answer queries.
_WORKERS = ("executor", "plugin_host")
_SAMPLE_INTERVAL_S = 0.005
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` from /proc/<pid>/status (VmRSS), or None if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int, *, thread: int | None = None) -> float | None:
    """User plus system CPU seconds `pid` has used, from /proc/<pid>/stat, or None.

    With `thread` (a thread id of `pid`), that thread's alone: `thread=pid` is the
    main thread, which runs an asyncio service's event loop.
    """
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    # The command name may hold spaces; the fields after its closing parenthesis are fixed.
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def descendants(pid: int) -> list[int]:
    """Every running process under `pid`: its children, theirs, and so on.

    A sandboxed plugin is a grandchild of its host: bubblewrap's process sits between.
    """
    found, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(_children(child))
    return found


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds `pid` and every running process under it have used, or None if `pid` is gone."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in descendants(pid))


def stack_processes(data_dir: Path) -> dict[str, int]:
    """Name -> pid of the executor, the plugin host and its plugins, from stack.json."""
    from ia_modules.stack import STATE_FILE

    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    found: dict[str, int] = {}
    for name in _WORKERS:
        record = state.get("processes", {}).get(name)
        if record and rss_bytes(record["pid"]) is not None:
            found[name] = record["pid"]
            for child in descendants(record["pid"]):
                found[f"{name}/{child}"] = child
    return found


@dataclass
class ProcessSampler:
    """Samples the RSS of `pids` in a thread while a run lasts; peak and growth per process."""

    pids: dict[str, int]
    peaks: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            value = rss_bytes(pid)
            if value is not None:
                self.peaks[name] = max(self.peaks.get(name, 0), value)

    def _loop(self) -> None:
        while not self._stop.wait(_SAMPLE_INTERVAL_S):
            self._sample()

    def __enter__(self) -> ProcessSampler:
        self.before = {n: v for n, p in self.pids.items() if (v := rss_bytes(p)) is not None}
        self.peaks = dict(self.before)
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        self.after = {n: v for n, p in self.pids.items() if (v := rss_bytes(p)) is not None}

    @property
    def growth(self) -> dict[str, int]:
        """RSS after the run minus before it, per process."""
        return {n: self.after[n] - self.before[n] for n in self.after if n in self.before}


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far per process name."""
    return {n: v for n, p in pids.items() if (v := cpu_seconds(p)) is not None}
