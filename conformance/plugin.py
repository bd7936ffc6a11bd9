"""The pytest plugin of the conformance suite (registered as ``xentspec`` through the ``pytest11`` entry point).

It adds the suite's options, parametrizes the one test function of
``xentspec/conformance/test_conformance.py`` with a ``case x adapter``
parameter per case (id ``ADAPTER-CASE_ID``), judges each run against the
reference's truth, attaches the verdict to pytest's report (so that
pytest-xdist carries it to the controller), and at the end of the session
builds one report dict and writes it with
:func:`xentspec.conformance.reports.write_reports` (``--xentspec-report``).

The plugin is loaded into every pytest session of an environment where
xentspec is installed; it stays passive unless the conformance test module is
collected (only then are cases loaded) or ``--adapter`` is given.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

__all__ = ["CaseRun", "RunState", "XentspecWarning", "build_report", "format_summary", "STATE_KEY", "REPORT_KEY"]

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "crashed", "timeout")
TEST_FUNCTION = "test_case"
PARAM = "xentspec_case"
PROPERTY_PARAM = "xentspec_property"  # the parameter of the property tests (a CaseRun subclass)


class XentspecWarning(pytest.PytestWarning):
    """A warning of the conformance plugin (e.g. a stale expectation entry)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """The suite's command-line options (group "xentspec conformance")."""
    g = parser.getgroup("xentspec", "xentspec conformance")
    g.addoption("--adapter", action="append", default=None, metavar="NAME",
                help="adapter to test: a built-in name, an entry point of group xentspec.adapters, "
                     "module:attr or path/to/file.py:attr (repeatable; default: numpy)")
    g.addoption("--profile", default=None, metavar="PROFILE",
                help="profile to judge under (default: each adapter's declared profile)")
    g.addoption("--spec", action="append", default=[], metavar="PATH",
                help="more case files or folders (repeatable)")
    g.addoption("--no-builtin", action="store_true", default=False,
                help="run only the cases of --spec, not the built-in ones")
    g.addoption("--xentspec-report", default=None, metavar="DIR",
                help="write report.json / report.md / report.html into DIR")
    g.addoption("--xentspec-no-html", action="store_true", default=False,
                help="write report.json and report.md only (no plotting)")
    g.addoption("--baseline", default=None, metavar="FILE",
                help="compare the run against this report.json; a regression fails the session")
    g.addoption("--expectations", action="append", default=[], metavar="FILE",
                help="more expectation files (known deviations; repeatable)")
    g.addoption("--isolate", dest="xentspec_isolate", action="store_true", default=None,
                help="evaluate every case in a worker subprocess (crashes and hangs cost one case)")
    g.addoption("--no-isolate", dest="xentspec_isolate", action="store_false",
                help="evaluate in-process even for adapters that ask for isolation")
    g.addoption("--case-timeout", type=float, default=None, metavar="SECONDS",
                help="per-case timeout in a worker subprocess (default: the adapter's, 60 s)")
    g.addoption("--xentspec-seed", type=int, default=0, metavar="N",
                help="seed recorded in the report (case generators carry their own seeds)")
    # Property tests (conformance/test_properties.py, docs/properties.md): hypothesis settings profile.
    g.addoption("--xentspec-hypothesis-profile", default=None, metavar="NAME",
                help="hypothesis settings profile of the property tests: smoke, default, ci, thorough "
                     "(or any registered profile; env XENTSPEC_HYPOTHESIS_PROFILE)")
    g.addoption("--xentspec-export", default=None, metavar="DIR",
                help="write the shrunk falsifying example of each failing property as a spec case file "
                     "into DIR (default: the exported/ folder of --xentspec-report)")
    g.addoption("--xentspec-no-shrink", action="store_true", default=False,
                help="property tests stop at the first falsifying example, unshrunk (mutation runs)")
    g.addoption("--xentspec-shared-properties", action="store_true", default=False,
                help="each property runs once per profile, on the first adapter of that profile, and judges "
                     "every other adapter of the profile on the same examples (mutation runs)")


# --------------------------------------------------------------------------- state

