"""`ia-modules debug`: run a pipeline under a step debugger, at an interactive prompt.

The run starts with breakpoints and mocks and pauses before a breakpoint's step,
with that step's input resolved. At the `(debug)` prompt:

  next / n            run the paused step, then pause before the next one
  continue / c        run on until the next breakpoint (or the end)
  inspect / i         the paused step's input, the outputs so far, the conditions
                      evaluated and why each fired or not
  set FIELD JSON      set a field of the paused step's input (`a.b` for nested);
                      the edit is sent with the next `next`/`continue`, and the
                      run records it
  quit / q            cancel the run and leave (Ctrl-D too)

Exit codes are those of `run`: 0 SUCCEEDED, 3 WAITING_FOR_INPUT, 1 otherwise.
"""

import contextlib
import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ia_modules.cli.console import CLIError, ExitCode, OutputFormat, connect, handles_errors, line, settings, stdout
from ia_modules.cli.run_view import RunProgress
from ia_modules.cli.runs import InputOption, SetOption, TargetArgument, exit_code, pipeline_target, report
from ia_modules.cli.sources import read_json_object, run_inputs
from ia_modules.cli.stack import DEFAULT_DATA_DIR, DataDirOption

if TYPE_CHECKING:
    from ia.executor.v1 import message_pb2, request_response_pb2
    from ia_modules.client import Client

_HELP = (
    "commands: next (n), continue (c), inspect (i), set FIELD JSON, quit (q)\n"
    "  set FIELD JSON  sets a field of the paused step's input before it runs, e.g. set limit 5"
)


def _breakpoints(specs: list[str]) -> list[tuple[str, str]]:
    """`STEP` or `STEP:CEL` as (step id, condition)."""
    points = []
    for spec in specs:
        step_id, _sep, condition = spec.partition(":")
        if not step_id.strip():
            raise CLIError(f"--break {spec!r}: name a step, as STEP or STEP:CONDITION")
        points.append((step_id.strip(), condition.strip()))
    return points


def _mocks(specs: list[str]) -> dict[str, Any]:
    """`STEP=file.json` pairs as step id -> the output read from the file."""
    mocks = {}
    for spec in specs:
        step_id, sep, path = spec.partition("=")
        if not sep or not step_id.strip() or not path.strip():
            raise CLIError(f"--mock {spec!r}: give STEP=FILE, a JSON file with the step's output")
        mocks[step_id.strip()] = read_json_object(Path(path.strip()))
    return mocks


