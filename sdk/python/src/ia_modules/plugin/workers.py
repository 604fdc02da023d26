"""The threads that run plugin functions written as plain (not async) functions.

A plain function may block (a file, a socket, a C library), so it runs off the
event loop. `WorkerThreads` does what `loop.run_in_executor` does with the same
number of threads, for half the hand-off: a job goes through one SimpleQueue
and its result straight back to the loop, without a concurrent.futures.Future
chained to an asyncio one, and a worker does no bookkeeping between handing its
result over and waiting for the next job, so the loop is not kept waiting for
the GIL. On a plugin call that does little, the hand-off is most of the cost.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

# As many as asyncio's default executor would start.
MAX_THREADS = min(32, (os.cpu_count() or 1) + 4)

_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]]


class WorkerThreads:
    """Runs plain functions in up to `max_threads` threads, started as calls need them.

    The threads are daemons: a function still running when the server has stopped
    (after its grace period) does not keep the process alive.
    """

    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        self._max_threads = max_threads
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads = 0
        # Jobs whose result the loop has not taken yet: counted on the loop only, so
        # without a lock. Each one holds a thread, whether or not its caller still waits.
        self._in_flight = 0

    def run(self, function: Callable[[], Any]) -> asyncio.Future[Any]:
        """`function()` in a worker thread; cancelling the future does not stop it."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._in_flight += 1
        if self._in_flight > self._threads and self._threads < self._max_threads:
            self._threads += 1
            threading.Thread(target=self._work, name=f"plugin-worker-{self._threads}", daemon=True).start()
        self._jobs.put((loop, future, function))
        return future

    def _work(self) -> None:
        while True:
            loop, future, function = self._jobs.get()
            try:
                outcome = (function(), None)
            except BaseException as error:  # noqa: BLE001 - the caller gets it, as from run_in_executor
                outcome = (None, error)
            try:
                loop.call_soon_threadsafe(self._deliver, future, *outcome)
            except RuntimeError:  # the loop has closed (the process is stopping): nobody waits
                pass
            # An idle thread must not keep the last job's output (or traceback) alive.
            del loop, future, function, outcome

    def _deliver(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        self._in_flight -= 1
        if future.cancelled():  # the call ended first (its deadline)
            return
        if error is None:
            future.set_result(result)
        elif isinstance(error, StopIteration):
            # An asyncio future refuses StopIteration, which would leave the call waiting.
            future.set_exception(RuntimeError(f"the function raised StopIteration: {error}"))
        else:
            future.set_exception(error)
