"""Seconds per whole run of the original library (PyPI ia-modules 0.2.0).

Runs inside the `ia-modules-0.2.0` baseline environment, its telemetry on (its
default). Two shapes, built through its JSON runner (`create_pipeline_from_json`,
`flow.paths`), each step adding 1 to a counter:

- `chain`: 10 steps in a line;
- `fan_out`: `start` -> `a`, `b`, `c` -> `join`. The library has no join: on a
  fan-out it queues the branches and runs them one after the other, then
  follows the paths out of the last branch only, so `join` runs once, after
  `c`. The worker checks that every step ran exactly once.

Prints one JSON document on stdout: seconds per run, by shape.

    python original_library_engines.py --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ia_modules.pipeline.core import ExecutionContext  # noqa: E402
from ia_modules.pipeline.runner import create_pipeline_from_json  # noqa: E402
from ia_modules.pipeline.services import ServiceRegistry  # noqa: E402

CHAIN_STEPS = 10
BRANCHES = ("a", "b", "c")


def _step(sid: str) -> dict:
    return {"id": sid, "module": "original_library_steps", "step_class": "Increment"}


def chain() -> dict:
    ids = [f"s{i:03d}" for i in range(CHAIN_STEPS)]
    return {
        "name": "bench-chain",
        "steps": [_step(sid) for sid in ids],
        "flow": {"start_at": ids[0], "paths": [{"from": a, "to": b} for a, b in pairwise(ids)]},
    }


def fan_out() -> dict:
    ids = ["start", *BRANCHES, "join"]
    return {
        "name": "bench-fan-out",
        "steps": [_step(sid) for sid in ids],
        "flow": {
            "start_at": "start",
            "paths": [{"from": "start", "to": b} for b in BRANCHES]
            + [{"from": b, "to": "join"} for b in BRANCHES],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    shapes = {"chain": (chain(), CHAIN_STEPS), "fan_out": (fan_out(), 2 + len(BRANCHES))}
    pipelines = {
        shape: (create_pipeline_from_json(definition, ServiceRegistry()), steps)
        for shape, (definition, steps) in shapes.items()
    }
    loop = asyncio.new_event_loop()
    counter = iter(range(10**9))

    async def one(pipeline, steps: int) -> None:
        context = ExecutionContext(execution_id=f"bench-{next(counter)}")
        result = await pipeline.run({"count": 0}, context)
        ran = [s["step_name"] for s in result["steps"]]
        if len(ran) != steps or len(set(ran)) != steps or result["output"]["count"] != steps:
            raise RuntimeError(f"unexpected run: steps {ran}, output {result['output']}")

    for pipeline, steps in pipelines.values():
        for _ in range(20):
            loop.run_until_complete(one(pipeline, steps))  # warm-up: imports, caches
    samples = {shape: [] for shape in pipelines}
    started = time.perf_counter()
    for _ in range(args.runs // 10):
        for shape, (pipeline, steps) in pipelines.items():
            for _ in range(10):
                start = time.perf_counter()
                loop.run_until_complete(one(pipeline, steps))
                samples[shape].append(time.perf_counter() - start)
            if pipeline.telemetry is not None:
                pipeline.telemetry.tracer.clear()  # spans pile up in memory otherwise
    json.dump({"samples": samples, "seconds": time.perf_counter() - started}, sys.stdout)


if __name__ == "__main__":
    main()
