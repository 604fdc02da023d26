"""clients: StartRun-and-wait from each language's SDK, through one real stack.

Latency of a whole 3-step run of `pass` steps (StartRun of a registered
pipeline, then the SDK's wait until the run ends), one run at a time, p50 and
p99, from the Python SDK (ia_modules.client), Go (sdk/go), TypeScript
(sdk/typescript over gRPC from Node) and Java (sdk/java). Each language is a
small timing program in bench/workers/clients/ that prints one JSON line.
Baseline: the Go program's bare unary round trip (grpc.health.v1 Check) through
the same Envoy, interleaved with its runs. Target: each language's p50 at most
5x that round trip, as for the grpc suite's whole runs.

The stack is started as `ia-modules up` starts it (every service and Envoy, on
free loopback ports, in a temporary data folder). The languages run one after
the other, so they do not compete for the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import progress
from pipelines import pass_chain
from results import Figure, NotMeasurable

ROOT = Path(__file__).resolve().parents[2]
WORKERS = Path(__file__).resolve().parent.parent / "workers" / "clients"
PIPELINE = "bench-clients-chain"
STEPS = 3
# Builds and whole measurements of one language; a slow first build fetches nothing.
COMMAND_TIMEOUT_S = 600


def run(quick: bool = False) -> dict:
    try:
        from ia_modules import stack
        from ia_modules.client import Client
    except ImportError as missing:
        raise NotMeasurable(f"the Python SDK or the stack is not available: {missing}") from None
    iterations, warmup = (40, 5) if quick else (200, 10)
    notes = []
    with tempfile.TemporaryDirectory(prefix="ia-bench-clients-") as folder:
        build = Path(folder) / "build"
        build.mkdir()
        programs, missing = _build(build)
        notes += missing
        if "go" not in programs:
            raise NotMeasurable(f"the Go program gives the baseline and could not be built: {missing}")
        data_dir = Path(folder) / "stack"
        data_dir.mkdir()
        ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
        status = stack.up(data_dir, ports=ports)
        try:
            endpoint = f"127.0.0.1:{status.services[stack.ENVOY].port}"
            progress(f"stack up, Envoy on {endpoint}")
            with Client(endpoint) as client:
                client.create_pipeline(pass_chain(STEPS, name=PIPELINE))
            measured = {}
            for language, command in programs.items():
                progress(f"{language}: {warmup} warm-up runs, then {iterations}")
                measured[language] = _measure(command, endpoint, iterations, warmup)
        finally:
            stack.down(data_dir)
    return {"figures": _figures(measured, iterations), "notes": notes + _notes(measured, quick)}


def _build(build: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Each language's timing command (endpoint and counts are added later), and
    one note for each language that could not be built."""
    programs, missing = {}, []
    programs["python"] = [sys.executable, str(WORKERS / "python" / "clients_bench.py")]
    for language, builder in (("go", _build_go), ("typescript", _build_typescript), ("java", _build_java)):
        try:
            programs[language] = builder(build)
        except _Unbuildable as reason:
            missing.append(f"{language} not measured: {reason}")
            progress(f"{language} not measured: {reason}")
    return programs, missing


class _Unbuildable(Exception):
    """A language's timing program cannot be built or started here."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise _Unbuildable(f"{name} is not installed")
    return path


def _check(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if done.returncode != 0:
        command = " ".join([Path(argv[0]).name, *argv[1:3]])
        raise _Unbuildable(f"`{command}` failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout


def _build_go(build: Path) -> list[str]:
    go = _tool("go")
    binary = build / "clients-bench-go"
    # Offline: every module is already in the cache from building sdk/go.
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off")
    _check([go, "build", "-o", str(binary), "."], WORKERS / "go", env)
    return [str(binary)]


def _build_typescript(build: Path) -> list[str]:
    node = _tool("node")
    sdk = ROOT / "sdk" / "typescript" / "dist" / "src" / "node.js"
    if not sdk.exists():
        raise _Unbuildable("sdk/typescript/dist is not built: run `scripts/gen_clients.sh typescript`")
    return [node, str(WORKERS / "typescript" / "clients_bench.mjs")]


def _build_java(build: Path) -> list[str]:
    java, javac, mvn = _tool("java"), _tool("javac"), _tool("mvn")
    sdk = ROOT / "sdk" / "java"
    jars = sorted((sdk / "target").glob("ia-modules-sdk-*.jar"))
    if not jars:
        raise _Unbuildable("sdk/java/target holds no SDK jar: run `scripts/gen_clients.sh java`")
    classpath_file = build / "java-classpath.txt"
    _check([mvn, "-q", "-o", "dependency:build-classpath", f"-Dmdep.outputFile={classpath_file}",
            "-Dmdep.includeScope=runtime"], sdk)
    classpath = os.pathsep.join([str(jars[-1]), classpath_file.read_text().strip()])
    classes = build / "java-classes"
    _check([javac, "-d", str(classes), "-cp", classpath, str(WORKERS / "java" / "ClientsBench.java")], build)
    return [java, "-cp", os.pathsep.join([str(classes), classpath]), "ClientsBench"]


def _measure(command: list[str], endpoint: str, iterations: int, warmup: int) -> dict:
    argv = [*command, "--endpoint", endpoint, "--pipeline", PIPELINE,
            "--iterations", str(iterations), "--warmup", str(warmup)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{Path(command[-1]).name} exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-1000:]}")
    return json.loads(lines[-1])


def _figures(measured: dict[str, dict], iterations: int) -> list[Figure]:
    bare_p50, bare_p99 = measured["go"]["bare_p50_ms"], measured["go"]["bare_p99_ms"]
    figures = []
    for language, numbers in measured.items():
        figures.append(Figure(f"{language} SDK: {STEPS}-step run, StartRun + wait, p50", "ms",
                              numbers["p50_ms"], bare_p50, "Go bare unary round trip p50",
                              target_kind="ratio", target=5, samples=numbers["samples"]))
        figures.append(Figure(f"{language} SDK: {STEPS}-step run, StartRun + wait, p99", "ms",
                              numbers["p99_ms"], bare_p99, "Go bare unary round trip p99",
                              samples=numbers["samples"]))
    figures.append(Figure("failed runs (all languages)", "runs",
                          sum(n["failed"] for n in measured.values()), target_kind="value", target=1,
                          samples=iterations * len(measured)))
    return figures


def _notes(measured: dict[str, dict], quick: bool) -> list[str]:
    notes = [
        "each SDK runs in its own process, one language after the other, against the same "
        "stack through Envoy; the baseline is grpc.health.v1 Check from the Go program, "
        "answered by the registry behind Envoy"
    ]
    if quick:
        notes.append(f"quick mode: {next(iter(measured.values()))['samples']} runs per language")
    return notes
