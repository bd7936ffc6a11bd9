"""The end of a conformance session: the report, where it goes, the terminal summary and the run's hooks.

Part of the ``xentspec`` pytest plugin (:mod:`.plugin` re-exports these
hooks, so pytest registers them with it): counting the selected cases,
progress (:mod:`.terminal`), the stop rules (:mod:`.limits`), why a run did
not finish (:mod:`.completion`), building the report dict (schema
``xentspec-report/1``), writing it to ``--xentspec-report`` or, for an
unfinished run, to its ``interrupted/`` folder, comparing with
``--baseline``, and the terminal summary.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
from pathlib import Path
from typing import Any

import pytest

__all__ = ["build_report", "write_report", "format_summary"]

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "crashed", "timeout")


def _keys() -> tuple[Any, Any]:
    from .plugin import REPORT_KEY, STATE_KEY

    return STATE_KEY, REPORT_KEY


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _platform() -> dict[str, str]:
    import numpy as np

    return {"python": platform.python_version(), "system": platform.system(), "machine": platform.machine(),
            "numpy": np.__version__}


def _capabilities(adapter: Any, described: dict) -> dict[str, list[str]]:
    """The adapter's declared capabilities as sorted lists (``describe()`` may give them itself)."""
    caps = described.get("capabilities")
    if isinstance(caps, dict):
        return {str(k): sorted(str(x) for x in v) for k, v in caps.items()}
    c = getattr(adapter, "capabilities", None)
    if c is not None and hasattr(c, "to_dict"):
        return c.to_dict(str(getattr(adapter, "profile", "")) or None)
    return {}


def build_report(st: Any) -> dict:
    """The run's report dict (schema ``xentspec-report/1``), verdicts in a stable order."""
    from xentspec import __version__

    verdicts = sorted(st.verdicts.values(), key=lambda v: (v["adapter"], v["profile"], v["case"]))
    summary: dict[str, dict[str, int]] = {}
    for name in st.names.values():
        summary[name] = dict.fromkeys(OUTCOMES, 0)
    for v in verdicts:
        summary.setdefault(v["adapter"], dict.fromkeys(OUTCOMES, 0))[v["outcome"]] += 1
    adapters = {}
    for spec, a in st.adapters.items():
        d = a.describe() if hasattr(a, "describe") else {}
        adapters[st.names[spec]] = {
            "name": st.names[spec], "wraps": str(d.get("wraps", getattr(a, "wraps", "?"))),
            "version": str(d.get("version", getattr(a, "version", "?"))),
            # The profile the adapter declares; the profile each case was judged under
            # is in its verdict (and in run.profile when --profile was given).
            "profile": str(d.get("profile", getattr(a, "profile", st.profile_of(spec)))),
            "frameworks": {str(k): str(v) for k, v in (d.get("frameworks") or {}).items()},
            # What the adapter declares it runs (the findings' features table), and its options.
            "capabilities": _capabilities(a, d),
        }
        for key in ("options", "install"):
            if d.get(key):
                adapters[st.names[spec]][key] = d[key]
        # Which profile the cases were judged under, and why (issue 12: detected release or --profile).
        own = adapters[st.names[spec]]["profile"]
        if st.profile_opt and st.profile_opt != own:
            adapters[st.names[spec]]["profile_reason"] = (f"--profile {st.profile_opt} given (the adapter's own "
                                                          f"is {own})")
        elif d.get("profile_reason"):
            adapters[st.names[spec]]["profile_reason"] = str(d["profile_reason"])
    args = [str(a) for a in st.config.invocation_params.args]
    return {
        "schema": "xentspec-report/1",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": int(st.config.getoption("xentspec_seed") or 0),
        "xentspec_version": __version__,
        "platform": _platform(),
        "run": {"adapters": list(st.names.values()), "profile": st.profile_opt,
                "spec_paths": [str(p) for p in st.config.getoption("spec") or []],
                "command": os.environ.get("XENTSPEC_COMMAND") or shlex.join(["pytest", *args]),
                **({"limits": st.limits.to_json()} if st.limits is not None else {})},
        "adapters": adapters,
        "verdicts": verdicts,
        "summary": summary,
    }


