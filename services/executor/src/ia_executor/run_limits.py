"""The limits a run in progress enforces on itself: the size of what goes into and
comes out of a step, and how many events it keeps (see `ia_modules.limits`)."""

from __future__ import annotations

import json
from typing import Any

from ia_modules.limits import ENV, Limits

from ia_executor import records

__all__ = ["EventBudget", "oversized", "step_io_error"]

STEP_INPUT_TOO_LARGE = "STEP_INPUT_TOO_LARGE"
STEP_OUTPUT_TOO_LARGE = "STEP_OUTPUT_TOO_LARGE"


def _json_size(value: Any) -> int:
    # default=str: a value JSON cannot hold still has a size; it is refused later.
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def oversized(value: Any, limit: int) -> int | None:
    """The JSON size of ``value`` if it is over ``limit`` bytes, else None."""
    size = _json_size(value)
    return size if size > limit else None


def step_io_error(step_id: str, which: str, size: int, limit: int) -> tuple[str, str]:
    """The step error (kind, message) for an input or output (``which``) over its limit."""
    variable = ENV["step_input_bytes"] if which == "input" else ENV["step_output_bytes"]
    kind = STEP_INPUT_TOO_LARGE if which == "input" else STEP_OUTPUT_TOO_LARGE
    message = (
        f"step {step_id!r}: its {which} is {size} bytes; the limit is {limit} bytes ({variable}). "
        "Pass large data by reference (a URL or a path) instead."
    )
    return kind, message


class EventBudget:
    """Counts a run's kept events and says when the oldest must be folded.

    Folding happens in batches (a tenth of the limit at a time) so that a chatty
    run costs one delete per batch, not one per event; the run never keeps more
    than ``limits.events_per_run`` events once a commit has settled.
    """

    def __init__(self, limits: Limits, kept: int = 0) -> None:
        self._limit = limits.events_per_run
        self._batch = max(self._limit // 10, 1)
        self.kept = kept

    def added(self, count: int) -> None:
        """``count`` events were committed."""
        self.kept += count

    def fold_through(self, last_sequence: int) -> int | None:
        """The sequence up to which events are to be folded now, or None.

        The folded events become one summary event, so after folding the run keeps
        ``limit - batch`` events (at least two)."""
        if self.kept <= self._limit:
            return None
        # At least two: the summary and the newest event, which may be the run's end.
        keep = max(self._limit - self._batch, 2)
        # The newest keep-1 events stay; the summary takes the place of the rest.
        through = last_sequence - (keep - 1)
        self.kept = keep
        return through

    def summary(self, through: int) -> dict[str, Any]:
        """The event that stands for events 1..``through``."""
        message = (
            f"events 1-{through} of this run were folded into this one: a run keeps at most "
            f"{self._limit} events ({ENV['events_per_run']})"
        )
        return records.step_log_body("", 0, "warning", message)
