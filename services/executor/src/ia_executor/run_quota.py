"""How many runs each caller may have going at once (IA_MAX_CONCURRENT_RUNS).

A caller is who starts runs: today everyone is the same caller (""), so the limit
is per executor process; once requests carry a tenant, its key goes here and the
limit becomes per tenant with no other change. Child runs (`pipeline` steps) are
their parent's work and do not count.
"""

from __future__ import annotations

from collections import Counter

from ia_modules.limits import ENV

from ia_executor.errors import TooManyRuns

__all__ = ["RunQuota"]


class RunQuota:
    """Places for runs not ended, per caller. A place is taken before the run is
    stored (so concurrent starts cannot overshoot) and given back when it ends."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._taken: Counter[str] = Counter()
        self._holders: dict[str, str] = {}  # run id -> caller

    def take(self, caller: str) -> None:
        """Takes a place for a run about to start; raises TooManyRuns when none is left."""
        if self._taken[caller] >= self._limit:
            raise TooManyRuns(
                f"{self._taken[caller]} runs have not ended yet; the limit is {self._limit} "
                f"({ENV['concurrent_runs']}). Wait for some to end, or cancel some.",
                limit=ENV["concurrent_runs"],
                max=self._limit,
                caller=caller,
            )
        self._taken[caller] += 1

    def give_back(self, caller: str) -> None:
        """Returns a place taken for a run that was not started after all."""
        self._taken[caller] -= 1

    def hold(self, run_id: str, caller: str, *, taken: bool = True) -> None:
        """The run ``run_id`` holds a place (``taken=False``: one not taken yet, as
        for a resumed run, which is counted whatever the limit)."""
        if not taken:
            self._taken[caller] += 1
        self._holders[run_id] = caller

    def release(self, run_id: str) -> None:
        """The run ended: its place is free (nothing happens for a run holding none)."""
        caller = self._holders.pop(run_id, None)
        if caller is not None:
            self._taken[caller] -= 1