def _set_path(value: Any, path: list[str], new: Any) -> Any:
    """``value`` with ``new`` at ``path`` (objects created on the way)."""
    if not path:
        return new
    result = copy.deepcopy(value) if isinstance(value, dict) else {}
    result[path[0]] = _set_path(result.get(path[0]), path[1:], new)
    return result


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class Session:
    """One debugged run at the prompt: what it shows and the edits not yet sent."""

    def __init__(self, client: "Client", run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.console = stdout()
        self.edits: dict[str, Any] = {}
        self.paused: list[message_pb2.PausedStep] = []
        self._progress = RunProgress(run_id)
        self._shown = 0  # the last event sequence shown

    def _follow(self) -> None:
        """Shows the run's new events until it pauses, waits for input or ends."""
        from ia.executor.v1 import message_pb2
        from ia_modules.client import FINAL_RUN_STATES

        stops = {message_pb2.RUN_STATE_PAUSED, message_pb2.RUN_STATE_WAITING_FOR_INPUT}
        with contextlib.closing(self.client.watch_run(self.run_id, from_sequence=self._shown)) as events:
            for event in events:
                self._shown = event.sequence
                text = self._progress.apply(event)
                if text is not None:
                    self.console.print(f"  {text}", style="dim", markup=False)
                if event.WhichOneof("kind") != "run_state_changed":
                    continue
                state = event.run_state_changed.state
                # A pause or a wait may already be over (another client went on): check.
                if state in FINAL_RUN_STATES or (state in stops and self.client.get_run(self.run_id).state == state):
                    return

    def settle(self) -> "message_pb2.Run":
        """Waits until the run pauses or stops, showing what happens, then where it is."""
        from ia.executor.v1 import message_pb2

        self._follow()
        run = self.client.get_run(self.run_id)
        self.edits = {}
        self.paused = []
        if run.state == message_pb2.RUN_STATE_PAUSED:
            self.paused = list(self.client.inspect_run(self.run_id).paused)
            for step in self.paused:
                where = f"{step.step_id} (iteration {step.iteration})"
                self.console.print(f"paused before {where}: {step.reason}", markup=False)
            if self.paused:
                self._print_input(self.paused[0])
        return run

    def _print_input(self, step: "message_pb2.PausedStep") -> None:
        from ia_modules.client import to_dict

        self.console.print(f"input of {step.step_id}:", style="bold", markup=False)
        self.console.print(_json(to_dict(step.input)), markup=False)

    def inspect(self) -> None:
        """Prints the paused steps' inputs, the outputs so far and each condition evaluated."""
        from ia_modules.client import to_dict

        inspection: request_response_pb2.InspectRunResponse = self.client.inspect_run(self.run_id)
        for step in inspection.paused:
            self._print_input(step)
        if self.edits:
            self.console.print("edits to send with the next step:", style="bold", markup=False)
            self.console.print(_json(self.edits), markup=False)
        self.console.print("outputs so far:", style="bold", markup=False)
        self.console.print(_json(to_dict(inspection.outputs)), markup=False)
        if inspection.conditions:
            self.console.print("conditions:", style="bold", markup=False)
        for condition in inspection.conditions:
            verdict = ("fired", "green") if condition.fired else ("not taken", "yellow")
            source, target = getattr(condition, "from"), condition.to
            self.console.print(line(f"  {source} -> {target}: ", verdict, f" ({condition.reason})"))
            values = to_dict(condition.values)
            if values:
                self.console.print(f"    values: {json.dumps(values, ensure_ascii=False)}", markup=False)

    def set(self, argument: str) -> None:
        """Records an edit of the paused step's input: `FIELD JSON`."""
        from ia_modules.client import to_dict

        field, _sep, text = argument.strip().partition(" ")
        if not field or not text.strip():
            self.console.print("usage: set FIELD JSON, e.g. set limit 5 or set user.name \"ada\"", markup=False)
            return
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            self.console.print(f"set {field}: the value is not JSON ({error.msg}); quote text: \"...\"", markup=False)
            return
        if not self.paused:
            self.console.print("no step is paused: nothing to edit", markup=False)
            return
        top, *rest = field.split(".")
        current = self.edits[top] if top in self.edits else to_dict(self.paused[0].input).get(top)
        self.edits[top] = _set_path(current, rest, value)
        self.console.print(f"{self.paused[0].step_id}.input.{field} = {json.dumps(value)} (sent with next/continue)")


def _prompt() -> str | None:
    try:
        return input("(debug) ")
    except EOFError:
        return None


def _loop(session: Session) -> "message_pb2.Run":
    """Reads commands until the run stops pausing or the user quits."""
    from ia.executor.v1 import message_pb2
    from ia_modules.errors import IAError

    run = session.settle()
    while run.state == message_pb2.RUN_STATE_PAUSED:
        text = _prompt()
        command, _sep, argument = (text or "quit").strip().partition(" ")
        try:
            if command in ("next", "n"):
                session.client.step_run(session.run_id, inputs=session.edits)
                run = session.settle()
            elif command in ("continue", "c"):
                session.client.resume_run(session.run_id, inputs=session.edits)
                run = session.settle()
            elif command in ("inspect", "i"):
                session.inspect()
            elif command == "set":
                session.set(argument)
            elif command in ("quit", "q", "exit"):
                run = session.client.cancel_run(session.run_id, reason="the debugger quit")
            elif command:
                session.console.print(_HELP, markup=False)
        except IAError as error:
            session.console.print(f"error: {error.message}", style="red", markup=False)
    return run


@handles_errors
def debug_command(
    target: TargetArgument,
    breaks: Annotated[
        list[str] | None,
        typer.Option(
            "--break",
            "-b",
            metavar="STEP[:CEL]",
            help="Pause before STEP (when the CEL condition over input, parameters and steps holds); repeatable.",
            show_default=False,
        ),
    ] = None,
    mocks: Annotated[
        list[str] | None,
        typer.Option(
            "--mock",
            "-m",
            metavar="STEP=FILE",
            help="Complete STEP with the JSON output in FILE instead of running it; repeatable.",
            show_default=False,
        ),
    ] = None,
    input_file: InputOption = None,
    assignments: SetOption = None,
    up: Annotated[
        bool, typer.Option("--up", help="Start the local stack first (as `ia-modules up`) unless it is already up.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Run a pipeline under the step debugger: pause at breakpoints, step, inspect, edit inputs.

    At the (debug) prompt: next, continue, inspect, set FIELD JSON, quit.
    Exits 0 when the run SUCCEEDED, 3 when it waits for input, and 1 otherwise.

    \b
    Examples:
      ia-modules debug pipeline.json --input data.json --break score
      ia-modules debug pipeline.json --break 'review:input.amount > 100' --mock fetch=fetched.json
      ia-modules debug pipeline.json --up --break score
    """
    points = _breakpoints(breaks or [])
    canned = _mocks(mocks or [])
    inputs = run_inputs(input_file, assignments or [])
    pipeline, revision = pipeline_target(target)
    if up:
        from ia_modules import stack

        try:
            settings.endpoint = stack.up(data_dir).endpoint
        except stack.StackError as error:
            raise CLIError(str(error)) from error
    with connect() as client:
        started = client.start_run(pipeline, revision=revision, inputs=inputs, breakpoints=points, mocks=canned)
        stdout().print(f"debugging run {started.run_id}; type help for the commands", markup=False)
        run = _loop(Session(client, started.run_id))
        report(client, run, OutputFormat.text)
        code = exit_code(run.state)
    if code is not ExitCode.OK:
        raise typer.Exit(code)