def write_report(report: dict, outdir: str, html: bool = True, notes: list[str] | None = None) -> dict[str, Any]:
    """Write the report with the reports package (falls back to plain JSON if it is missing).

    ``notes`` collects what the writer would print (a missing matplotlib) for the terminal summary.
    """
    try:
        from .reports import write_reports
    except ImportError:
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "report.json.tmp"
        tmp.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(out / "report.json")
        return {"json": out / "report.json"}
    return dict(write_reports(report, outdir, html=html, notes=notes))


def format_summary(report: dict, failures: bool = True) -> str:
    """A plain-text table: one row per adapter with its counts, then (``failures``) the failures."""
    cols = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "crashed", "timeout")
    rows = [("adapter", "profile", *cols)]
    for name, counts in report["summary"].items():
        judged = sorted({v["profile"] for v in report["verdicts"] if v["adapter"] == name})
        prof = ",".join(judged) or report["adapters"].get(name, {}).get("profile", "")
        rows.append((name, prof, *(str(counts.get(c, 0)) for c in cols)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    if not failures:
        return "\n".join(lines)
    bad = [v for v in report["verdicts"] if v["outcome"] in ("failed", "error", "crashed", "timeout", "xpassed")]
    for v in bad[:30]:
        first = (v.get("message") or "").splitlines()[0] if v.get("message") else ""
        lines.append(f"{v['outcome'].upper():8} {v['adapter']}-{v['case']}: {first[:150]}")
    if len(bad) > 30:
        lines.append(f"... and {len(bad) - 30} more")
    return "\n".join(lines)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Build and write the report (on the xdist controller or a plain session), compare with --baseline.

    Runs before pytest's own junitxml writer, so that an unfinished run's
    junit.xml goes beside its partial report (see :mod:`.completion`).
    """
    config = session.config
    st = config.stash.get(_keys()[0], None)
    if st is None or _is_xdist_worker(config) or not (st.active and (st.verdicts or config.getoption("adapter"))):
        return
    if not st.adapters:
        try:
            st.load_adapters()
        except pytest.UsageError:
            pass
    _finish_report(st, session, exitstatus)


def _finish_report(st: Any, session: pytest.Session, exitstatus: int) -> None:
    """Write the report where it belongs: ``--xentspec-report`` when the run finished, its partial folder if not."""
    from . import completion

    config = session.config
    _stop_progress(st)
    if st.limits is not None:
        st.limits.disarm()
    stop = completion.judge_completion(st, session, exitstatus)
    from .export import export_dir, write_exports

    write_exports(list(st.verdicts.values()), export_dir(config))  # property failures as spec case files
    report = build_report(st)
    if stop is not None:
        report["interrupted"] = stop.to_json(len(st.verdicts), st.selected)
    st.report = report
    config.stash[_keys()[1]] = report
    outdir = config.getoption("xentspec_report")
    if outdir:
        if stop is not None:
            st.partial = True
            completion.clear_partial(outdir)
            completion.redirect_junit(config, outdir)
            st.written = write_report(report, str(completion.partial_dir(outdir)),
                                      html=not config.getoption("xentspec_no_html"), notes=st.notes)
        else:
            st.written = write_report(report, outdir, html=not config.getoption("xentspec_no_html"),
                                      notes=st.notes)
            completion.remove_stale_partial(outdir)
    if stop is not None:
        if stop.kind == "no_cases" and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        elif session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        return
    empty = completion.nothing_judged(report)
    if empty:
        st.notes.append(empty)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    baseline = config.getoption("baseline")
    if baseline:
        from .reports import compare_reports, load_report

        st.regressions = compare_reports(load_report(baseline), report)
        if not st.regressions.ok and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_keyboard_interrupt(excinfo: Any) -> None:
    """Record why the session stopped: Ctrl-C (or an adapter's KeyboardInterrupt), a collection error, a stop rule."""
    from .completion import Interruption

    # pytest_keyboard_interrupt has no config argument: find our state through the active session's config.
    st = _ACTIVE.get("state")
    if st is None or st.interruption is not None:
        return
    exc = excinfo.value
    if type(exc).__name__ == "Interrupted":  # pytest's own stop (collection errors, shouldstop)
        text = str(exc)
        kind = "collection_error" if "during collection" in text else "stopped_early"
        st.interruption = Interruption(kind, text)
    else:
        where = f"while running {st.current}" if st.current else "before any case ran"
        st.interruption = Interruption(
            "keyboard_interrupt", f"KeyboardInterrupt {where} (Ctrl-C, or raised by the adapter)")


_ACTIVE: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember the run state of this session; start the stop rules' clock (not on xdist workers)."""
    st = session.config.stash.get(_keys()[0], None)
    if st is None:
        return
    _ACTIVE["state"] = st
    st.session = session
    if not _is_xdist_worker(session.config):
        _start_limits(st)


def _start_limits(st: Any) -> None:
    """The run budget and the timeout count (:mod:`.limits`), with the watchdog for a hang mid-case."""
    from .completion import Interruption
    from .limits import RunLimits

    cfg = st.config
    st.limits = RunLimits(cfg.getoption("run_budget"), cfg.getoption("max_timeouts"), cfg.getoption("case_timeout"))

    def on_fire(reason: str) -> None:
        where = f" while running {st.current}" if st.current else ""
        st.interruption = Interruption("stop_rule", reason + where)

    st.limits.arm_watchdog(on_fire)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the conformance items selected to run (a plain session or an xdist worker)."""
    st = session.config.stash.get(_keys()[0], None)
    if st is not None and st.active and not _is_xdist_worker(session.config):
        st.selected = sum(1 for i in session.items if _caserun_param(i))
        _start_progress(st)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the xdist controller: count the selected conformance items (every worker collects the same)."""
    st = _ACTIVE.get("state")
    if st is not None and st.active and st.selected is None:
        st.selected = sum(1 for i in ids if "test_conformance.py::" in i or "test_properties.py::" in i)
        _start_progress(st)


def _start_progress(st: Any) -> None:
    """The progress bar of `xentspec run` (``--xentspec-terminal``; off with -q)."""
    if st.progress is None and st.config.getoption("xentspec_terminal") and st.selected:
        from .terminal import Progress

        st.progress = Progress(st.selected, enabled=st.config.get_verbosity() > -2)


def _stop_progress(st: Any) -> None:
    if st is not None and st.progress is not None:
        st.progress.close()


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: Any, config: pytest.Config) -> Any:
    """Under ``--xentspec-terminal`` the conformance items print no dots: the progress bar stands for them."""
    result = yield
    if result and config.getoption("xentspec_terminal", False) and (
            "test_conformance.py::" in report.nodeid or "test_properties.py::" in report.nodeid):
        category = result[0]
        return (category, "", "")
    return result


def _caserun_param(item: pytest.Item) -> bool:
    from .plugin import PARAM, PROPERTY_PARAM

    names = getattr(item, "fixturenames", ())
    return PARAM in names or PROPERTY_PARAM in names


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    """Remember which case is running (for the message of an interrupted run)."""
    st = item.config.stash.get(_keys()[0], None)
    if st is not None:
        st.current = item.nodeid.split("[", 1)[-1].rstrip("]") if "[" in item.nodeid else item.nodeid
    result = yield  # an exception (KeyboardInterrupt) leaves `current` naming the case
    if st is not None:
        st.current = None
    return result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the per-adapter table, one line per failing case, the notes and the baseline comparison."""
    st = config.stash.get(_keys()[0], None)
    if st is None or st.report is None:
        return
    _stop_progress(st)
    from .terminal import failure_lines, summary_markup

    tr = terminalreporter
    report = st.report
    stop = report.get("interrupted")
    tr.section("xentspec conformance", red=bool(stop), bold=bool(stop))
    lines = format_summary(report, failures=False).splitlines()
    names = list(report["summary"])
    for i, line in enumerate(lines):
        markup = summary_markup(report["summary"][names[i - 2]]) if i >= 2 and i - 2 < len(names) else {}
        tr.write_line(line, **markup)
    for line in failure_lines(report["verdicts"]):
        tr.write_line(line, red=True)
    if stop:
        tr.write_line(f"INTERRUPTED: {stop['reason']} ({stop.get('ran', 0)} of "
                      f"{stop.get('selected') if stop.get('selected') is not None else '?'} cases ran); "
                      "these counts are partial; the partial report went to the interrupted/ folder",
                      red=True, bold=True)
    for note in st.notes:
        tr.write_line(note, yellow=True)
    if st.written and not config.getoption("xentspec_terminal"):
        for kind, path in st.written.items():
            if path:
                tr.write_line(f"{kind}: {path}")
    if st.regressions is not None:
        text = st.regressions.to_text() if hasattr(st.regressions, "to_text") else str(st.regressions)
        tr.write_line(text.rstrip("\n"), red=not getattr(st.regressions, "ok", True))
