"""Times StartRun-and-wait of a registered pipeline with the Python SDK
(ia_modules.client.Client) and prints one JSON line: {"p50_ms", "p99_ms",
"failed", "samples"}.

    python clients_bench.py --endpoint HOST:PORT --pipeline NAME [--iterations N] [--warmup N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ia.executor.v1 import message_pb2
from ia_modules.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from measure import median, percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    with Client(args.endpoint) as client:

        def run() -> bool:
            started = client.start_run(args.pipeline, inputs={"count": 1})
            return client.wait_run(started.run_id).state == message_pb2.RUN_STATE_SUCCEEDED

        for _ in range(args.warmup):
            run()
        times, failed = [], 0
        for _ in range(args.iterations):
            start = time.perf_counter()
            failed += not run()
            times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"p50_ms": median(times), "p99_ms": percentile(times, 99),
                      "failed": failed, "samples": len(times)}))


if __name__ == "__main__":
    main()
