"""Run the benchmark suites and write bench/results/latest.{json,md}.

    uv run --frozen python bench/run.py [--only NAME] [--quick]

Each suite is a module in bench/suites/ with `run(quick: bool) -> dict`, which
returns `{"figures": [Figure, ...], "notes": [str, ...]}`. Every figure is ours
next to a baseline measured in the same run, and its target (see results.py).

Exit status: 0 when every suite measured what it could; 1 when a suite failed
(a baseline that could not be installed, a crash, a failed run). A target that
is missed is reported in the table, not in the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from environments import BaselineUnavailable
from results import NotMeasurable, SuiteResult, machine, markdown, write

SUITES = ("validate", "engine", "grpc", "plugins", "telemetry", "clients", "engines", "dashboard", "scale")
RESULTS = Path(__file__).resolve().parent / "results"


def run_suite(name: str, quick: bool) -> tuple[SuiteResult, bool]:
    """Run one suite; returns its result and whether it failed."""
    print(f"[{name}] running{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = SuiteResult(suite=name)
    failed = False
    try:
        suite = importlib.import_module(f"suites.{name}")
        measured = suite.run(quick=quick)
        result.figures = measured["figures"]
        result.notes = measured.get("notes", [])
    except NotMeasurable as missing:
        result.unavailable = str(missing)
        print(f"[{name}] not measured: {missing}", file=sys.stderr)
    except BaselineUnavailable as error:
        failed = True
        result.unavailable = f"FAILED: baseline unavailable: {str(error).splitlines()[0]}"
        print(f"[{name}] FAILED: a baseline could not be installed:\n{error}", file=sys.stderr)
    except Exception:
        failed = True
        trace = traceback.format_exc()
        result.unavailable = f"FAILED: {trace.strip().splitlines()[-1]}"
        print(f"[{name}] FAILED:\n{trace}", file=sys.stderr)
    result.seconds = time.perf_counter() - start
    print(f"[{name}] done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
    return result, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SUITES, help="run this suite alone")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args(argv)

    started = datetime.now(UTC)
    start = time.perf_counter()
    results, failures = [], []
    for name in [args.only] if args.only else SUITES:
        result, failed = run_suite(name, args.quick)
        results.append(result)
        if failed:
            failures.append(name)

    header = {
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "seconds": time.perf_counter() - start,
        "failed_suites": failures,
    }
    as_json, as_md = write(results, header, RESULTS)
    print(markdown(results, header))
    print(f"written: {as_json} and {as_md.name}", file=sys.stderr)
    if failures:
        print(f"FAILED suites: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