@dataclass(eq=False)
class RunState:
    """Everything one pytest process knows about the conformance run."""

    config: pytest.Config
    specs: list[str]
    profile_opt: str | None
    adapters: dict[str, Any] = field(default_factory=dict)  # spec -> adapter instance
    names: dict[str, str] = field(default_factory=dict)  # spec -> unique display name
    cases: list[Any] | None = None
    expectations: dict[str, list[Any]] = field(default_factory=dict)  # spec -> entries
    workers: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, dict] = field(default_factory=dict)  # nodeid -> verdict
    active: bool = False
    truth_fn: Callable[..., Any] | None = None
    report: dict | None = None
    regressions: Any = None
    written: dict[str, Any] | None = None

    # -- adapters
    def load_adapters(self) -> None:
        """Load every ``--adapter`` (a UsageError lists the available ones for an unknown name)."""
        from xentspec.adapters.registry import AdapterNotFound, load_adapter, resolve_spec
        from xentspec.spec import load_profiles

        profiles = load_profiles()
        if self.profile_opt is not None and self.profile_opt not in profiles:
            raise pytest.UsageError(f"unknown profile {self.profile_opt!r}; defined: {', '.join(profiles)}")
        for raw in self.specs:
            spec = resolve_spec(raw)
            if spec in self.adapters:
                continue
            try:
                adapter = load_adapter(spec)
            except AdapterNotFound as exc:
                raise pytest.UsageError(str(exc)) from None
            name = str(adapter.name)
            taken = set(self.names.values())
            unique, n = name, 2
            while unique in taken:
                unique, n = f"{name}{n}", n + 1
            self.adapters[spec], self.names[spec] = adapter, unique
            prof = self.profile_of(spec)
            allowed = {adapter.profile} | set(getattr(adapter.capabilities, "profiles", ()) or ())
            if prof not in allowed:
                raise pytest.UsageError(f"adapter {unique} cannot be judged under profile {prof!r}; "
                                        f"it declares: {', '.join(sorted(allowed))}")

    def profile_of(self, spec: str) -> str:
        """The profile an adapter is judged under."""
        return self.profile_opt or self.adapters[spec].profile

    # -- cases and expectations
    def load_cases(self) -> list[Any]:
        """The built-in cases plus those of ``--spec`` (loaded once per process)."""
        if self.cases is None:
            from xentspec.spec import load_cases

            self.cases = load_cases(self.config.getoption("spec") or [],
                                    builtin=not self.config.getoption("no_builtin"))
        return self.cases

    def load_expectations(self) -> None:
        """Built-in expectation files of each adapter, plus ``--expectations``."""
        from .expectations import builtin_expectations, load_expectations

        extra = load_expectations(self.config.getoption("expectations") or [])
        for spec, adapter in self.adapters.items():
            self.expectations[spec] = builtin_expectations(str(adapter.name)) + extra

    # -- truth
    def truth(self, case: Any, profile: str) -> Any:
        """The reference's truth; ``XENTSPEC_TRUTH=module:attr`` substitutes a test double."""
        if self.truth_fn is None:
            target = os.environ.get("XENTSPEC_TRUTH")
            if target:
                from xentspec.adapters.registry import _import_file

                mod, _, attr = target.rpartition(":")
                module = _import_file(Path(mod).resolve()) if mod.endswith(".py") else __import__(
                    mod, fromlist=[attr])
                self.truth_fn = getattr(module, attr)
            else:
                from xentspec.reference import truth

                self.truth_fn = truth
        return self.truth_fn(case, profile)

    # -- evaluation
    def evaluate(self, spec: str, case: Any, profile: str) -> Any:
        """Run one case on one adapter, in a worker subprocess when isolation applies."""
        from .isolation import Worker, evaluate_inprocess

        adapter = self.adapters[spec]
        isolate = self.config.getoption("xentspec_isolate")
        if isolate is None:
            isolate = bool(getattr(adapter, "isolate", True))
        if not isolate:
            return evaluate_inprocess(adapter, case, profile)
        worker = self.workers.get(spec)
        if worker is None:
            worker = self.workers[spec] = Worker(spec)
        timeout = self.config.getoption("case_timeout") or float(getattr(adapter, "timeout", 60.0))
        return worker.evaluate(case, profile, timeout)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect verdicts (on the xdist controller they arrive with the workers' reports)."""
        v = getattr(report, "xentspec_verdict", None)
        if v is not None:
            self.verdicts[report.nodeid] = v
            self.active = True
            # Shared property runs (--xentspec-shared-properties) judge several adapters per test item.
            for extra in getattr(report, "xentspec_extra_verdicts", None) or ():
                self.verdicts[f"{report.nodeid}@{extra['adapter']}"] = extra
        elif report.failed and f"::{TEST_FUNCTION}[" in report.nodeid and report.nodeid not in self.verdicts \
                and self.adapters:
            # An xdist worker died running this test: the item's report carries no verdict.
            self.verdicts[report.nodeid] = _crashed_verdict(self, report)

    def close(self) -> None:
        """Stop the worker subprocesses."""
        for w in self.workers.values():
            w.close()
        self.workers.clear()


STATE_KEY = pytest.StashKey[RunState]()
REPORT_KEY = pytest.StashKey[dict]()


def _state(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Create the run state; with ``--adapter`` load the adapters now, so a bad name fails early."""
    config.addinivalue_line("markers", "xentspec: a conformance case x adapter (added by the xentspec plugin)")
    specs = config.getoption("adapter") or ["numpy"]
    st = RunState(config=config, specs=list(dict.fromkeys(specs)), profile_opt=config.getoption("profile"))
    config.stash[STATE_KEY] = st
    config.pluginmanager.register(st, "xentspec-run-state")
    if config.getoption("adapter"):
        st.active = True
        st.load_adapters()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop worker subprocesses."""
    st = config.stash.get(STATE_KEY, None)
    if st is not None:
        st.close()


# --------------------------------------------------------------------------- collection

class CaseRun:
    """The parameter of one test: a case, an adapter and a profile; runs and judges itself."""

    def __init__(self, state: RunState, spec: str, case: Any, profile: str, expectation: Any = None) -> None:
        self.state, self.spec, self.case, self.profile = state, spec, case, profile
        self.expectation = expectation
        self.verdict: dict | None = None

    @property
    def adapter_name(self) -> str:
        """The adapter's display name in ids and reports."""
        return self.state.names[self.spec]

    def __repr__(self) -> str:
        return f"{self.adapter_name}-{self.case.id}"

    def output_dtype(self) -> str:
        """The dtype the result must have (by the spec's Keras rules)."""
        from xentspec.spec import compute_dtype

        return compute_dtype(self.case, self.profile)

    def skeleton(self) -> dict:
        """A verdict with no judgement, for skipped or errored runs."""
        from .verdict import skeleton

        return skeleton(self.case, self.adapter_name, self.profile, self.output_dtype())

    def check(self) -> None:
        """Evaluate, judge, and fail the test with the verdict's message unless it passed."""
        from xentspec.spec import get_profile

        from .verdict import judge

        self.verdict = self.skeleton()
        truth = self.state.truth(self.case, self.profile)
        outcome = self.state.evaluate(self.spec, self.case, self.profile)
        exp = self.expectation
        override = exp.ulps if exp is not None and exp.ulps is not None else None
        adapter = self.state.adapters[self.spec]
        self.verdict = judge(
            self.case, truth, outcome, adapter=self.adapter_name, profile=self.profile,
            override_ulps=override, override_source="expectation" if override is not None else "default",
            default_reduction=get_profile(self.profile).default_reduction,
            repro=lambda: adapter.repro(self.case, self.profile, self.spec))
        if override is not None:
            self.verdict["reason"] = f"budget {override:g} ulp: {exp.describe()}"
        if self.verdict["outcome"] != "passed":
            msg = f"{self.verdict['outcome']}: {self.verdict['message']}"
            if outcome.traceback and outcome.category is None:
                msg += "\n\nadapter traceback:\n" + outcome.traceback
            pytest.fail(msg, pytrace=False)


def _params(state: RunState) -> list[Any]:
    cases = state.load_cases()
    state.load_expectations()
    out = []
    for spec, adapter in state.adapters.items():
        profile = state.profile_of(spec)
        name = state.names[spec]
        for case in cases:
            exp = None
            marks: list[Any] = [pytest.mark.xentspec]
            if not case.applies_to(profile):
                marks.append(pytest.mark.skip(reason=f"case does not list profile {profile} "
                                                     f"(it lists {', '.join(case.profiles)})"))
            else:
                missing = adapter.capabilities.missing(case, profile)
                if missing:
                    marks.append(pytest.mark.skip(reason=f"adapter {name} does not declare capability {missing}"))
                else:
                    from .expectations import match

                    exp = match(state.expectations[spec], case.id, name, profile)
                    if exp is not None and exp.ulps is None:
                        marks.append(pytest.mark.xfail(strict=True, reason=f"known deviation: {exp.describe()}"))
            out.append(pytest.param(CaseRun(state, spec, case, profile, exp), marks=marks,
                                    id=f"{name}-{case.id}"))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the conformance test function with every case x adapter."""
    if PARAM not in metafunc.fixturenames:
        return
    st = _state(metafunc.config)
    st.active = True
    if not st.adapters:
        st.load_adapters()
    metafunc.parametrize(PARAM, _params(st))
    # Stale expectation entries: warn once (on the first xdist worker only).
    wid = getattr(metafunc.config, "workerinput", {}).get("workerid", "gw0")
    if wid == "gw0":
        from .expectations import describe_unmatched

        for spec in st.adapters:
            for line in describe_unmatched(st.expectations[spec]):
                warnings.warn(XentspecWarning(f"expectation entry {line}"), stacklevel=1)


# --------------------------------------------------------------------------- reporting

def _caserun(item: pytest.Item) -> CaseRun | None:
    cs = getattr(item, "callspec", None)
    if cs is None:
        return None
    p = cs.params.get(PARAM, cs.params.get(PROPERTY_PARAM))  # property tests report like cases
    return p if isinstance(p, CaseRun) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--no-builtin`` deselects the property tests too: like the built-in cases, they are built-in content."""
    if not config.getoption("no_builtin"):
        return
    drop = [i for i in items if PROPERTY_PARAM in getattr(i, "fixturenames", ())]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if PROPERTY_PARAM not in getattr(i, "fixturenames", ())]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Attach the verdict (outcome as pytest saw it) to the report of the phase that decides the test."""
    outcome = yield
    run = _caserun(item)
    if run is None:
        return
    rep = outcome.get_result()
    decisive = rep.when == "call" or (rep.when == "setup" and not rep.passed)
    if not decisive:
        return
    v = dict(run.verdict) if run.verdict is not None else run.skeleton()
    wasxfail = hasattr(rep, "wasxfail")
    longrepr = str(rep.longrepr) if rep.longrepr is not None else ""
    if rep.skipped and wasxfail:
        v["outcome"], v["reason"] = "xfailed", rep.wasxfail or None
    elif rep.skipped:
        v["outcome"] = "skipped"
        v["reason"] = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else longrepr
        if isinstance(v["reason"], str) and v["reason"].startswith("Skipped: "):
            v["reason"] = v["reason"][len("Skipped: "):]
    elif rep.passed and wasxfail:
        v["outcome"], v["reason"] = "xpassed", rep.wasxfail or None
    elif rep.failed and "[XPASS(strict)]" in longrepr:
        v["outcome"] = "xpassed"
        v["reason"] = longrepr.replace("[XPASS(strict)]", "").strip() or None
        v["message"] = "unexpected pass of a strict xfail: the expectation entry is stale"
    elif rep.failed and v["outcome"] not in ("failed", "crashed", "timeout"):
        v["outcome"] = "error"
        v["message"] = (call.excinfo.exconly() if call.excinfo is not None else longrepr)[-4000:]
    elif rep.passed:
        v["outcome"] = "passed"
    rep.xentspec_verdict = v
    if getattr(run, "extra_verdicts", None):
        rep.xentspec_extra_verdicts = [dict(x) for x in run.extra_verdicts]
    item.user_properties.append(("xentspec_outcome", v["outcome"]))
    if v.get("max_ulp_error") is not None:
        item.user_properties.append(("xentspec_max_ulp_error", v["max_ulp_error"]))


def _crashed_verdict(st: RunState, report: pytest.TestReport) -> dict:
    from .verdict import skeleton

    param = report.nodeid.split(f"::{TEST_FUNCTION}[", 1)[1].rstrip("]")
    spec = next((s for s, n in sorted(st.names.items(), key=lambda kv: -len(kv[1]))
                 if param.startswith(n + "-")), next(iter(st.adapters)))
    cid = param[len(st.names[spec]) + 1:]
    case = next((c for c in (st.cases or []) if c.id == cid), None)
    if case is None:
        from types import SimpleNamespace

        case = SimpleNamespace(id=cid, loss="?", form="?", dtype="?", tags=())
    v = skeleton(case, st.names[spec], st.profile_of(spec), "?")
    v["outcome"] = "crashed"
    v["message"] = (str(report.longrepr) or "the test process died")[-2000:]
    return v


def _platform() -> dict[str, str]:
    import numpy as np

    return {"python": platform.python_version(), "system": platform.system(), "machine": platform.machine(),
            "numpy": np.__version__}


def build_report(st: RunState) -> dict:
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
        }
    args = [str(a) for a in st.config.invocation_params.args]
    return {
        "schema": "xentspec-report/1",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": int(st.config.getoption("xentspec_seed") or 0),
        "xentspec_version": __version__,
        "platform": _platform(),
        "run": {"adapters": list(st.names.values()), "profile": st.profile_opt,
                "spec_paths": [str(p) for p in st.config.getoption("spec") or []],
                "command": os.environ.get("XENTSPEC_COMMAND") or shlex.join(["pytest", *args])},
        "adapters": adapters,
        "verdicts": verdicts,
        "summary": summary,
    }


def write_report(report: dict, outdir: str, html: bool = True) -> dict[str, Any]:
    """Write the report with the reports package (falls back to plain JSON if it is missing)."""
    try:
        from .reports import write_reports
    except ImportError:
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "report.json.tmp"
        tmp.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(out / "report.json")
        return {"json": out / "report.json"}
    return dict(write_reports(report, outdir, html=html))


def format_summary(report: dict) -> str:
    """A plain-text table: one row per adapter with its counts, then the failures."""
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
    bad = [v for v in report["verdicts"] if v["outcome"] in ("failed", "error", "crashed", "timeout", "xpassed")]
    for v in bad[:30]:
        first = (v.get("message") or "").splitlines()[0] if v.get("message") else ""
        lines.append(f"{v['outcome'].upper():8} {v['adapter']}-{v['case']}: {first[:150]}")
    if len(bad) > 30:
        lines.append(f"... and {len(bad) - 30} more")
    return "\n".join(lines)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Build and write the report (on the xdist controller or a plain session), compare with --baseline."""
    config = session.config
    st = config.stash.get(STATE_KEY, None)
    if st is None or _is_xdist_worker(config) or not (st.active and (st.verdicts or config.getoption("adapter"))):
        return
    if not st.adapters:
        try:
            st.load_adapters()
        except pytest.UsageError:
            pass
    from .export import export_dir, write_exports

    write_exports(list(st.verdicts.values()), export_dir(config))  # property failures as spec case files
    report = build_report(st)
    st.report = report
    config.stash[REPORT_KEY] = report
    outdir = config.getoption("xentspec_report")
    if outdir:
        st.written = write_report(report, outdir, html=not config.getoption("xentspec_no_html"))
    baseline = config.getoption("baseline")
    if baseline:
        from .reports import compare_reports, load_report

        st.regressions = compare_reports(load_report(baseline), report)
        if not st.regressions.ok and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the per-adapter table (and the baseline comparison) at the end of the run."""
    st = config.stash.get(STATE_KEY, None)
    if st is None or st.report is None:
        return
    tr = terminalreporter
    tr.section("xentspec conformance")
    tr.write_line(format_summary(st.report))
    if st.written:
        for kind, path in st.written.items():
            if path:
                tr.write_line(f"{kind}: {path}")
    if st.regressions is not None:
        tr.write_line(st.regressions.to_text() if hasattr(st.regressions, "to_text") else str(st.regressions))

