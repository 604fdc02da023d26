"""Per-step cost of the original single-process library (PyPI ia-modules 0.2.0).

Runs inside the `ia-modules-0.2.0` baseline environment (that package has the
same import name as our SDK, so it cannot share a process with it). Prints one
JSON document on stdout: seconds per step of each batch, with and without
telemetry.

    python original_library.py --steps 100 --runs-per-batch 10 --batches 20
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

from measure import per_item_timings  # noqa: E402

from ia_modules.pipeline.core import ExecutionContext  # noqa: E402
from ia_modules.pipeline.runner import create_pipeline_from_json  # noqa: E402
from ia_modules.pipeline.services import ServiceRegistry  # noqa: E402


def definition(steps: int) -> dict:
    """A linear JSON pipeline in the library's own dialect (`flow.paths`)."""
    ids = [f"s{i:03d}" for i in range(steps)]
    return {
        "name": "bench-chain",
        "steps": [
            {"id": sid, "module": "original_library_steps", "step_class": "Increment"}
            for sid in ids
        ],
        "flow": {
            "start_at": ids[0],
            "paths": [{"from": a, "to": b} for a, b in pairwise(ids)],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs-per-batch", type=int, default=10)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()

    pipelines = {
        telemetry: create_pipeline_from_json(definition(args.steps), ServiceRegistry())
        for telemetry in (True, False)
    }
    # The runner offers no switch for telemetry; Pipeline's own flag is the
    # library's way to turn it off.
    pipelines[False].enable_telemetry = False
    pipelines[False].telemetry = None
    loop = asyncio.new_event_loop()
    counter = iter(range(10**9))

    def batch(pipeline):
        async def runs():
            for _ in range(args.runs_per_batch):
                context = ExecutionContext(execution_id=f"bench-{next(counter)}")
                result = await pipeline.run({"count": 0}, context)
                if result["output"]["count"] != args.steps:
                    raise RuntimeError(f"wrong result: {result['output']['count']}")

        return lambda: loop.run_until_complete(runs())

    for pipeline in pipelines.values():
        batch(pipeline)()  # warm-up: imports, caches
    samples = {True: [], False: []}
    started = time.perf_counter()
    for _ in range(args.batches):
        # Alternate so that both variants see the same machine state.
        for telemetry, pipeline in pipelines.items():
            samples[telemetry] += per_item_timings(
                batch(pipeline), args.runs_per_batch * args.steps, repeats=1
            )
            if pipeline.telemetry is not None:
                pipeline.telemetry.tracer.clear()  # spans pile up in memory otherwise
    json.dump(
        {
            "with_telemetry": samples[True],
            "without_telemetry": samples[False],
            "seconds": time.perf_counter() - started,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
