"""The stop rules of a conformance run: a run budget and a number of timeouts, both reported.

A hanging adapter costs at most its per-case timeout per case (in a worker
subprocess), and the whole run is bounded too:

* ``--max-timeouts K`` (default :data:`DEFAULT_MAX_TIMEOUTS`): after K cases
  timed out the run stops; an adapter that hangs on every case would
  otherwise cost N x timeout (5.5 h for the built-in cases at 60 s).
* ``--run-budget SECONDS`` (default :data:`DEFAULT_RUN_BUDGET`): when the run
  has taken that long it stops: between cases, and, should a case still be
  running at the deadline (an in-process adapter that hangs), a watchdog
  thread interrupts the main thread (SIGINT), which pytest turns into an
  orderly stop. 0 disables either rule.

A stopped run is an unfinished run (:mod:`.completion`, kind ``stop_rule``):
its partial report goes to ``<out>/interrupted/``. Every report records the
rules and what they saw under ``run.limits``.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Callable

__all__ = ["DEFAULT_RUN_BUDGET", "DEFAULT_MAX_TIMEOUTS", "RunLimits"]

DEFAULT_RUN_BUDGET = 3600.0
"""Seconds a run may take by default (the built-in cases take about 10 s on the NumPy kernel)."""
DEFAULT_MAX_TIMEOUTS = 3
"""Timeouts after which a run stops by default."""


class RunLimits:
    """Clock and counters of one run's stop rules (see the module docstring)."""

    def __init__(self, run_budget: float | None, max_timeouts: int | None, case_timeout: float | None) -> None:
        self.run_budget = DEFAULT_RUN_BUDGET if run_budget is None else float(run_budget)
        self.max_timeouts = DEFAULT_MAX_TIMEOUTS if max_timeouts is None else int(max_timeouts)
        self.case_timeout = case_timeout
        self.t0 = time.monotonic()
        self.timeouts = 0
        self.fired: str | None = None
        self._timer: threading.Timer | None = None

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.t0

    def record(self, outcome: str) -> str | None:
        """Count one verdict; returns the reason to stop, or None."""
        if outcome == "timeout":
            self.timeouts += 1
        return self.check()

    def check(self) -> str | None:
        """The reason to stop now, or None."""
        if self.fired:
            return self.fired
        if self.max_timeouts and self.timeouts >= self.max_timeouts:
            self.fired = (f"{self.timeouts} case{'s' if self.timeouts != 1 else ''} timed out "
                          f"(--max-timeouts {self.max_timeouts})")
        elif self.run_budget and self.elapsed() >= self.run_budget:
            self.fired = f"the run budget of {self.run_budget:g} s was spent (--run-budget)"
        return self.fired

    def arm_watchdog(self, on_fire: Callable[[str], None]) -> None:
        """Interrupt the main thread at the budget's deadline if the run is still going (POSIX only)."""
        if not self.run_budget or not hasattr(signal, "pthread_kill"):
            return
        main = threading.main_thread().ident

        def fire() -> None:
            if self.fired is None:
                self.fired = f"the run budget of {self.run_budget:g} s was spent (--run-budget)"
                on_fire(self.fired)
                signal.pthread_kill(main, signal.SIGINT)

        self._timer = threading.Timer(max(0.0, self.run_budget - self.elapsed()), fire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        """Stop the watchdog (the run is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def to_json(self) -> dict[str, Any]:
        """The report's ``run.limits``."""
        return {"run_budget": self.run_budget or None, "max_timeouts": self.max_timeouts or None,
                "case_timeout": self.case_timeout, "elapsed": round(self.elapsed(), 3),
                "timeouts": self.timeouts, "stopped": self.fired}
