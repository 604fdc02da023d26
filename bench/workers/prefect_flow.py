"""Seconds per flow run of Prefect, run locally in its ephemeral mode.

Runs inside the `prefect` baseline environment. The flow is 10 tasks in a
line, each adding 1 to a counter, the shape of our 10-step `pass` chain. With
no PREFECT_API_URL, Prefect starts its own ephemeral API server (SQLite under
PREFECT_HOME) and records every flow and task run there, as a local user sees
it. Prints one JSON document on stdout.

    python prefect_flow.py --steps 10 --runs 12
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from prefect import flow, task


@task
def increment(count: int) -> int:
    return count + 1


def chain_flow(steps: int):
    @flow(name="bench-chain")
    def chain(count: int = 0) -> int:
        for _ in range(steps):
            count = increment(count)
        return count

    return chain


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    chain = chain_flow(args.steps)

    # The first run starts the ephemeral server and creates its database.
    start = time.perf_counter()
    if chain(0) != args.steps:
        raise RuntimeError("Prefect returned a wrong count")
    first = time.perf_counter() - start

    runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = chain(0)
        runs.append(time.perf_counter() - start)
        if result != args.steps:
            raise RuntimeError(f"Prefect returned a wrong count: {result}")
    json.dump({"first_run": first, "runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
