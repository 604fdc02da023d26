"""engine: what our engine costs per step, in process, against LangGraph and the
original single-process library.

A 100-step linear pipeline. Our steps are built-in `pass` steps that the engine
computes itself; the baselines' steps each add 1 to a counter.

- ours and LangGraph run in one process (the `langgraph` environment holds both),
  taking turns: workers/engine_inprocess.py. Target: ours/LangGraph <= 0.1.
- the original library (PyPI ia-modules 0.2.0) shares our import name, so it runs
  in its own environment and process right after: workers/original_library.py,
  with its telemetry on (its default) and off. Target: ours/original-with-
  telemetry <= 1.
- reference: one asyncio task created and awaited, the floor for any engine that
  gives each step a task.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from environments import LANGGRAPH, ORIGINAL_LIBRARY
from measure import median, progress
from results import Figure, NotMeasurable

WORKERS = Path(__file__).resolve().parent.parent / "workers"
STEPS = 100


def run(quick: bool = False) -> dict:
    langgraph_python = LANGGRAPH.ensure()
    original_python = ORIGINAL_LIBRARY.ensure()
    rounds = 8 if quick else 30

    def original_half() -> dict:
        return _worker(original_python, "original_library.py", "--steps", str(STEPS),
                       "--runs-per-batch", "10", "--batches", str(rounds // 2))

    # The original library runs half before and half after the in-process pair,
    # so that a slow spell of the machine cannot favour one side.
    progress(f"original library, {STEPS} steps, telemetry on and off (first half)")
    first = original_half()
    progress(f"ours and LangGraph, {STEPS} steps, {rounds} rounds (LangGraph imports slowly)")
    together = _worker(langgraph_python, "engine_inprocess.py",
                       "--steps", str(STEPS), "--rounds", str(rounds))
    progress("original library (second half)")
    second = original_half()
    if "ours" not in together:
        raise NotMeasurable(together.get("ours_missing", "our engine did not run"))

    us = 1e6
    with_telemetry = first["with_telemetry"] + second["with_telemetry"]
    without_telemetry = first["without_telemetry"] + second["without_telemetry"]
    ours = median(together["ours"]) * us
    per_step = f"overhead per step, {STEPS}-step linear run"
    figures = [
        Figure(f"{per_step}, vs LangGraph", "µs", ours, median(together["langgraph"]) * us,
               "LangGraph StateGraph", target_kind="ratio", target=0.1,
               samples=len(together["ours"])),
        Figure(f"{per_step}, vs original library", "µs", ours, median(with_telemetry) * us,
               "ia-modules 0.2.0, telemetry on", target_kind="ratio", target=1,
               samples=len(with_telemetry)),
        Figure(f"{per_step}, vs original library without telemetry", "µs", ours,
               median(without_telemetry) * us, "ia-modules 0.2.0, telemetry off",
               samples=len(without_telemetry)),
        Figure("asyncio task, create + await (reference)", "µs",
               median(together["asyncio_task"]) * us, samples=len(together["asyncio_task"])),
        Figure(f"build once: compile_plan of the {STEPS}-step definition", "ms",
               together["build"]["ours"] * 1e3, together["build"]["langgraph"] * 1e3,
               "LangGraph StateGraph build + compile"),
    ]
    notes = [
        "ours: a new Scheduler per run fed Start; the run ends inside that call, its "
        "events returned, not persisted. LangGraph: app.invoke, no checkpointer. "
        "Original: a prebuilt Pipeline, pipeline.run per run (its default in-memory "
        "telemetry on, or off)."
    ]
    return {"figures": figures, "notes": notes}


def _worker(python: Path, script: str, *args: str) -> dict:
    """Run a worker in a baseline environment; its stdout is one JSON document."""
    done = subprocess.run([str(python), str(WORKERS / script), *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)
