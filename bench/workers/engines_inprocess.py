"""Our engine next to LangGraph, in one process: seconds per whole run.

Runs inside the `langgraph` baseline environment, which holds LangGraph and our
SDK. Two shapes, each timed run by run, the contenders taking turns:

- `chain`: 10 steps in a line;
- `fan_out`: `start` -> `a`, `b`, `c` -> `join`, the join waiting for all three.

Ours: `compile_plan` once, then per run a new `Scheduler` fed `Start`; the
steps are built-in `pass` steps, so the run ends inside that one call.
LangGraph: a compiled StateGraph whose nodes add 1 to a counter (the branches
append to a list that the join sums), invoked synchronously, no checkpointer.
Prints one JSON document on stdout: seconds per run, by shape and contender.

    python engines_inprocess.py --runs 2000
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
import time
from pathlib import Path
from typing import Annotated, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine_inprocess import langgraph_app  # noqa: E402
from pipelines import fan_out_join, pass_chain  # noqa: E402

CHAIN_STEPS = 10
BRANCHES = ("a", "b", "c")


class Branches(TypedDict):
    count: int
    seen: Annotated[list[int], operator.add]


def langgraph_fan_out():
    """start -> a, b, c -> join; the join runs once, after all three branches."""
    from langgraph.graph import END, START, StateGraph

    def start(state: Branches) -> dict:
        return {"count": state["count"] + 1}

    def branch(state: Branches) -> dict:
        return {"seen": [state["count"]]}

    def join(state: Branches) -> dict:
        return {"count": sum(state["seen"])}

    graph = StateGraph(Branches)
    graph.add_node("start", start)
    for name in BRANCHES:
        graph.add_node(name, branch)
    graph.add_node("join", join)
    graph.add_edge(START, "start")
    for name in BRANCHES:
        graph.add_edge("start", name)
    graph.add_edge(list(BRANCHES), "join")
    graph.add_edge("join", END)
    return graph.compile()


def langgraph_runs() -> dict:
    chain, fan_out = langgraph_app(CHAIN_STEPS), langgraph_fan_out()

    def run_chain() -> None:
        if chain.invoke({"count": 0})["count"] != CHAIN_STEPS:
            raise RuntimeError("LangGraph chain returned a wrong count")

    def run_fan_out() -> None:
        if fan_out.invoke({"count": 0, "seen": []})["count"] != len(BRANCHES):
            raise RuntimeError("LangGraph fan-out returned a wrong count")

    return {"chain": run_chain, "fan_out": run_fan_out}


def our_runs() -> dict:
    from ia_modules.engine import RunState, Scheduler, Start, compile_plan

    counter = iter(range(10**9))

    def runner(definition: dict, expected: dict):
        plan = compile_plan(definition)
        parameters = plan.parameters_for({"count": 7})

        def run() -> None:
            scheduler = Scheduler(plan, f"bench-{next(counter)}", parameters)
            decision = scheduler.apply(Start(0.0))
            if decision.actions or scheduler.state is not RunState.SUCCEEDED:
                raise RuntimeError(f"our run did not finish by itself: {scheduler.state.name}")
            if scheduler.outputs != expected:
                raise RuntimeError(f"wrong outputs: {scheduler.outputs}")

        return run

    return {
        "chain": runner(pass_chain(CHAIN_STEPS), {"count": 7}),
        "fan_out": runner(fan_out_join(), {"a": 7}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    contenders = {"langgraph": langgraph_runs(), "ours": our_runs()}
    samples = {shape: {name: [] for name in contenders} for shape in ("chain", "fan_out")}
    for runs in contenders.values():
        for run in runs.values():
            for _ in range(20):
                run()  # warm-up
    # Runs in blocks of 10, the contenders taking turns block by block, each run timed.
    for _ in range(args.runs // 10):
        for shape, by_name in samples.items():
            for name, runs in contenders.items():
                run = runs[shape]
                for _ in range(10):
                    start = time.perf_counter()
                    run()
                    by_name[name].append(time.perf_counter() - start)
    json.dump({"samples": samples, "seconds": time.perf_counter() - started}, sys.stdout)


if __name__ == "__main__":
    main()
