"""The pipelines the suites measure, generated as canonical JSON dicts.

Standard library only: workers in the baseline environments import it too.
"""

from __future__ import annotations


def step_id(index: int) -> str:
    return f"s{index:03d}"


def pass_chain(steps: int, name: str = "bench-chain") -> dict:
    """A linear pipeline of built-in `pass` steps that hand a counter along.

    Each step reads the previous step's output through a template, the way a
    real pipeline moves data, so the engine resolves one reference per step.
    """
    pipeline_steps = [
        {"id": step_id(0), "type": "pass", "inputs": {"count": "{{ parameters.count }}"}}
    ]
    for i in range(1, steps):
        pipeline_steps.append(
            {
                "id": step_id(i),
                "type": "pass",
                "inputs": {"count": f"{{{{ steps.{step_id(i - 1)}.output.count }}}}"},
            }
        )
    return {
        "name": name,
        "version": "1.0",
        "parameters": {"count": 0},
        "steps": pipeline_steps,
        "flow": {
            "start_at": step_id(0),
            "transitions": [
                {"from": step_id(i - 1), "to": step_id(i)} for i in range(1, steps)
            ],
        },
        "outputs": {"count": f"{{{{ steps.{step_id(steps - 1)}.output.count }}}}"},
    }


def mixed_pipeline(steps: int, name: str = "bench-mixed") -> dict:
    """A valid pipeline of about `steps` steps that uses most of the definition model.

    A main chain of `pass` and plugin steps with templates; every tenth step
    forks on a condition (alternating expression and CEL) into a one-step
    detour that joins the chain again; declared parameters, outputs, retry
    policies and a pipeline-level error policy.
    """
    chain = steps
    while chain > 1 and chain + len(_forks(chain)) > steps:
        chain -= 1
    forks = _forks(chain)
    pipeline_steps, transitions = [], []
    for i in range(chain):
        sid = step_id(i)
        previous = step_id(i - 1) if i else None
        step = _plugin_step(sid, previous) if i % 3 == 2 else _pass_step(sid, previous)
        pipeline_steps.append(step)
        if previous is None:
            continue
        if i not in forks:
            transitions.append({"from": previous, "to": sid})
            continue
        # `previous` forks: the chain goes on to `sid` when a condition holds,
        # otherwise through a detour that rejoins at the step after `sid`.
        detour = f"d{i - 1:03d}"
        pipeline_steps.append(
            {"id": detour, "type": "pass", "inputs": {"count": f"{{{{ {previous}.count }}}}"}}
        )
        if (i - 1) % 20 == 0:
            condition, opposite = (
                {"type": "expression",
                 "config": {"source": f"{previous}.count", "operator": op, "value": 0}}
                for op in ("gte", "lt")
            )
        else:
            condition = {"type": "cel", "expr": "result.count >= 0 && parameters.topic != ''"}
            opposite = {"type": "cel", "expr": "!(result.count >= 0)"}
        transitions += [
            {"from": previous, "to": sid, "condition": condition},
            {"from": previous, "to": detour, "condition": opposite},
            {"from": detour, "to": step_id(i + 1)},
        ]
    return {
        "name": name,
        "version": "1.0",
        "description": f"A generated pipeline of {len(pipeline_steps)} steps.",
        "parameters": {"start": 0, "topic": "ai", "base_url": "http://localhost:9"},
        "parameter_specs": [
            {"name": "start", "schema": {"type": "integer", "minimum": 0}},
            {"name": "topic", "required": True, "schema": {"type": "string"}},
        ],
        "steps": pipeline_steps,
        "flow": {"start_at": step_id(0), "transitions": transitions},
        "error_handling": {"timeout_s": 600, "retry": {"max_attempts": 2}},
        "outputs": {"count": f"{{{{ steps.{step_id(chain - 1)}.output.count }}}}"},
    }


def _forks(chain: int) -> set[int]:
    """Main-chain indices whose incoming edge is conditional, with a detour beside it."""
    return {i for i in range(1, chain - 1) if (i - 1) % 10 == 0}


def _pass_step(sid: str, previous: str | None) -> dict:
    source = (
        "{{ parameters.start }}" if previous is None else f"{{{{ steps.{previous}.output.count }}}}"
    )
    return {
        "id": sid,
        "type": "pass",
        "config": {"values": {"label": f"step {sid}"}},
        "inputs": {"count": source, "topic": "{{ parameters.topic }}"},
    }


def _plugin_step(sid: str, previous: str) -> dict:
    return {
        "id": sid,
        "plugin": "http_request",
        "config": {"method": "GET", "timeout_s": 5},
        "inputs": {
            "url": "{{ parameters.base_url }}/items/{{ " + f"{previous}.count" + " }}",
            "headers": {"x-run": "{{ run.run_id }}"},
        },
        "retry": {"max_attempts": 3, "initial_delay_s": 0.1, "backoff_multiplier": 2},
        "timeout_s": 10,
    }


def fan_out_join(name: str = "bench-fan-out") -> dict:
    """`start` fans out to three `pass` steps, `a`, `b` and `c`, which a `join` step waits for."""
    branches = ("a", "b", "c")
    return {
        "name": name,
        "version": "1.0",
        "parameters": {"count": 0},
        "steps": [
            {"id": "start", "type": "pass", "inputs": {"count": "{{ parameters.count }}"}},
            *(
                {"id": b, "type": "pass", "inputs": {"count": "{{ steps.start.output.count }}"}}
                for b in branches
            ),
            {
                "id": "join",
                "type": "pass",
                "inputs": {b: f"{{{{ steps.{b}.output.count }}}}" for b in branches},
            },
        ],
        "flow": {
            "start_at": "start",
            "transitions": [{"from": "start", "to": b} for b in branches]
            + [{"from": b, "to": "join"} for b in branches],
        },
        "outputs": {"a": "{{ steps.join.output.a }}"},
    }
