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

import os
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
                help="per-case timeout (default: the adapter's, 60 s, for adapters run in a worker); "
                     "given explicitly, it runs in-process adapters in a worker too, so it applies to them")
    g.addoption("--run-budget", type=float, default=None, metavar="SECONDS",
                help="stop the run when it has taken this long (default 3600; 0: no budget); "
                     "the partial report goes to <report>/interrupted/")
    g.addoption("--max-timeouts", type=int, default=None, metavar="K",
                help="stop the run after K cases timed out (default 3; 0: never)")
    g.addoption("--load-timeout", type=float, default=None, metavar="SECONDS",
                help="seconds an adapter may take to import and construct (default 120)")
    g.addoption("--xentspec-terminal", action="store_true", default=False,
                help="the terminal output of `xentspec run`: a progress bar (count, ETA) instead of pytest's "
                     "dots, one line per failing case")
    g.addoption("--xentspec-case", action="append", default=[], metavar="ID",
                help="run only the cases whose id matches ID (an fnmatch glob; repeatable)")
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
    selected: int | None = None  # conformance items selected to run (None: not known)
    interruption: Any = None  # completion.Interruption when the run cannot finish
    current: str | None = None  # the test id running now (for "interrupted while ...")
    partial: bool = False  # the report went to <out>/interrupted/
    notes: list[str] = field(default_factory=list)  # lines for the terminal summary
    progress: Any = None  # terminal.Progress of `xentspec run`
    limits: Any = None  # limits.RunLimits (the stop rules), on the process that collects verdicts
    session: Any = None

    # -- adapters
    def load_adapters(self) -> None:
        """Load every ``--adapter`` (a UsageError lists the available ones for an unknown name)."""
        from xentspec.adapters.registry import AdapterNotFound, load_adapter, resolve_spec

        from xentspec.spec import SpecError, get_profile

        if self.profile_opt is not None:
            try:
                get_profile(self.profile_opt)
            except SpecError as exc:
                raise pytest.UsageError(exc.message) from None
        for raw in self.specs:
            spec = resolve_spec(raw)
            if spec in self.adapters:
                continue
            try:
                adapter = load_adapter(spec, timeout=self.load_timeout())
            except AdapterNotFound as exc:
                raise pytest.UsageError(str(exc)) from None
            name = str(adapter.name)
            taken = set(self.names.values())
            unique, n = name, 2
            while unique in taken:
                unique, n = f"{name}{n}", n + 1
            self.adapters[spec], self.names[spec] = adapter, unique
            prof = self.profile_of(spec)
            from xentspec.spec.profiles import same_base

            allowed = {adapter.profile} | set(getattr(adapter.capabilities, "profiles", ()) or ())
            if not any(same_base(prof, a) for a in allowed):
                raise pytest.UsageError(f"adapter {unique} cannot be judged under profile {prof!r}; "
                                        f"it declares: {', '.join(sorted(allowed))}")
            _note_timeout_isolation(self, spec)

    def load_timeout(self) -> float:
        """Seconds an adapter may take to load (``--load-timeout``)."""
        from xentspec.adapters.registry import DEFAULT_LOAD_TIMEOUT

        value = self.config.getoption("load_timeout")
        return DEFAULT_LOAD_TIMEOUT if value is None else float(value)

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

        if self.expectations and set(self.expectations) == set(self.adapters):
            return
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
        if not self.isolated(spec):
            return evaluate_inprocess(adapter, case, profile)
        worker = self.workers.get(spec)
        if worker is None:
            worker = self.workers[spec] = Worker(spec, startup_timeout=self.load_timeout())
        timeout = self.config.getoption("case_timeout") or float(getattr(adapter, "timeout", 60.0))
        return worker.evaluate(case, profile, timeout)

    def isolated(self, spec: str) -> bool:
        """Whether an adapter runs in a worker: ``--isolate``/``--no-isolate``, else its own ``isolate``,
        and always when ``--case-timeout`` is given (a timeout needs a process that can be killed)."""
        opt = self.config.getoption("xentspec_isolate")
        if opt is not None:
            return bool(opt)
        return bool(getattr(self.adapters[spec], "isolate", True)) or \
            self.config.getoption("case_timeout") is not None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect verdicts (on the xdist controller they arrive with the workers' reports)."""
        v = getattr(report, "xentspec_verdict", None)
        if v is not None:
            self.verdicts[report.nodeid] = v
            self.active = True
            if self.progress is not None:
                self.progress.advance(f"{v['adapter']}-{v['case']}")
            if self.limits is not None:
                reason = self.limits.record(v["outcome"])
                if reason:
                    self.stop(reason)
            # Shared property runs (--xentspec-shared-properties) judge several adapters per test item.
            for extra in getattr(report, "xentspec_extra_verdicts", None) or ():
                self.verdicts[f"{report.nodeid}@{extra['adapter']}"] = extra
        elif report.failed and f"::{TEST_FUNCTION}[" in report.nodeid and report.nodeid not in self.verdicts \
                and self.adapters:
            # An xdist worker died running this test: the item's report carries no verdict.
            self.verdicts[report.nodeid] = _crashed_verdict(self, report)

    def stop(self, reason: str) -> None:
        """A stop rule fired: end the run after the current case (plain session or xdist controller)."""
        from .completion import Interruption

        if self.interruption is None:
            self.interruption = Interruption("stop_rule", reason)
        if self.session is not None:
            self.session.shouldstop = reason
        dsession = self.config.pluginmanager.getplugin("dsession")
        if dsession is not None and not getattr(dsession, "shouldstop", False):
            dsession.shouldstop = reason

    def close(self) -> None:
        """Stop the worker subprocesses."""
        for w in self.workers.values():
            w.close()
        self.workers.clear()


def _note_timeout_isolation(st: RunState, spec: str) -> None:
    """Say when --case-timeout moves an in-process adapter into a worker; refuse it with --no-isolate."""
    timeout = st.config.getoption("case_timeout")
    if timeout is None:
        return
    if st.config.getoption("xentspec_isolate") is False:
        raise pytest.UsageError("--case-timeout needs a worker subprocess to stop a case; it cannot apply "
                                "with --no-isolate")
    adapter = st.adapters[spec]
    if not getattr(adapter, "isolate", True):
        st.notes.append(f"adapter {st.names[spec]} runs in a worker subprocess because --case-timeout was given "
                        f"({timeout:g} s per case)")


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
        _preload(st)


def _preload(st: RunState) -> None:
    """Load cases and expectations now, so that a malformed file is a usage error, not a collection error."""
    from xentspec.spec.errors import SpecError

    from .expectations import ExpectationError

    try:
        st.load_cases()
        st.load_expectations()
    except (SpecError, ExpectationError) as exc:
        raise pytest.UsageError(str(exc)) from None


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
            self.verdict["expectation"] = exp.to_json()
        elif exp is not None:
            self.settle(exp, truth, outcome)
        if self.verdict["outcome"] != "passed":
            msg = f"{self.verdict['outcome']}: {self.verdict['message']}"
            if outcome.traceback and outcome.category is None:
                msg += "\n\nadapter traceback:\n" + outcome.traceback
            pytest.fail(msg, pytrace=False)


    def settle(self, exp: Any, truth: Any, outcome: Any) -> None:
        """Hold the verdict against a known-failure entry: xfailed when it fails as stated.

        A pass makes it ``xpassed`` (the entry is stale: the run fails); a
        failure other than the one the entry states stays ``failed`` with
        ``wrong_reason`` set and the mismatch at the head of its message.
        """
        from xentspec.spec import get_profile

        from .verdict import got_and_budgets

        v = self.verdict
        v["expectation"] = exp.to_json()
        if v["outcome"] == "passed":
            v["outcome"], v["reason"] = "xpassed", f"known deviation: {exp.describe()}"
            v["message"] = (f"unexpected pass: the case conforms, so expectation entry {exp.source} is stale "
                            "(remove it)")
            return
        why = None
        if exp.fails is not None:
            got, budgets = got_and_budgets(self.case, truth, outcome, get_profile(self.profile).default_reduction)
            why = exp.fails.mismatch(v, got, budgets)
        if why is None:
            v["outcome"], v["reason"] = "xfailed", f"known deviation: {exp.describe()}"
            pytest.xfail(v["reason"])
        v["wrong_reason"] = True
        v["message"] = (f"wrong reason: expectation entry {exp.source} states {exp.fails.describe()}, "
                        f"but {why}\n{v['message']}")


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
            elif _unavailable(adapter):
                marks.append(pytest.mark.skip(reason=f"adapter {name} is unavailable: {_unavailable(adapter)}"))
            else:
                missing = adapter.capabilities.missing(case, profile)
                if missing:
                    why = (getattr(adapter.capabilities, "notes", None) or {}).get(missing)
                    marks.append(pytest.mark.skip(reason=f"adapter {name} does not declare capability {missing}"
                                                         + (f" ({why})" if why else "")))
                else:
                    from .expectations import match

                    exp = match(state.expectations[spec], case.id, name, profile)
            out.append(pytest.param(CaseRun(state, spec, case, profile, exp), marks=marks,
                                    id=f"{name}-{case.id}"))
    return out


def _unavailable(adapter: Any) -> str | None:
    """Why an adapter cannot run here (``adapter.unavailable()``, e.g. its framework is not installed), or None."""
    fn = getattr(adapter, "unavailable", None)
    return fn() if callable(fn) else None


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
        from .expectations import describe_unmatched, describe_unstated
        from .propertyrun import property_ids

        for spec in st.adapters:
            entries = st.expectations[spec]
            unmatched = describe_unmatched(entries, property_ids(), st.names[spec], st.profile_of(spec))
            for line in unmatched + describe_unstated(entries):
                warnings.warn(XentspecWarning(f"expectation entry {line}"), stacklevel=1)


# --------------------------------------------------------------------------- reporting

def _caserun(item: pytest.Item) -> CaseRun | None:
    cs = getattr(item, "callspec", None)
    if cs is None:
        return None
    p = cs.params.get(PARAM, cs.params.get(PROPERTY_PARAM))  # property tests report like cases
    return p if isinstance(p, CaseRun) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--no-builtin`` deselects the property tests too: like the built-in cases, they are built-in content.

    ``--xentspec-case PATTERN`` keeps only the conformance items whose case id matches a pattern.
    """
    if config.getoption("no_builtin"):
        drop = [i for i in items if PROPERTY_PARAM in getattr(i, "fixturenames", ())]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = [i for i in items if PROPERTY_PARAM not in getattr(i, "fixturenames", ())]
    patterns = config.getoption("xentspec_case") or []
    if patterns:
        import fnmatch

        def keep(item: pytest.Item) -> bool:
            run = _caserun(item)
            if run is None:
                return not _caserun_param(item)
            cid = run.case.id if PARAM in item.fixturenames else f"property/{getattr(run, 'test', '')}"
            return any(cid == p or fnmatch.fnmatchcase(cid, p) for p in patterns)

        drop = [i for i in items if not keep(i)]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = [i for i in items if keep(i)]


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
    params = getattr(run.case, "params", None)
    if params is not None and "params" not in v:  # the case's keywords (from_logits, ...): findings rows
        v["params"] = {str(k): (x if x is None or isinstance(x, (bool, int, float, str)) else str(x))
                       for k, x in sorted(params.items())}
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
    elif rep.failed and v["outcome"] not in ("failed", "crashed", "timeout", "xpassed"):
        v["outcome"] = "error"
        v["message"] = (call.excinfo.exconly() if call.excinfo is not None else longrepr)[-4000:]
    elif rep.passed:
        v["outcome"] = "passed"
    _note_property_pass(v)
    rep.xentspec_verdict = v
    if getattr(run, "extra_verdicts", None):
        rep.xentspec_extra_verdicts = [dict(x) for x in run.extra_verdicts]
    item.user_properties.append(("xentspec_outcome", v["outcome"]))
    if v.get("max_ulp_error") is not None:
        item.user_properties.append(("xentspec_max_ulp_error", v["max_ulp_error"]))


def _note_property_pass(v: dict) -> None:
    """A passing property verdict with a large worst ULP error says why it passed (reporting only)."""
    from .verdict import LARGE_ULP

    u = v.get("max_ulp_error")
    if v["outcome"] != "passed" or v.get("note") or not str(v.get("case", "")).startswith("property/") \
            or not isinstance(u, (int, float)) or u <= LARGE_ULP:
        return
    margin = v.get("min_margin")
    v["note"] = (f"passed: every drawn example was within its own budget (worst margin "
                 f"{margin:.3g} ulp); a worst error of {u:.3g} ulp comes from an ill-conditioned example whose "
                 "condition-aware budget is as large" if isinstance(margin, (int, float)) else
                 f"passed: every drawn example was within its own budget (worst error {u:.3g} ulp)")


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


# The end of the session lives in .session; its hooks are this plugin's hooks.
from .session import (  # noqa: E402,F401 - re-exported: pytest registers the hooks found here
    _caserun_param, build_report, format_summary, pytest_collection_finish, pytest_keyboard_interrupt,
    pytest_report_teststatus, pytest_runtest_protocol, pytest_sessionfinish, pytest_sessionstart,
    pytest_terminal_summary, pytest_xdist_node_collection_finished, write_report,
)
