"""`dry-run` without a stack: the local engine's path, the branches not taken and why, the data."""

from __future__ import annotations

import json
from pathlib import Path

from dx_cli_support import invoke

IF_ELSE = {
    "name": "orders",
    "parameters": {"threshold": 100},
    "parameter_specs": [{"name": "amount", "required": True, "schema": {"type": "number"}}],
    "steps": [
        {"id": "check", "type": "pass", "inputs": {"amount": "{{ parameters.amount }}"}},
        {"id": "review", "type": "pass", "config": {"values": {"decision": "review"}}},
        {"id": "approve", "type": "pass", "config": {"values": {"decision": "approve"}}},
    ],
    "flow": {
        "transitions": [
            {
                "from": "check",
                "to": "review",
                "condition": {
                    "type": "expression",
                    "config": {"source": "result.amount", "operator": ">=", "value": "{{ parameters.threshold }}"},
                },
            },
            {
                "from": "check",
                "to": "approve",
                "condition": {"type": "cel", "expr": "result.amount < parameters.threshold"},
            },
        ]
    },
}
LOOP = {
    "name": "poll",
    "steps": [
        {"id": "poll", "plugin": "job_status"},
        {"id": "pause", "type": "wait", "wait": {"seconds": 30}},
    ],
    "flow": {
        "transitions": [
            {"from": "poll", "to": "pause", "condition": {"type": "cel", "expr": "result.state != 'done'"}},
            {"from": "pause", "to": "poll", "max_iterations": 2},
        ]
    },
}
PARALLEL = {
    "name": "fan",
    "steps": [
        {"id": "start", "type": "pass"},
        {"id": "left", "type": "pass", "config": {"values": {"l": 1}}},
        {"id": "right", "type": "pass", "config": {"values": {"r": 2}}},
        {"id": "join", "type": "pass", "inputs": {"l": "{{ left.l }}", "r": "{{ right.r }}"}},
    ],
    "flow": {
        "transitions": [
            {"from": "start", "to": "left"},
            {"from": "start", "to": "right"},
            {"from": "left", "to": "join"},
            {"from": "right", "to": "join"},
        ]
    },
    "outputs": {"sum": "{{ join }}"},
}


def _write(folder: Path, name: str, document: dict) -> str:
    path = folder / name
    path.write_text(json.dumps(document, indent=2))
    return str(path)


def test_if_else_shows_the_path_and_why_the_other_branch_was_not_taken(runner, tmp_path, no_stack):
    path = _write(tmp_path, "orders.json", IF_ELSE)
    result = invoke(runner, "dry-run", path, "--set", "amount=250", "--show-data")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"no stack answers at {no_stack}; dry-running with the local engine instead\n"
    lines = result.stdout.splitlines()
    assert lines[:8] == [
        "dry run: SUCCEEDED",
        "path taken:",
        "  1. check SUCCEEDED",
        '       input:  {"amount": 250}',
        '       output: {"amount": 250}',
        "  2. review SUCCEEDED",
        '       input:  {"threshold": 100, "amount": 250}',
        '       output: {"decision": "review", "threshold": 100, "amount": 250}',
    ]
    assert "  3. approve SKIPPED" in lines
    assert (
        "  check -> approve: result.amount < parameters.threshold was false"
        " (where result.amount = 250, parameters.threshold = 100)"
    ) in lines


def test_the_other_branch_resolves_the_template_it_compared_with(runner, tmp_path, no_stack):
    path = _write(tmp_path, "orders.json", IF_ELSE)
    result = invoke(runner, "dry-run", path, "--set", "amount=5", "--set", "threshold=10", "--local")
    assert result.stderr == ""
    assert (
        '  check -> review: result.amount >= "{{ parameters.threshold }}" was false (result.amount = 5)'
        " (where parameters.threshold = 10)"
    ) in result.stdout.splitlines()


def test_a_loop_shows_every_iteration_with_mocks(runner, tmp_path, no_stack):
    path = _write(tmp_path, "poll.json", LOOP)
    mocks = _write(tmp_path, "mocks.json", {"poll": {"state": "running"}})
    result = invoke(runner, "dry-run", path, "--mock", mocks, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(s["id"], s["iteration"]) for s in document["steps"]] == [
        ("poll", 0),
        ("pause", 0),
        ("poll", 1),
        ("pause", 1),
        ("poll", 2),
        ("pause", 2),
    ]
    assert document["not_taken"] == [
        {"from": "pause", "to": "poll", "reason": "its max_iterations (2) was reached", "values": {}}
    ]


def test_parallel_branches_join(runner, tmp_path, no_stack):
    path = _write(tmp_path, "fan.json", PARALLEL)
    document = json.loads(invoke(runner, "dry-run", path, "--local", "--format", "json").stdout)
    assert [s["id"] for s in document["steps"]] == ["start", "left", "right", "join"]
    assert document["outputs"] == {"sum": {"l": 1, "r": 2}}


def test_a_required_parameter_the_inputs_miss_is_a_dry_run_error(runner, tmp_path, no_stack):
    path = _write(tmp_path, "orders.json", IF_ELSE)
    inputs = _write(tmp_path, "input.json", {"threshold": 5})
    result = invoke(runner, "dry-run", path, "--input", inputs, "--local")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {path}: the inputs do not fit the pipeline's parameters: inputs.amount: required parameter is "
        "missing; give them with --input FILE or --set amount=VALUE\n"
    )


def test_a_run_that_fails_exits_1_and_says_why(runner, tmp_path, no_stack):
    fetch = {"id": "fetch", "plugin": "http", "outputs": [{"name": "status", "required": True}]}
    definition = {"name": "f", "steps": [fetch]}
    path = _write(tmp_path, "f.json", definition)
    mocks = _write(tmp_path, "mocks.json", {"fetsh": {}})
    result = invoke(runner, "dry-run", path, "--mock", mocks, "--local")
    assert result.exit_code == 1
    assert "warning: the mocks name step `fetsh`, which the pipeline does not have (did you mean `fetch`?)" in (
        result.stderr
    )
    assert "error: OUTPUT_MISSING: required output missing: status" in result.stdout


def test_an_invalid_definition_is_refused_with_its_line(runner, tmp_path, no_stack):
    broken = dict(IF_ELSE, outputs={"x": "{{ nope.y }}"})
    path = _write(tmp_path, "broken.json", broken)
    line = next(n for n, text in enumerate(Path(path).read_text().splitlines(), start=1) if "nope.y" in text)
    result = invoke(runner, "dry-run", path, "--set", "amount=1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {path}:{line}: UNKNOWN_STEP outputs.x: `{{{{ nope.y }}}}` refers to step `nope`, "
        f"which does not exist; see `ia-modules validate {path}`"
    )


def test_a_registered_pipeline_needs_the_stack(runner, no_stack):
    result = invoke(runner, "dry-run", "orders@2")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: 'orders@2' is a registered pipeline, which only the stack can read, and no stack answers at "
        f"{no_stack}; dry-run the definition file instead\n"
    )
