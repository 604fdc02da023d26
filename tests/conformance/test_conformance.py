"""The conformance suite: every client language runs every scenario of
scenarios.json against ONE real stack (all services and Envoy, as `ia-modules up`
starts them, on free loopback ports), through Envoy.

The runners (Python, Go, TypeScript over gRPC and over gRPC-Web, Java, and REST
with plain HTTP) start side by side as subprocesses, each in its own namespace of
pipeline names, and report one JSON line per scenario. A runner that does not
support a step kind in the file fails that scenario; every runner is also fed
META_SCENARIOS, which it must fail, so that none can pass by checking nothing.

The Go, TypeScript and Java runners are built by `make sdks` (README.md). A runner
that is not built is a failure under CI and is left out elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

# The test also waits for the stack and for every runner (RUNNER_TIMEOUT_S).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("conformance"), pytest.mark.timeout(420)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIOS = HERE / "scenarios.json"
DOCUMENT = json.loads(SCENARIOS.read_text())
ALL_SCENARIOS = tuple(s["name"] for s in DOCUMENT["scenarios"])
REST_SCENARIOS = tuple(s["name"] for s in DOCUMENT["scenarios"] if s.get("rest"))
# Runners that have not all finished by then hang; each scenario takes about a second.
RUNNER_TIMEOUT_S = 300


@dataclass(frozen=True)
class Runner:
    """How to start one language's runner, and what it must be built from."""

    name: str
    command: tuple[str, ...]
    # The file `make sdks` builds; None when nothing needs building.
    artifact: Path | None
    scenarios: tuple[str, ...]

    def argv(self, endpoint: str, namespace: str, scenarios: Path) -> list[str]:
        return [*self.command, "--endpoint", endpoint, "--namespace", namespace, "--scenarios", str(scenarios)]

    def missing(self) -> str | None:
        """Why the runner cannot start, or None."""
        if self.artifact is not None and not self.artifact.exists():
            return f"{self.artifact.relative_to(ROOT)} is not built: run `make sdks`"
        tool = self.command[0]
        if not Path(tool).is_absolute() and shutil.which(tool) is None:
            return f"{tool} is not installed"
        return None


def _java_command() -> tuple[str, ...]:
    target = HERE / "java" / "runner" / "target"
    classpath = target / "classpath.txt"
    libraries = classpath.read_text().strip() if classpath.exists() else ""
    return ("java", "-cp", f"{target / 'classes'}{os.pathsep}{libraries}", "io.iamodules.conformance.Runner")


PYTHON_RUNNER = (sys.executable, str(HERE / "python" / "runner.py"))
TYPESCRIPT_RUNNER = ("node", str(HERE / "typescript" / "dist" / "runner.js"))
TYPESCRIPT_BUILD = HERE / "typescript" / "dist" / "runner.js"
GO_BUILD = HERE / "go" / "bin" / "conformance"
RUNNERS = (
    Runner("python", PYTHON_RUNNER, None, ALL_SCENARIOS),
    Runner("rest", (*PYTHON_RUNNER, "--transport", "rest"), None, REST_SCENARIOS),
    Runner("go", (str(GO_BUILD),), GO_BUILD, ALL_SCENARIOS),
    Runner("typescript", TYPESCRIPT_RUNNER, TYPESCRIPT_BUILD, ALL_SCENARIOS),
    Runner("typescript-grpc-web", (*TYPESCRIPT_RUNNER, "--transport", "grpc-web"), TYPESCRIPT_BUILD, ALL_SCENARIOS),
    Runner("java", _java_command(), HERE / "java" / "runner" / "target" / "classpath.txt", ALL_SCENARIOS),
)

# Scenarios every runner must FAIL: an unknown step kind, and a wrong expectation.
META_SCENARIOS = {
    "version": 1,
    "pipelines": {},
    "scenarios": [
        {"name": "unsupported_kind", "rest": True, "steps": [{"kind": "teleport", "to": "mars"}]},
        {
            "name": "wrong_expectation",
            "rest": True,
            "steps": [
                {"kind": "get_pipeline", "name": "${ns}-missing", "expect_error": {"code": "NOT_FOUND", "reason": "NOT_THE_REASON"}}
            ],
        },
    ],
}


