"""The threads that run plain (not async) plugin functions."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ia_modules.plugin.workers import WorkerThreads


async def test_a_function_runs_off_the_loop_and_its_result_comes_back() -> None:
    threads = WorkerThreads()

    assert await threads.run(threading.get_ident) != threading.get_ident()


async def test_what_a_function_raises_reaches_the_caller() -> None:
    threads = WorkerThreads()

    def broken() -> None:
        raise KeyError("missing")

    def stops() -> None:
        raise StopIteration("done early")

    with pytest.raises(KeyError, match="missing"):
        await threads.run(broken)
    # asyncio futures refuse StopIteration; the caller still gets an error instead of waiting.
    with pytest.raises(RuntimeError, match="StopIteration: done early"):
        await threads.run(stops)


async def test_a_caller_that_gives_up_leaves_the_thread_to_finish() -> None:
    threads = WorkerThreads(max_threads=1)
    release = threading.Event()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await threads.run(release.wait)
    release.set()
    # The one thread is free again once the abandoned function has returned.
    assert await threads.run(lambda: "next") == "next"


async def test_calls_run_side_by_side_up_to_the_thread_limit() -> None:
    threads = WorkerThreads(max_threads=2)
    both_running = threading.Barrier(2, timeout=5)

    results = await asyncio.gather(threads.run(both_running.wait), threads.run(both_running.wait))

    assert sorted(results) == [0, 1]


def test_a_function_that_outlives_its_event_loop_leaves_the_thread_working() -> None:
    threads = WorkerThreads(max_threads=1)
    release = threading.Event()

    async def start() -> None:
        threads.run(release.wait)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    loop.close()
    release.set()

    async def next_call() -> str:
        return await threads.run(lambda: "next")

    assert asyncio.run(next_call()) == "next"
