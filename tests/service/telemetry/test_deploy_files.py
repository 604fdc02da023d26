"""The Grafana dashboard and the Prometheus files: complete, well formed, and accepted
by promtool. (Whether their queries name exported metrics is checked against a live
stack in tests/e2e/telemetry.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "ia-modules.json"


@pytest.fixture(scope="module")
def promtool() -> str:
    """The promtool that `make tools` installs into .tools/bin, else one on PATH."""
    installed = ROOT / ".tools" / "bin" / "promtool"
    found = str(installed) if installed.is_file() else shutil.which("promtool")
    if found is None:
        # `make test` installs it, so under CI a missing promtool is a failure.
        (pytest.fail if os.environ.get("CI") else pytest.skip)("promtool is not installed; `make tools` installs it")
    return found


def test_the_dashboard_has_at_least_11_panels_each_with_a_query() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]

    assert len(panels) >= 11
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["targets"] and all(t["expr"].strip() for t in p["targets"]) for p in panels)
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "pipeline", "job"}


def test_there_are_at_least_10_alert_rules_each_with_a_severity_and_summary() -> None:
    rules = [
        rule for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for rule in group["rules"]
    ]

    assert len(rules) >= 10
    assert len({r["alert"] for r in rules}) == len(rules)
    assert all(
        r["labels"]["severity"] in {"critical", "warning", "info"} and r["annotations"]["summary"] for r in rules
    )


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(PROMETHEUS / "alerts.yml")], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_scrape_configuration(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr
