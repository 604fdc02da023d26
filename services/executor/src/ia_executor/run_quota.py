"""How many runs each tenant may have going at once (IA_MAX_CONCURRENT_RUNS).

The caller a place is counted for is the run's tenant, so the limit holds per tenant
and per executor process (replicas each count their own runs). Child runs
(`pipeline` steps) are their parent's work and do not count.
"""

from __future__ import annotations

from collections import Counter

from ia_modules.limits import ENV

from ia_executor.errors import TooManyRuns

__all__ = ["RunQuota"]


class RunQuota:
    """Places for runs not ended, per caller. `check` and `hold` run with no await
    between them (see `Runs.start_run`), so concurrent starts cannot overshoot."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._taken: Counter[str] = Counter()
        self._holders: dict[str, str] = {}  # run id -> caller

    def check(self, caller: str) -> None:
        """Raises TooManyRuns when ``caller`` has no place left."""
        if self._taken[caller] >= self._limit:
            raise TooManyRuns(
                f"{self._taken[caller]} runs have not ended yet; the limit is {self._limit} "
                f"({ENV['concurrent_runs']}). Wait for some to end, or cancel some.",
                limit=ENV["concurrent_runs"],
                max=self._limit,
                caller=caller,
            )

    def hold(self, run_id: str, caller: str) -> None:
        """The run ``run_id`` takes a place of ``caller`` (a resumed run takes one
        whatever the limit: it was accepted before). Holding again is a no-op."""
        if run_id in self._holders:
            return
        self._taken[caller] += 1
        self._holders[run_id] = caller

    def release(self, run_id: str) -> None:
        """The run ended (or was not started after all): its place is free. Nothing
        happens for a run holding none."""
        caller = self._holders.pop(run_id, None)
        if caller is not None:
            self._taken[caller] -= 1