@dataclass
class Report:
    """What one runner printed: outcome by scenario, exit code, and its whole output."""

    outcomes: dict[str, dict]
    returncode: int
    output: str

    @property
    def closing_line(self) -> str:
        lines = self.output.splitlines()
        return lines[-1] if lines else ""


def _start(runner: Runner, endpoint: str, scenarios: Path) -> subprocess.Popen[str]:
    namespace = f"{runner.name}-{uuid.uuid4().hex[:8]}"
    return subprocess.Popen(
        runner.argv(endpoint, namespace, scenarios),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _report(process: subprocess.Popen[str], deadline: float) -> Report:
    try:
        output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return Report({}, -1, f"{output}\ntimed out after {RUNNER_TIMEOUT_S} s")
    outcomes = {}
    for line in output.splitlines():
        if line.startswith("{"):
            outcome = json.loads(line)
            outcomes[outcome["scenario"]] = outcome
    return Report(outcomes, process.returncode, output)


def _problems(runner: Runner, report: Report, meta: Report) -> list[str]:
    """Everything wrong with one runner's two reports, one line each."""
    problems = []
    for scenario in runner.scenarios:
        outcome = report.outcomes.get(scenario)
        if outcome is None:
            problems.append(f"{runner.name} / {scenario}: not reported; output:\n{report.output[-3000:]}")
        elif not outcome["passed"]:
            problems.append(f"{runner.name} / {scenario}: {outcome['error']}")
    extra = sorted(set(report.outcomes) - set(runner.scenarios))
    if extra:
        problems.append(f"{runner.name}: ran scenarios it should not: {extra}")
    passed = sum(outcome["passed"] for outcome in report.outcomes.values())
    failed = len(report.outcomes) - passed
    if report.returncode != (1 if failed else 0):
        problems.append(f"{runner.name}: exit code {report.returncode} with {failed} failed")
    if report.closing_line != f"{runner.name}: {passed} passed, {failed} failed":
        problems.append(f"{runner.name}: closing line {report.closing_line!r}")
    for scenario, must_mention in (("unsupported_kind", "teleport"), ("wrong_expectation", "NOT_THE_REASON")):
        outcome = meta.outcomes.get(scenario)
        if outcome is None or outcome["passed"] or must_mention not in outcome["error"]:
            problems.append(f"{runner.name}: did not fail {scenario} (mentioning {must_mention}): {outcome}")
    if meta.returncode != 1:
        problems.append(f"{runner.name}: exit code {meta.returncode} after failing scenarios")
    return problems


def test_every_runner_passes_every_scenario(endpoint: str, tmp_path: Path) -> None:
    """Every runner at once against one stack; the failure lists each problem.

    One test rather than one per runner and scenario: xdist might send tests of
    this module to both workers, and each would start a stack of its own.
    """
    meta = tmp_path / "meta_scenarios.json"
    meta.write_text(json.dumps(META_SCENARIOS))
    problems, left_out, started = [], [], {}
    for runner in RUNNERS:
        missing = runner.missing()
        if missing is not None:
            (problems if os.environ.get("CI") else left_out).append(f"{runner.name} cannot start: {missing}")
            continue
        started[runner] = (_start(runner, endpoint, SCENARIOS), _start(runner, endpoint, meta))
    deadline = time.monotonic() + RUNNER_TIMEOUT_S
    for runner, (scenarios, meta_scenarios) in started.items():
        report = _report(scenarios, deadline)
        problems += _problems(runner, report, _report(meta_scenarios, deadline))
        print(report.closing_line)
    print(*left_out, sep="\n")

    assert not problems, "\n".join(problems)
    assert {"python", "rest"} <= {runner.name for runner in started}
