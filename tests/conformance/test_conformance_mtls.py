"""The clients over mutual TLS: a stack of its own started with IA_TLS_CERT,
IA_TLS_KEY and IA_TLS_CA (every service and Envoy serve TLS and require a client
certificate), and each gRPC runner (Python, Go, TypeScript over Node, Java) given
only IA_TLS_CA, IA_TLS_CERT and IA_TLS_KEY, as a user would configure it, running a
slice of the scenarios: a run to success and the debugger.

gRPC-Web and REST are left out: a browser presents no client certificate of the
SDK's choosing, and the REST driver is plain urllib.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_conformance as conformance

from ia_modules import stack
from ia_modules.certificates import DevCertificates, write_dev_certificates

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("conformance-mtls"), pytest.mark.timeout(420)]

SLICE = ("run_to_success", "debugger")
RUNNERS = tuple(r for r in conformance.RUNNERS if r.name in {"python", "go", "typescript", "java"})


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return write_dev_certificates(tmp_path_factory.mktemp("tls"))


def _server_environment(files: DevCertificates) -> dict[str, str]:
    return {"IA_TLS_CERT": str(files.server_cert), "IA_TLS_KEY": str(files.server_key), "IA_TLS_CA": str(files.ca_cert)}


@pytest.fixture(scope="module")
def mtls_endpoint(tmp_path_factory: pytest.TempPathFactory, certificates: DevCertificates) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("conformance-mtls")
    ports = {name: 0 for name in (stack.ENVOY, stack.ENVOY_ADMIN, *(s.name for s in stack.SERVICES))}
    # The services inherit the variables; the health checks of up and down use them too.
    with pytest.MonkeyPatch.context() as environment:
        for name, value in _server_environment(certificates).items():
            environment.setenv(name, value)
        status = stack.up(data_dir, ports=ports)
    try:
        yield f"127.0.0.1:{status.services[stack.ENVOY].port}"
    finally:
        with pytest.MonkeyPatch.context() as environment:
            for name, value in _server_environment(certificates).items():
                environment.setenv(name, value)
            stack.down(data_dir)


def test_every_grpc_runner_speaks_mutual_tls_from_the_environment(
    mtls_endpoint: str, certificates: DevCertificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = dict(conformance.DOCUMENT, scenarios=[s for s in conformance.DOCUMENT["scenarios"] if s["name"] in SLICE])
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(json.dumps(document))
    monkeypatch.setenv("IA_TLS_CA", str(certificates.ca_cert))
    monkeypatch.setenv("IA_TLS_CERT", str(certificates.client_cert))
    monkeypatch.setenv("IA_TLS_KEY", str(certificates.client_key))
    problems, left_out, started = [], [], {}
    for runner in RUNNERS:
        missing = runner.missing()
        if missing is not None:
            (problems if os.environ.get("CI") else left_out).append(f"{runner.name} cannot start: {missing}")
            continue
        started[runner] = conformance._start(runner, mtls_endpoint, scenarios)
    deadline = time.monotonic() + conformance.RUNNER_TIMEOUT_S
    for runner, process in started.items():
        report = conformance._report(process, deadline)
        for name in SLICE:
            outcome = report.outcomes.get(name)
            if outcome is None or not outcome["passed"]:
                problems.append(f"{runner.name} / {name}: {outcome['error'] if outcome else report.output[-3000:]}")
        print(report.closing_line)
    print(*left_out, sep="\n")

    assert not problems, "\n".join(problems)
    assert "python" in {runner.name for runner in started}
