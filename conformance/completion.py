"""Whether a conformance run finished, and where its report goes when it did not.

A report in ``<out>/`` is always the report of a complete run: the last one.
A run that did not finish never writes over it; its partial report (the
verdicts it reached) goes to ``<out>/interrupted/`` with a top-level
``interrupted`` field saying why (docs/reports.md, "Interrupted runs"):

========================  =====================================================
``keyboard_interrupt``    Ctrl-C, or an adapter that raised KeyboardInterrupt
``collection_error``      a case file, expectation file or adapter that failed while pytest collected
``stop_rule``             the run budget was spent, or too many cases timed out
``no_cases``              nothing was selected (``-k`` / ``--case`` matched nothing, no cases at all)
``stopped_early``         pytest stopped before every selected case ran (``-x``, ``--maxfail``)
``usage_error``           a usage error pytest reported after the session started
``internal_error``        pytest's internal error
========================  =====================================================

A complete run removes a stale ``<out>/interrupted/`` folder, so what lies
there always belongs to the latest run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Interruption", "PARTIAL_DIR", "PARTIAL_FILES", "judge_completion", "partial_dir",
           "redirect_junit", "remove_stale_partial", "nothing_judged", "EXIT_STATUS"]

PARTIAL_DIR = "interrupted"
"""The sub-folder of ``--out`` that holds the partial report of a run that did not finish."""

PARTIAL_FILES = ("report.json", "report.md", "report.html", "junit.xml")

EXIT_STATUS: dict[str, int] = {
    "keyboard_interrupt": 130, "collection_error": 2, "no_cases": 2, "usage_error": 2,
    "stop_rule": 1, "stopped_early": 1, "internal_error": 3,
}
"""The exit status of ``xentspec run`` for each kind of unfinished run."""


@dataclass
class Interruption:
    """Why a run did not finish: a kind (see the module docstring) and a sentence."""

    kind: str
    reason: str

    def to_json(self, ran: int, selected: int | None) -> dict[str, Any]:
        """The report's ``interrupted`` field."""
        return {"kind": self.kind, "reason": self.reason, "ran": int(ran),
                "selected": None if selected is None else int(selected)}


def judge_completion(st: Any, session: pytest.Session, exitstatus: int) -> Interruption | None:
    """None when the run finished; else why not (from what the run state recorded and pytest's status)."""
    if st.interruption is not None:
        return st.interruption
    ran = len(st.verdicts)
    status = int(exitstatus)
    if st.selected == 0 or (status == pytest.ExitCode.NO_TESTS_COLLECTED and ran == 0):
        return Interruption("no_cases", no_cases_reason(st))
    if status == pytest.ExitCode.INTERRUPTED:
        return Interruption("collection_error", "pytest stopped during collection (see the errors above)")
    if status == pytest.ExitCode.USAGE_ERROR:
        return Interruption("usage_error", "pytest reported a usage error")
    if status == pytest.ExitCode.INTERNAL_ERROR:
        return Interruption("internal_error", "pytest reported an internal error")
    if st.selected is not None and ran < st.selected:
        why = session.shouldfail or session.shouldstop
        return Interruption("stopped_early", f"{ran} of {st.selected} selected cases ran"
                            + (f" ({why})" if isinstance(why, str) and why else ""))
    return None


def no_cases_reason(st: Any) -> str:
    """Why a run selected nothing, as precisely as the run state knows."""
    config = st.config
    n = len(st.cases) if st.cases is not None else None
    kw = config.getoption("keyword", None)
    pats = config.getoption("xentspec_case", None) or []
    if n == 0:
        if config.getoption("no_builtin"):
            return "no cases: --no-builtin was given and the --spec files hold no cases"
        return "no cases were loaded"
    of = f" of the {n} cases" if n is not None else ""
    if pats:
        return f"--case {' '.join(pats)} matched none{of}"
    if kw:
        return f"-k {kw!r} matched none{of}"
    if config.getoption("markexpr", None):
        return f"-m {config.getoption('markexpr')!r} matched none{of}"
    return f"no case was selected{of}"


def nothing_judged(report: dict[str, Any]) -> str | None:
    """A message when a finished run judged nothing (every verdict skipped), else None.

    Such a run is reported as a failure: a CI job must not go green on
    nothing, even when every skip is legitimate (a capability or profile the
    adapter does not declare). The message counts the most common skip reasons.
    """
    verdicts = report.get("verdicts") or []
    if not verdicts or any(v["outcome"] != "skipped" for v in verdicts):
        return None
    reasons: dict[str, int] = {}
    for v in verdicts:
        r = str(v.get("reason") or "no reason given")
        reasons[r] = reasons.get(r, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
    listing = "; ".join(f"{n} x {r}" for r, n in top)
    return (f"nothing was judged: all {len(verdicts)} cases were skipped ({listing}); "
            "check --adapter, --profile and the adapter's capabilities")


def partial_dir(outdir: str | os.PathLike[str]) -> Path:
    """Where the partial report of an unfinished run goes."""
    return Path(outdir) / PARTIAL_DIR


def redirect_junit(config: pytest.Config, outdir: str | os.PathLike[str]) -> None:
    """Point pytest's ``--junitxml`` writer into the partial folder when it would write into ``outdir``."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest internals moved
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    logfile = Path(xml.logfile)
    if logfile.parent.resolve() == Path(outdir).resolve():
        target = partial_dir(outdir) / logfile.name
        target.parent.mkdir(parents=True, exist_ok=True)
        xml.logfile = str(target)


def remove_stale_partial(outdir: str | os.PathLike[str]) -> None:
    """Remove the partial report of an earlier unfinished run (only the files this suite writes there)."""
    d = partial_dir(outdir)
    if not d.is_dir():
        return
    for name in PARTIAL_FILES:
        (d / name).unlink(missing_ok=True)
    try:
        d.rmdir()
    except OSError:  # something else lives there: leave it
        pass


def clear_partial(outdir: str | os.PathLike[str]) -> None:
    """Empty the partial folder before an unfinished run writes into it (stale files of other runs)."""
    d = partial_dir(outdir)
    if d.is_dir():
        for name in PARTIAL_FILES[:3]:
            (d / name).unlink(missing_ok=True)

