"""When a writer that lost a race waits, heals, retries or gives up.

A writer commits to a Delta layer at exactly the version after the one its branch names, then
moves the branch ref. Between the two steps its Delta version is named by no commit, and every
other writer of that layer waits for it: the Delta log works as a short lock. Two things can
hold that lock too long:

* the writer itself, retrying after it lost the ref race: its own versions are healed (made to
  hold the named files again) at once, since it will never name them;
* a writer that died between the steps: its version is healed once it has stood unchanged for
  :data:`HEAL_GRACE` seconds, as seen by the waiting writer's own clock (no clocks compared).

A writer keeps trying as long as the others make progress (the branch moves, or the layer's
newest version changes) and gives up only after :data:`STALL_SECONDS` without any: appends
commute, so losing a race is no reason to fail.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

HEAL_GRACE = 2.0  # seconds an unnamed Delta version of another writer stands before it is healed
STALL_SECONDS = 60.0  # seconds without progress by anyone before a writer gives up


@dataclass
class Patience:
    grace: float = field(default_factory=lambda: HEAL_GRACE)  # read when made: a test may shorten it
    stall_seconds: float = STALL_SECONDS
    attempts: int = 0
    _mine: set[tuple[str, str, int]] = field(default_factory=set)
    _seen: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    _head: str | None = None
    _progress_at: float = field(default_factory=time.monotonic)

    def begin(self, head: str) -> None:
        """An attempt starts from ``head``; a head that moved since the last attempt is progress."""
        self.attempts += 1
        if head != self._head:
            self._head = head
            self._progress()

    def committed(self, dataset: str, layer: str, version: int) -> None:
        """This writer created ``version`` of the layer (a version it may heal at once)."""
        self._mine.add((dataset, layer, version))

    def may_heal(self, dataset: str, layer: str, latest: int) -> bool:
        """Whether the layer's versions past the named one (the newest is ``latest``) may be
        healed now: at once when the newest is this writer's own, else after the grace period."""
        if (dataset, layer, latest) in self._mine:
            return True
        now = time.monotonic()
        seen = self._seen.get((dataset, layer))
        if seen is None or seen[0] != latest:
            self._seen[(dataset, layer)] = (latest, now)
            self._progress()  # another writer is between its Delta commit and its ref
            return False
        return now - seen[1] >= self.grace

    def exhausted(self) -> bool:
        return time.monotonic() - self._progress_at > self.stall_seconds

    def backoff(self) -> None:
        """Sleep a little, more after each attempt, never more than half a second."""
        time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** min(self.attempts, 6))))

    def _progress(self) -> None:
        self._progress_at = time.monotonic()
