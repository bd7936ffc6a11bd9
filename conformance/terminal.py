"""What a conformance run prints: progress while it runs, then counts and one line per failing case.

Used by the plugin's terminal hooks. With ``--xentspec-terminal`` (what
``xentspec run`` passes) pytest's dots are replaced by a progress bar on
stderr (rich: count, percentage, elapsed time and ETA, the last case) when
stderr is a terminal, or by a plain line every tenth of the run otherwise;
``-q`` turns progress off. The summary is the per-adapter table (coloured on
a terminal: green when every judged case passed, red when one failed), the
notes of the run (on lines of their own), and one line per failing case::

    FAILED  numpy-scce/x: got 0.123456789, truth 0.123456791, 3.21 ulp > budget 2 ulp (element [1]; 1 of 3 outside)
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Mapping

__all__ = ["Progress", "failure_line", "failure_lines", "summary_markup", "MAX_FAILURE_LINES"]

MAX_FAILURE_LINES = 60
"""Failing cases listed one per line at the end of a run (the rest are counted; all are in the reports)."""

_FAILING = ("failed", "error", "crashed", "timeout", "xpassed")


def _num(x: Any) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "?"
    return repr(float(x)) if isinstance(x, float) else str(x)


def _worst_failed_element(v: Mapping[str, Any]) -> Mapping[str, Any] | None:
    best = None
    for e in v.get("elements") or ():
        m = e.get("margin")
        if m is None and e.get("ulp_error") is None and e.get("got") == e.get("truth"):
            continue
        key = float("-inf") if m is None or isinstance(m, str) else float(m)
        if m is not None and not isinstance(m, str) and m >= 0:
            continue
        if best is None or key < best[0]:
            best = (key, e)
    return best[1] if best else None


def _property_tail(v: Mapping[str, Any]) -> str:
    """For a failing property: the falsifying case ids and where they were exported."""
    prop = v.get("property") or {}
    parts = []
    if prop.get("falsifying"):
        parts.append("falsified by " + ", ".join(prop["falsifying"]))
    if prop.get("exported"):
        parts.append("exported to " + ", ".join(prop["exported"]))
    return f" [{'; '.join(parts)}]" if parts else ""


def failure_line(v: Mapping[str, Any]) -> str:
    """One line for a failing verdict: its id and what went wrong (got, truth, ULP error, budget)."""
    head = f"{v['outcome'].upper():8} {v['adapter']}-{v['case']}: "
    e = _worst_failed_element(v)
    msg = (v.get("message") or "").strip()
    if v.get("property"):
        # The falsifying case is in the report (and exported): the line says which and where.
        msg = msg.split("\n\nfalsifying example:", 1)[0]
    first = msg.splitlines()[0] if msg else ""
    if e is not None:
        parts = [f"got {_num(e['got'])}", f"truth {_num(e['truth'])}"]
        if e.get("ulp_error") is not None:
            parts.append(f"{float(e['ulp_error']):.3g} ulp > budget {float(e['budget_ulps']):.3g} ulp")
        where = f"element {list(e['index'])}" if e.get("index") else "the result"
        n_bad = sum(1 for x in v.get("elements") or () if x.get("margin") is not None
                    and not isinstance(x.get("margin"), str) and x["margin"] < 0)
        total = v.get("n_elements") or len(v.get("elements") or ())
        extra = f"; {n_bad} of {total} outside" if total and total > 1 else ""
        other = [ln for ln in msg.splitlines() if ln and "outside the budget" not in ln
                 and not ln.startswith("  ")]
        tail = f" [{'; '.join(other)}]" if other else ""
        return head + ", ".join(parts) + f" ({where}{extra})" + tail + _property_tail(v)
    if v.get("expected_error") and v.get("got_error") and v["outcome"] == "failed":
        return head + first + _property_tail(v)
    return head + (first or v["outcome"]) + _property_tail(v)


def failure_lines(verdicts: Iterable[Mapping[str, Any]], limit: int = MAX_FAILURE_LINES) -> list[str]:
    """One line per failing verdict, at most ``limit`` (then a count of the rest)."""
    bad = [v for v in verdicts if v["outcome"] in _FAILING]
    out = [failure_line(v) for v in bad[:limit]]
    if len(bad) > limit:
        out.append(f"... and {len(bad) - limit} more failing cases (all of them are in report.md / report.json)")
    return out


def summary_markup(counts: Mapping[str, int]) -> dict[str, bool]:
    """TerminalWriter markup for one adapter's row: red when a case failed, green when all judged passed."""
    if any(counts.get(o, 0) for o in _FAILING):
        return {"red": True, "bold": True}
    judged = sum(counts.get(o, 0) for o in ("passed", "xfailed"))
    return {"green": True} if judged else {"yellow": True}


class Progress:
    """Progress of the run on stderr: a rich bar on a terminal, a plain line per tenth otherwise."""

    def __init__(self, total: int | None, enabled: bool = True, stream: Any = None) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self.stream = stream or sys.__stderr__
        self.t0 = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        self._next_tenth = 1
        self._last_line = 0.0
        isatty = bool(getattr(self.stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        if enabled and isatty:
            try:
                from rich.console import Console
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                           TimeElapsedColumn, TimeRemainingColumn)
            except ImportError:  # pragma: no cover - rich is a dependency
                return
            self._bar = RichProgress(TextColumn("[bold]cases"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                     TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.description}"),
                                     console=Console(file=self.stream, stderr=True), auto_refresh=False,
                                     transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)

    def set_total(self, total: int) -> None:
        """The number of cases, once collection knows it."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)
            self._bar.refresh()

    def advance(self, name: str) -> None:
        """One more case finished (``name``: its id)."""
        if not self.enabled:
            return
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=name[-60:])
            self._bar.refresh()
            return
        if not self.total:
            return
        now = time.monotonic()
        tenth = self.done * 10 // self.total
        if (tenth >= self._next_tenth and now - self._last_line >= 2.0) or self.done == self.total:
            self._next_tenth = tenth + 1
            self._last_line = now
            elapsed = now - self.t0
            left = elapsed / self.done * (self.total - self.done)
            print(f"xentspec: {self.done}/{self.total} cases ({100 * self.done // self.total}%), "
                  f"{elapsed:.0f} s elapsed, about {left:.0f} s left", file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar (before the summary is printed)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
