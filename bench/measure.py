"""Timing primitives shared by the suites and by the workers they start.

Everything here is standard library only: workers import this module from
baseline virtual environments that hold nothing of the project but what they
need.
"""

from __future__ import annotations

import gc
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def median(samples: Sequence[float]) -> float:
    """The median of the samples."""
    return statistics.median(samples)


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank, so p99 is a value that was seen."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def per_item_timings(
    batch: Callable[[], object], items_per_batch: int, repeats: int
) -> list[float]:
    """Seconds per item, once per repetition of `batch`, which handles `items_per_batch`.

    The garbage collector stays off inside a timed batch (as timeit does), so a
    collection triggered by one contender does not land on another.
    """
    timings = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            batch()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        timings.append(elapsed / items_per_batch)
    return timings


def command_timings(
    commands: dict[str, Sequence[str]], repeats: int, warmup: int = 1, **popen
) -> dict[str, list[float]]:
    """Wall seconds of each run of each whole command, by name.

    The commands take turns, round after round, so that a slow moment of the
    machine lands on all of them alike. The first `warmup` rounds (bytecode
    caches, page cache) are not kept. A command that exits non-zero raises,
    with its output, so that a broken command is never timed as a fast one.
    """
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for round_number in range(warmup + repeats):
        for name, argv in commands.items():
            start = time.perf_counter()
            done = subprocess.run(list(argv), capture_output=True, text=True, **popen)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(
                    f"`{' '.join(argv)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
                )
            if round_number >= warmup:
                timings[name].append(elapsed)
    return timings


def progress(message: str) -> None:
    """One progress line on stderr; stdout stays free for a worker's JSON."""
    print(f"  {message}", file=sys.stderr, flush=True)
