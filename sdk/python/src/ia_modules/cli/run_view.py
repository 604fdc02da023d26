"""What people see while a run goes on: the state of each step, from its events.

On a terminal this is a live Rich table; elsewhere (CI logs, pipes) one line per
event. Either way it goes to stderr, so stdout keeps only the final result.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ia_modules.cli.console import Listing, line, stderr, styled
from ia_modules.cli.documents import run_state, step_state

if TYPE_CHECKING:
    from ia.executor.v1 import message_pb2
    from ia_modules.client import Client


@dataclass
class StepRow:
    """One execution of one step, as the view shows it."""

    step_id: str
    iteration: int
    state: str = "PENDING"
    attempt: int = 0
    note: str = ""


class RunProgress:
    """The per-step state of a run, kept current from its events."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.state = "PENDING"
        self.rows: dict[tuple[str, int], StepRow] = {}

    def _row(self, step_id: str, iteration: int) -> StepRow:
        key = (step_id, iteration)
        if key not in self.rows:
            self.rows[key] = StepRow(step_id, iteration)
        return self.rows[key]

    def apply(self, event: "message_pb2.RunEvent") -> str | None:
        """Takes in one event; returns a line describing it, or None if not worth one."""
        kind = event.WhichOneof("kind")
        if kind == "run_state_changed":
            change = event.run_state_changed
            self.state = run_state(change.state)
            error = f": {change.error.kind} {change.error.message}" if change.error.kind else ""
            return f"run {self.state}{error}"
        if kind == "step_state_changed":
            change = event.step_state_changed
            row = self._row(change.step_id, change.iteration)
            row.state = step_state(change.state)
            row.attempt = change.attempt or row.attempt
            row.note = change.error.message or change.reason
            attempt = f" (attempt {row.attempt})" if row.attempt > 1 else ""
            note = f": {row.note}" if row.note else ""
            return f"{change.step_id}[{change.iteration}] {row.state}{attempt}{note}"
        if kind == "step_log":
            log = event.step_log
            self._row(log.step_id, log.iteration).note = log.message
            return f"{log.step_id}[{log.iteration}] {log.level}: {log.message}"
        if kind == "step_progress":
            progress = event.step_progress
            text = f"{progress.fraction:.0%} {progress.message}".strip()
            self._row(progress.step_id, progress.iteration).note = text
            return None
        if kind == "input_requested":
            task = event.input_requested
            # A task does not name its iteration: it belongs to the step's latest one.
            iterations = [i for (step_id, i) in self.rows if step_id == task.step_id]
            self._row(task.step_id, max(iterations, default=0)).note = task.prompt
            return f"{task.step_id} waits for input (task {task.task_id}): {task.prompt}"
        if kind == "step_input_edited":
            edited = event.step_input_edited
            return f"{edited.step_id}[{edited.iteration}] input edited: {', '.join(edited.fields)}"
        return None

    def __rich__(self) -> Listing:
        title = line(f"run {self.run_id}: ", styled(self.state))
        table = Listing("STEP", "ITERATION", "STATE", "ATTEMPT", "NOTE", title=title)
        for row in list(self.rows.values()):
            table.add(row.step_id, str(row.iteration), styled(row.state), str(row.attempt or ""), row.note)
        return table


def follow(client: "Client", run_id: str, *, show: bool) -> "message_pb2.Run":
    """Waits until the run ends or waits for input, showing progress if asked."""
    if not show:
        return client.wait_run(run_id)
    console = stderr()
    progress = RunProgress(run_id)
    if console.is_terminal:
        from rich.live import Live

        with Live(progress, console=console, refresh_per_second=8, transient=True):
            return client.wait_run(run_id, on_event=progress.apply)

    def print_line(event: "message_pb2.RunEvent") -> None:
        line = progress.apply(event)
        if line is not None:
            console.print(line, markup=False)

    return client.wait_run(run_id, on_event=print_line)
