"""Runs tests/conformance/scenarios.json with the Python SDK (gRPC) or with plain
HTTP through Envoy's JSON transcoding (`--transport rest`, the scenarios marked
"rest"). Prints one JSON line per scenario, then `python: N passed, N failed`;
exits 1 if any failed.

    python tests/conformance/python/runner.py --endpoint 127.0.0.1:8080 --namespace py-1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scenario import load, run_all

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="Envoy's front door, host:port")
    parser.add_argument("--namespace", required=True, help="prefix of every pipeline name this run creates")
    parser.add_argument("--scenarios", type=Path, default=SCENARIOS)
    parser.add_argument("--transport", choices=("grpc", "rest"), default="grpc")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)

    if args.transport == "rest":
        from rest_driver import SUPPORTED, RestDriver

        driver, label = RestDriver(args.endpoint), "rest"
    else:
        from grpc_driver import SUPPORTED, GrpcDriver

        driver, label = GrpcDriver(args.endpoint), "python"
    document = load(args.scenarios, args.namespace)
    outcomes = run_all(
        document, driver, SUPPORTED, only=set(args.only or ()), rest_only=args.transport == "rest"
    )
    for outcome in outcomes:
        print(json.dumps({"runner": label, "scenario": outcome.scenario, "passed": outcome.passed, "error": outcome.error}))
    failed = sum(not o.passed for o in outcomes)
    print(f"{label}: {len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
