"""Run the whole suite over every mutant (and the unmutated kernel) and say who kills whom.

One pytest session, in this process (``pytest.main``), with every mutant and
a control per profile (the unmutated kernel, :data:`.mutants.CONTROLS`) as
``--adapter``: the spec cases and the property tests (``ci`` hypothesis
profile unless told otherwise, a fixed seed, no shrinking: a property only
has to fail once to kill). The property tests run shared
(``--xentspec-shared-properties``): each runs once per profile, led by the
control, and judges every mutant of that profile on the control's examples,
so hypothesis draws the examples once instead of once per mutant. A mutant is
killed by a property when one of the examples that the ``ci`` run draws for
a conforming implementation falsifies it (``separate=True`` runs every
mutant's own hypothesis run instead, which targets its own errors; slower).
With pytest-xdist installed the session runs on several processes. The
reference cache on disk serves every truth after the first run.

A mutant is *killed by the suite* when any of its verdicts fails (failed,
error, crashed, timeout, xpassed); *killed by the properties* when one of its
property verdicts fails, which is the kill with every built-in spec case
excluded (property verdicts do not depend on the spec cases). The control
must pass everything: a case or property that fails on the unmutated kernel
proves nothing about a mutant, is not counted as a kill, and makes the run
fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from .mutants import CONTROLS, MUTANTS, spec_of
from .patching import Mutant

__all__ = ["MutantResult", "MutationRun", "pytest_argv", "run_mutation", "analyse"]

FAILING = ("failed", "error", "crashed", "timeout", "xpassed")


@dataclass
class MutantResult:
    """What killed one mutant."""

    name: str
    spec: str
    profile: str
    bug: str
    sources: tuple[str, ...]
    blind: str | None
    cases: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)

    @property
    def killed(self) -> bool:
        """Some verdict of the full suite failed."""
        return bool(self.cases or self.properties)

    @property
    def killed_by_properties(self) -> bool:
        """Some property failed (the kill with the built-in spec cases excluded)."""
        return bool(self.properties)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {"name": self.name, "spec": self.spec, "profile": self.profile, "bug": self.bug,
                "sources": list(self.sources), "blind": self.blind, "killed": self.killed,
                "killed_by_properties": self.killed_by_properties, "cases": self.cases,
                "properties": self.properties}


@dataclass
class MutationRun:
    """The outcome of a mutation run."""

    mutants: list[MutantResult]
    control_failures: list[str]
    exit_status: int
    hypothesis_profile: str
    seed: int

    @property
    def survivors(self) -> list[MutantResult]:
        """Mutants no verdict of the suite kills."""
        return [m for m in self.mutants if not m.killed]

    @property
    def property_survivors(self) -> list[MutantResult]:
        """Mutants the properties do not kill although they could (not blind by construction)."""
        return [m for m in self.mutants if not m.killed_by_properties and not m.blind]

    def properties_kill_rate(self) -> tuple[int, int]:
        """(killed by properties, mutants the properties can see)."""
        seen = [m for m in self.mutants if not m.blind]
        return sum(m.killed_by_properties for m in seen), len(seen)

    def ok(self, strict_properties: bool = True) -> bool:
        """No survivor of the suite, a clean control, and (strict) no avoidable property survivor."""
        return not self.survivors and not self.control_failures and self.exit_status in (0, 1) and not (
            strict_properties and self.property_survivors)


def _xdist() -> bool:
    return importlib.util.find_spec("xdist") is not None


def controls_for(mutants: Sequence[type[Mutant]]) -> list[type[Mutant]]:
    """The control adapters of the profiles the mutants are judged under (keras3 always)."""
    wanted = {"keras3"} | {m.profile for m in mutants}
    return [c for p, c in CONTROLS.items() if p in wanted]


def pytest_argv(mutants: Sequence[type[Mutant]], out: str, *, hypothesis_profile: str = "ci", seed: int = 0,
                processes: int = 1, keyword: str | None = None, separate: bool = False) -> list[str]:
    """The pytest command line of a mutation run over ``mutants`` (their controls first)."""
    argv = ["--pyargs", "xentspec.conformance", "--import-mode=importlib", "-p", "no:cacheprovider",
            "-p", "no:hypothesispytest", "-p", "no:benchmark", "-q", "--tb=no", "-rN",
            "--xentspec-report", out, "--xentspec-no-html", "--xentspec-hypothesis-profile", hypothesis_profile,
            "--xentspec-seed", str(seed), "--xentspec-no-shrink", "-o", "xfail_strict=true",
            "-W", "ignore::pytest.PytestWarning"]
    if not separate:
        argv.append("--xentspec-shared-properties")
    for cls in [*controls_for(mutants), *mutants]:
        argv += ["--adapter", spec_of(cls)]
    if processes > 1 and _xdist():
        argv += ["-n", str(processes)]
    if keyword:
        argv += ["-k", keyword]
    return argv


class _Capture:
    report: dict | None = None

    def pytest_sessionfinish(self, session: Any) -> None:
        from xentspec.conformance.plugin import REPORT_KEY

        self.report = session.config.stash.get(REPORT_KEY, None)


def analyse(report: dict, mutants: Sequence[type[Mutant]], exit_status: int, hypothesis_profile: str,
            seed: int, shared: bool = False) -> MutationRun:
    """Per mutant, the failing cases and properties (those failing on its profile's control excluded).

    In a shared run a property's examples that fail on the control are skipped
    for the mutants already, so a property failing on the control is not
    excluded as a whole (a spec case still is).
    """
    controls = {c.profile: c().name for c in controls_for(mutants)}
    control_bad = {p: {v["case"] for v in report["verdicts"] if v["adapter"] == name and v["outcome"] in FAILING}
                   for p, name in controls.items()}
    results = []
    for cls in mutants:
        m = cls()
        r = MutantResult(m.name, spec_of(cls), m.profile, m.bug, tuple(m.sources), m.blind)
        excluded = {c for c in control_bad.get(m.profile, set()) if not (shared and c.startswith("property/"))}
        for v in report["verdicts"]:
            if v["adapter"] != m.name or v["outcome"] not in FAILING or v["case"] in excluded:
                continue
            (r.properties if v["case"].startswith("property/") else r.cases).append(v["case"])
        r.cases.sort()
        r.properties.sort()
        results.append(r)
    bad = sorted(f"{controls[p]}: {c}" for p, cases in control_bad.items() for c in cases)
    return MutationRun(results, bad, exit_status, hypothesis_profile, seed)


def run_mutation(out: str, *, mutants: Sequence[type[Mutant]] = MUTANTS, hypothesis_profile: str = "ci",
                 seed: int = 0, processes: int | None = None, keyword: str | None = None,
                 separate: bool = False) -> MutationRun:
    """Run the suite over ``mutants`` and their controls in this process; the report goes to ``out``."""
    import pytest

    if processes is None:
        processes = min(2, os.cpu_count() or 1)
    os.makedirs(out, exist_ok=True)
    capture = _Capture()
    argv = pytest_argv(mutants, out, hypothesis_profile=hypothesis_profile, seed=seed, processes=processes,
                       keyword=keyword, separate=separate)
    # pytest's own output (hundreds of expected failures) goes to a log beside the report.
    with open(os.path.join(out, "pytest.log"), "w", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        status = int(pytest.main(argv, plugins=[capture]))
    if capture.report is None:
        raise RuntimeError(f"the mutation run produced no report (pytest exit status {status}); "
                           f"see {os.path.join(out, 'pytest.log')}")
    return analyse(capture.report, mutants, status, hypothesis_profile, seed, shared=not separate)
