"""The short load-and-fault run of `make test` (the long one is `make soak`): 64
clients through Envoy while the executor and the plugin host are killed with
SIGKILL and restarted, a plugin process is killed and telemetry is stopped; every
accepted run still ends SUCCEEDED with the right outputs.

About 80 s on an idle 2-core machine (most of it the restarts); the timeout is
only a guard against a hang, as a busy machine can take several times as long."""

from __future__ import annotations

import json

import pytest
from load_testing import fault_delays, load_with_faults, stack_figures, start_stack

from ia_modules import stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("load"), pytest.mark.timeout(600)]


@pytest.fixture
def load_stack(tmp_path):
    status = start_stack(tmp_path)
    yield tmp_path, status
    stack.down(tmp_path)


async def test_no_accepted_run_is_lost_when_services_are_killed_under_load(load_stack):
    data_dir, status = load_stack
    report, faults = await load_with_faults(data_dir, status.endpoint, clients=64, gap_s=4.0)
    summary = report.summary()
    print(json.dumps({"load": summary, "faults": fault_delays(report, faults)}, indent=2))
    assert summary["accepted"] > 64, summary
    assert not report.lost, [(r.run_id, r.state, r.correct) for r in report.lost[:10]]
    # Every service is up again and answering.
    assert stack.status(data_dir).healthy
    assert set(stack_figures(data_dir)) >= {"registry", "executor", "plugin_host", "telemetry"}
