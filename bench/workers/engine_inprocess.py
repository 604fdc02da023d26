"""Our engine next to LangGraph, in one process: seconds per step of a linear run.

Runs inside the `langgraph` baseline environment, which holds LangGraph and our
SDK. The two take turns, round after round. Prints one JSON document on stdout:
seconds per step (per task for the reference) of each batch, by contender.

- ours: `compile_plan` once, then per run a new `Scheduler` fed `Start`; every
  step is a built-in `pass`, which the engine computes itself, so the run ends
  inside that one call, with no action for an executor to perform.
- LangGraph: a compiled StateGraph of N nodes that each add 1 to a counter,
  invoked synchronously (no checkpointer).
- reference: creating and awaiting one trivial asyncio task.

    python engine_inprocess.py --steps 100 --rounds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import median, per_item_timings  # noqa: E402
from pipelines import pass_chain  # noqa: E402


class Counter(TypedDict):
    count: int


def langgraph_app(steps: int):
    """A compiled linear StateGraph whose nodes each add 1 to `count`."""
    from langgraph.graph import END, START, StateGraph

    def increment(state: Counter) -> Counter:
        return {"count": state["count"] + 1}

    graph = StateGraph(Counter)
    names = [f"s{i:03d}" for i in range(steps)]
    for name in names:
        graph.add_node(name, increment)
    graph.add_edge(START, names[0])
    for a, b in pairwise(names):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], END)
    return graph.compile()


def langgraph_batch(app, steps: int, runs: int):
    config = {"recursion_limit": steps + 10}  # the default (25) stops long chains

    def batch() -> None:
        for _ in range(runs):
            if app.invoke({"count": 0}, config)["count"] != steps:
                raise RuntimeError("LangGraph returned a wrong count")

    return batch


def ours_batch(plan, steps: int, runs: int):
    from ia_modules.engine import RunState, Scheduler, Start

    parameters = plan.parameters_for({"count": 7})
    counter = iter(range(10**9))

    def batch() -> None:
        for _ in range(runs):
            scheduler = Scheduler(plan, f"bench-{next(counter)}", parameters)
            decision = scheduler.apply(Start(0.0))
            if decision.actions or scheduler.state is not RunState.SUCCEEDED:
                raise RuntimeError(
                    f"the engine did not finish the pass chain by itself: state "
                    f"{scheduler.state.name}, actions {decision.actions[:3]}, "
                    f"error {scheduler.error}"
                )
            if scheduler.outputs != {"count": 7}:
                raise RuntimeError(f"wrong outputs: {scheduler.outputs}")

    return batch


def asyncio_task_cost(tasks: int, repeats: int) -> list[float]:
    """Seconds to create and await one task that does nothing."""

    async def nothing() -> None:
        return None

    async def many() -> None:
        for _ in range(tasks):
            await asyncio.create_task(nothing())

    loop = asyncio.new_event_loop()
    try:
        return per_item_timings(lambda: loop.run_until_complete(many()), tasks, repeats)
    finally:
        loop.close()


def build_times(steps: int, repeats: int) -> dict[str, float]:
    """Median seconds to turn the definition into something runnable, once."""
    from ia_modules.engine import compile_plan

    definition = pass_chain(steps)
    ours = per_item_timings(lambda: compile_plan(definition), 1, repeats)
    langgraph = per_item_timings(lambda: langgraph_app(steps), 1, repeats)
    return {"ours": median(ours), "langgraph": median(langgraph)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict = {}

    app = langgraph_app(args.steps)
    contenders = {"langgraph": langgraph_batch(app, args.steps, runs=2)}
    runs = {"langgraph": 2}
    try:
        from ia_modules.engine import compile_plan
    except ImportError as missing:
        report["ours_missing"] = f"ia_modules.engine cannot be imported: {missing}"
    else:
        plan = compile_plan(pass_chain(args.steps))
        contenders["ours"] = ours_batch(plan, args.steps, runs=20)
        runs["ours"] = 20

    for batch in contenders.values():
        batch()  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, batch in contenders.items():
            samples[name] += per_item_timings(batch, runs[name] * args.steps, repeats=1)
    report.update(samples)
    report["asyncio_task"] = asyncio_task_cost(tasks=2000, repeats=args.rounds)
    if "ours" in contenders:
        report["build"] = build_times(args.steps, repeats=max(5, args.rounds // 3))
    report["seconds"] = time.perf_counter() - started
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
