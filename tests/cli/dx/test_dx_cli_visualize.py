"""`visualize`: DOT, Mermaid, JSON, real PNG/SVG files, registered pipelines, and a run's path."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from dx_cli_support import FULL, GOLDEN, invoke

from ia_modules import Client

BRANCHES = {
    "name": "branches",
    "steps": [
        {"id": "check", "type": "pass", "inputs": {"ok": "{{ parameters.ok }}"}},
        {"id": "yes", "type": "pass"},
        {"id": "no", "type": "pass"},
    ],
    "parameters": {"ok": True},
    "flow": {
        "transitions": [
            {"from": "check", "to": "yes", "condition": {"type": "cel", "expr": "result.ok"}},
            {"from": "check", "to": "no", "condition": {"type": "cel", "expr": "!result.ok"}},
        ]
    },
}


def test_dot_on_stdout_matches_the_golden_file(runner):
    result = invoke(runner, "visualize", FULL)
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "visualize" / "canonical_full.dot").read_text()


def test_the_extension_picks_the_format(runner, tmp_path):
    for name in ("d.dot", "d.mmd", "d.json", "d.svg", "d.png"):
        result = invoke(runner, "visualize", FULL, "--output", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert result.stderr.startswith(f"wrote {tmp_path / name} (")
    assert (tmp_path / "d.dot").read_text() == (GOLDEN / "visualize" / "canonical_full.dot").read_text()
    assert (tmp_path / "d.mmd").read_text() == (GOLDEN / "visualize" / "canonical_full.mmd").read_text()
    assert len(json.loads((tmp_path / "d.json").read_text())["nodes"]) == 8
    png = (tmp_path / "d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert 300 < width < 4000 and 300 < height < 4000
    svg = ElementTree.parse(tmp_path / "d.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


def test_format_option_on_stdout(runner):
    mermaid = invoke(runner, "visualize", FULL, "--format", "mermaid")
    assert mermaid.stdout == (GOLDEN / "visualize" / "canonical_full.mmd").read_text()
    document = json.loads(invoke(runner, "visualize", FULL, "-f", "json").stdout)
    assert document["name"] == "research-digest" and document["run"] is False
    svg = invoke(runner, "visualize", FULL, "--format", "svg")
    assert svg.stdout_bytes.lstrip().startswith(b"<?xml")


def test_an_unknown_extension_is_a_usage_error(runner, tmp_path):
    result = invoke(runner, "visualize", FULL, "--output", tmp_path / "d.gif")
    assert result.exit_code == 2
    assert "cannot tell the format from '.gif'" in result.stderr
    folder = invoke(runner, "visualize", FULL, "--output", tmp_path, "--format", "svg")
    assert folder.exit_code == 1 and folder.stderr.startswith(f"error: {tmp_path}: is a directory")


def test_a_registered_pipeline_by_name_and_revision(runner, endpoint):
    with Client() as client:
        client.create_pipeline(BRANCHES)
    result = invoke(runner, "visualize", "branches@1")
    assert result.exit_code == 0, result.output
    assert '"check" -> "yes" [label="result.ok"' in result.stdout
    missing = invoke(runner, "visualize", "nothing-here")
    assert missing.exit_code == 1
    assert missing.stderr == "error: NOT_FOUND: pipeline `nothing-here` does not exist [PIPELINE_NOT_FOUND]\n"


def test_a_run_colours_the_steps_and_the_path_it_took(runner, tmp_path, executor_endpoint):
    path = tmp_path / "branches.json"
    path.write_text(json.dumps(BRANCHES))
    run = json.loads(invoke(runner, "run", path, "--no-watch", "--format", "json").stdout)
    assert run["state"] == "SUCCEEDED"
    result = invoke(runner, "visualize", path, "--run", run["run_id"])
    assert result.exit_code == 0, result.output
    dot = result.stdout
    assert '"yes" [label="yes\\npass\\nSUCCEEDED", shape=box, style="filled,rounded", fillcolor="#b7e1cd"]' in dot
    assert '"no" [label="no\\npass\\nSKIPPED", shape=box, style="filled,rounded,dashed", fillcolor="#eeeeee"' in dot
    assert '"check" -> "yes" [label="result.ok", color="#00695c", style=solid, penwidth=2.5]' in dot
    assert '"check" -> "no" [label="!result.ok", fontcolor="#999999", color="#bbbbbb", style=dotted]' in dot
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(BRANCHES, name="other")))
    noted = invoke(runner, "visualize", other, "--run", run["run_id"], "--output", tmp_path / "run.svg")
    assert noted.exit_code == 0
    assert f"note: run {run['run_id']} is of pipeline 'branches', not 'other'" in noted.stderr
    unknown = invoke(runner, "visualize", path, "--run", "no-such-run")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: NOT_FOUND: ")
    assert Path(tmp_path / "run.svg").read_bytes().lstrip().startswith(b"<?xml")
