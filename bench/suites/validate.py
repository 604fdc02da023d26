"""validate: how fast a definition is checked, in process and as a command.

- In process: `load_definition` + `validate` of a generated 200-step pipeline
  that uses most of the definition model. Target: median under 100 ms. Shown
  next to `json.loads` of the same text, the least any loader must do.
- Whole commands: `ia-modules validate FILE` and `ia-modules --help`, each run
  as a fresh process, next to `python -c pass` on the same interpreter, taking
  turns. Target: median no more than 0.25 s above `python -c pass`. Bytecode
  caching is on for these (a warm-up round fills the cache), as for a user.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

from measure import command_timings, median, per_item_timings, progress
from pipelines import mixed_pipeline
from results import Figure, NotMeasurable

IN_PROCESS_STEPS = 200
COMMAND_STEPS = 20


def run(quick: bool = False) -> dict:
    have_definition = importlib.util.find_spec("ia_modules.definition") is not None
    have_cli = importlib.util.find_spec("ia_modules.cli.main") is not None
    if not (have_definition or have_cli):
        raise NotMeasurable("neither ia_modules.definition nor the ia-modules CLI exists yet")
    figures, notes = [], []
    if have_definition:
        figures += _in_process(repeats=15 if quick else 60)
    else:
        notes.append("in-process validation not measured: ia_modules.definition is missing")
    if have_cli:
        figures += _commands(repeats=3 if quick else 15)
    else:
        notes.append("whole commands not measured: ia_modules.cli.main is missing")
    return {"figures": figures, "notes": notes}


def _in_process(repeats: int) -> list[Figure]:
    from ia_modules.definition import Severity, load_definition, validate

    text = json.dumps(mixed_pipeline(IN_PROCESS_STEPS), indent=2)
    loaded = load_definition(text, source_name="bench.json")
    errors = [
        f"{f.path}: {f.message}"
        for f in [*loaded.findings, *(validate(loaded.pipeline) if loaded.pipeline else [])]
        if f.severity is Severity.ERROR
    ]
    if loaded.pipeline is None or errors:
        raise RuntimeError(
            "the generated benchmark pipeline does not validate:\n" + "\n".join(errors[:20])
        )
    step_count = len(loaded.pipeline.steps)
    progress(f"in process: load + validate a {step_count}-step definition, {repeats} times")

    def load_and_validate() -> None:
        validate(load_definition(text, source_name="bench.json").pipeline)

    both, load_only, validate_only, parse_only = [], [], [], []
    for _ in range(repeats):
        # One of each per round, so that all four see the same machine state.
        both += per_item_timings(load_and_validate, 1, 1)
        load_only += per_item_timings(lambda: load_definition(text, source_name="bench.json"),
                                      1, 1)
        validate_only += per_item_timings(lambda: validate(loaded.pipeline), 1, 1)
        parse_only += per_item_timings(lambda: json.loads(text), 1, 1)
    ms = 1000.0
    parse = median(parse_only) * ms
    name = f"{step_count}-step definition"
    return [
        Figure(f"load_definition + validate, {name}", "ms", median(both) * ms,
               parse, "json.loads of the same text", target_kind="value", target=100,
               samples=repeats),
        Figure(f"load_definition alone, {name}", "ms", median(load_only) * ms,
               parse, "json.loads of the same text", samples=repeats),
        Figure(f"validate alone, {name}", "ms", median(validate_only) * ms,
               samples=repeats),
    ]


def _commands(repeats: int) -> list[Figure]:
    bin_dir = Path(sys.executable).parent
    cli = bin_dir / "ia-modules"
    if not cli.exists():
        raise RuntimeError(f"the ia-modules command is not installed in {bin_dir}; run `make sync`")
    with tempfile.TemporaryDirectory(prefix="ia-bench-") as folder:
        definition = Path(folder) / "pipeline.json"
        document = mixed_pipeline(COMMAND_STEPS)
        definition.write_text(json.dumps(document, indent=2))
        # As on a user's machine after the first run: bytecode is cached (the
        # warm-up round writes it, into a folder of our own, not the tree).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        progress(f"whole commands: {repeats} rounds of python -c pass, --help, validate")
        timings = command_timings(
            {
                "python": [sys.executable, "-c", "pass"],
                "help": [str(cli), "--help"],
                "validate": [str(cli), "validate", str(definition)],
            },
            repeats=repeats,
            env=env,
        )
    baseline = median(timings["python"])
    return [
        Figure(f"`ia-modules validate FILE` ({len(document['steps'])}-step file), whole command",
               "s",
               median(timings["validate"]), baseline, "python -c pass",
               target_kind="difference", target=0.25, samples=repeats),
        Figure("`ia-modules --help`, whole command", "s", median(timings["help"]), baseline,
               "python -c pass", target_kind="difference", target=0.25, samples=repeats),
    ]
