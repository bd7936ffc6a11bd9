"""One property test on one adapter: hypothesis runs, and the verdict the plugin reports.

:class:`PropertyRun` is the parameter of every test of ``test_properties.py``
(a :class:`~xentspec.conformance.plugin.CaseRun`, so the plugin reports it
like a spec case). :meth:`PropertyRun.explore` runs hypothesis over a
strategy with a check that returns one example's verdict:

* deterministic: the settings profile has no database and ``derandomize``,
  the seed is derived from the property id and ``--xentspec-seed``, and
  hypothesis' draws of module literals are off
  (:func:`~xentspec.conformance.determinism.independent_draws`); nothing read
  from the reference cache changes a draw (cold and warm caches answer alike);
* ``target()``: every example reports its worst ULP error and its smallest
  margin, so hypothesis' targeting phase pushes accuracy failures towards
  their worst;
* a failure ends the test with a short message (case id, got, truth or the
  other side of the law, ULPs, where the case is exported); the verdict keeps
  the full falsifying case as YAML, and the plugin exports it
  (:mod:`xentspec.conformance.export`);
* ``--xentspec-no-shrink`` stops at the first falsifying example (the
  mutation run only needs to know that a property kills a mutant).
"""

from __future__ import annotations

import dataclasses
import math
import time
import zlib
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from hypothesis import Phase, given, reject, seed, settings, target
from hypothesis import strategies as st

from xentspec.conformance.caseyaml import case_yaml
from xentspec.conformance.determinism import independent_draws
from xentspec.conformance.plugin import CaseRun
from xentspec.spec.case import Case
from xentspec.spec.profiles import get_profile

__all__ = ["PropertyRun", "PropertyFailure", "label", "property_ids"]


class PropertyFailure(AssertionError):
    """An example falsified the property (its verdict is the run's verdict)."""


def label(cid: str) -> Any:
    """The case-like description a property verdict carries (it spans losses, forms and dtypes)."""
    return SimpleNamespace(id=cid, loss="*", form="property", dtype="*", tags=("property",))


class PropertyRun(CaseRun):
    """A property test on one adapter: runs hypothesis and leaves the verdict the plugin reports."""

    def __init__(self, state: Any, spec: str, profile: str, test: str, hsettings: settings, hname: str,
                 base_seed: int, *, shrink: bool = True, export_dir: str | None = None) -> None:
        super().__init__(state, spec, label(f"property/{test}"), profile)
        self.test, self.hsettings, self.hname, self.base_seed = test, hsettings, hname, base_seed
        self.caps = state.adapters[spec].capabilities
        self.budget_override: float | None = None
        self.shrink, self.export_dir = shrink, export_dir
        self.run_seed: int | None = None
        self.followers: list[PropertyRun] = []  # adapters judged on this run's examples (shared runs)
        self.first_failure: dict | None = None
        self.extra_verdicts: list[dict] = []
        self.seen: dict[str, Any] = {}
        self.timed_out: str | None = None  # the first drawn example the adapter did not finish

    def output_dtype(self) -> str:
        """A property spans dtypes: its verdict names none."""
        return "*"

    def name_variant(self, variant: str) -> None:
        """Name the verdict after its variant before :meth:`limits`: a skip there must carry the variant's id,
        or the variants' verdicts share one key and the report is invalid."""
        self.case = label(f"property/{self.test}" + (f"/{variant}" if variant else ""))

    def limits(self, **need: Any) -> dict[str, Any]:
        """Keywords of :func:`strategies.cases` within the adapter's capabilities; skips what it lacks."""
        caps = self.caps
        kw = {"allowed_dtypes": sorted(caps.dtypes & {"float16", "float32", "float64"}),
              "weights": "sample_weight" in caps.params, "ignore_class": "ignore_class" in caps.params,
              "label_smoothing": "label_smoothing" in caps.params, "other_axis": "axis" in caps.params,
              "lean": self.isolated or bool(getattr(self.state.adapters[self.spec], "compiles_per_shape", False))}
        for key, value in need.items():
            if key in ("losses", "forms"):
                have = caps.losses if key == "losses" else caps.forms
                value = [v for v in value if v in have]
                if not value:
                    pytest.skip(f"adapter {self.adapter_name} declares none of {key} {need[key]}")
            if key == "reductions":
                value = [r for r in value if r in caps.reductions and r in get_profile(self.profile).reductions]
            if key == "from_logits" and value and "from_logits" not in caps.params:
                pytest.skip(f"adapter {self.adapter_name} does not declare capability parameter from_logits")
            for flag in ("ignore_class", "weights", "label_smoothing"):
                if key == f"require_{flag}" and value and not kw[flag]:
                    pytest.skip(f"adapter {self.adapter_name} does not declare capability {flag}")
            kw[key] = value if key not in kw else (kw[key] and value)
        if not kw["allowed_dtypes"]:
            pytest.skip(f"adapter {self.adapter_name} declares none of float16/32/64")
        return kw

    @property
    def isolated(self) -> bool:
        """The run evaluates this adapter in a worker process (it then draws the lean shape buckets)."""
        opt = self.state.config.getoption("xentspec_isolate")
        return bool(getattr(self.state.adapters[self.spec], "isolate", True) if opt is None else opt)

    def evaluate(self, case: Case) -> Any:
        """The adapter's outcome on ``case`` (in its worker when the run isolates it).

        A drawn example that times out ends the property: it and every later example are
        rejected without reaching the adapter (hypothesis would otherwise replay the hang
        while shrinking), and the property's verdict is a timeout, which ``--max-timeouts``
        counts like a case's.
        """
        if self.timed_out is not None:
            reject()
        outcome = self.state.evaluate(self.spec, case, self.profile)
        if getattr(outcome, "status", None) == "timeout":
            self.timed_out = f"{case.id}: {outcome.message}"
            reject()
        return outcome

    def runnable(self, case: Case, name: str = "case") -> Case:
        """``case`` named ``<property id>/<name>`` if the adapter declares all it needs (else rejected)."""
        if self.caps.missing(case, self.profile) is not None:
            reject()
        return dataclasses.replace(case, id=f"{self.case.id}/{name}")

    # ------------------------------------------------------------------ hypothesis

    def _prepare(self, cid: str) -> str | None:
        """Name the run ``cid`` and read its expectation; returns the skip reason of a known deviation."""
        from xentspec.conformance.expectations import match

        self.case = label(cid)
        self.verdict = self.skeleton()
        self.seen = {"n": 0, "max_ulp": None, "min_margin": None, "elements": 0, "seconds": 0.0}
        self.run_seed = zlib.crc32(f"{cid}:{self.base_seed}".encode())
        exp = match(self.state.expectations.get(self.spec, []), cid, self.adapter_name, self.profile)
        self.expectation = exp
        self.budget_override = exp.ulps if exp is not None else None
        # An entry stating its failure (`fails`) rejects the examples that fail that way and the
        # property goes on; an entry stating nothing skips the property (the older meaning).
        self.known = exp if exp is not None and exp.ulps is None and exp.fails is not None else None
        self.seen["known"] = 0
        return (f"known deviation: {exp.describe()}" if exp is not None and exp.ulps is None and self.known is None
                else None)

    def is_known(self, v: dict) -> bool:
        """Whether the failed example verdict ``v`` fails as this property's expectation entry states."""
        if self.known is None or v.get("outcome") not in ("failed", "error"):
            return False
        return self.known.fails.mismatch(v) is None

    def _count(self, v: dict) -> None:
        seen = self.seen
        seen["n"] += 1
        seen["elements"] += int(v.get("n_elements") or 0)
        for key, pick in (("max_ulp", max), ("min_margin", min)):
            got = v.get("max_ulp_error" if key == "max_ulp" else "min_margin")
            if got is not None:
                seen[key] = got if seen[key] is None else pick(seen[key], got)

    def _passed(self, n_max: int) -> dict:
        seen, exp = self.seen, self.expectation
        v = self.skeleton()
        v.update(outcome="passed", max_ulp_error=seen["max_ulp"], min_margin=seen["min_margin"],
                 n_elements=seen["elements"], duration=round(seen["seconds"], 6),
                 budget_source="expectation" if self.budget_override is not None else "default",
                 reason=f"{seen['n']} examples (hypothesis profile {self.hname}, max_examples {n_max}, "
                        f"seed {self.run_seed})" + (f"; budget {exp.ulps:g} ulp: {exp.describe()}"
                                                    if self.budget_override is not None else "")
                        + (f"; {seen['known']} examples rejected as the known deviation "
                           f"({self.known.fails.describe()}): {exp.describe()}" if self.known is not None else ""))
        v["property"] = {"examples": seen["n"], "seed": self.run_seed, "hypothesis_profile": self.hname}
        return v

    def explore(self, variant: str, strategy: st.SearchStrategy, check: Callable[["PropertyRun", Any], dict],
                metamorphic: bool = False) -> None:
        """Run hypothesis over ``strategy``; ``check`` returns one example's verdict (dict), failing ones fail.

        A failing verdict carries the falsifying cases under ``_cases`` (a list
        of Case); the message of the test is short, the verdict has the YAML.
        Followers (:attr:`followers`, shared property runs) are judged on the
        same examples, except those the leader fails (the leader then keeps its
        first failure and the run goes on); their verdicts go to
        :attr:`extra_verdicts`.
        """
        from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

        from xentspec.conformance.strategies import METAMORPHIC_FACTOR

        cid = f"property/{self.test}" + (f"/{variant}" if variant else "")
        skip = self._prepare(cid)
        reasons = {id(f): f._prepare(cid) for f in self.followers}
        followers = [f for f in self.followers if reasons[id(f)] is None]
        self.extra_verdicts = [dict(f.skeleton(), outcome="skipped", reason=reasons[id(f)])
                               for f in self.followers if reasons[id(f)] is not None]
        if skip:
            self.extra_verdicts += [dict(f.skeleton(), outcome="skipped", reason=f"the leading adapter "
                                         f"{self.adapter_name} skips this property ({skip})") for f in followers]
            pytest.skip(skip)
        n_max = self.hsettings.max_examples * (METAMORPHIC_FACTOR.get(self.hname, 1) if metamorphic else 1)
        phases = tuple(p for p in self.hsettings.phases if self.shrink or p not in (Phase.shrink, Phase.explain))
        active = list(followers)

        @seed(self.run_seed)
        @settings(self.hsettings, max_examples=n_max, phases=phases)
        @given(strategy)
        def prop(example: Any) -> None:
            if self.first_failure is None:
                self.verdict = self.skeleton()  # outcome "error" until judged: an exception is an error
            t0 = time.perf_counter()
            v = check(self, example)
            self.seen["seconds"] += time.perf_counter() - t0
            if v["outcome"] != "passed" and self.is_known(v):
                self.seen["known"] += 1
                reject()  # the known deviation: the example proves nothing else
            if v["outcome"] != "passed":
                if not followers:
                    self._fail(v)
                # A shared run goes on: an example the leader fails proves nothing about the followers,
                # so they skip it, and the leader's verdict is its first failure.
                if self.first_failure is None:
                    try:
                        self._fail(v)
                    except PropertyFailure:
                        self.first_failure = self.verdict
                return
            self._count(v)
            worst, margin = v.get("max_ulp_error"), v.get("min_margin")
            if worst is not None and math.isfinite(worst):
                target(float(worst), label="ulp error")
            if margin is not None and math.isfinite(margin):
                target(-float(margin), label="negative margin")
            for f in list(active):
                t0 = time.perf_counter()
                try:
                    fv = check(f, example)
                except UnsatisfiedAssumption:
                    continue
                except Exception as exc:  # noqa: BLE001 - the follower's error is its verdict
                    fv = dict(f.skeleton(), outcome="error", message=f"{type(exc).__name__}: {exc}")
                f.seen["seconds"] += time.perf_counter() - t0
                if fv["outcome"] == "passed":
                    f._count(fv)
                    continue
                active.remove(f)
                try:
                    f._fail(fv)
                except PropertyFailure:
                    pass

        self.first_failure = None
        self.timed_out = None
        failed = False
        with independent_draws():
            try:
                prop()
            except PropertyFailure:
                failed = True
            except Unsatisfiable:
                if self.timed_out is None:
                    raise
        if self.timed_out is not None and self.first_failure is None and not failed:
            self.verdict = dict(self.skeleton(), outcome="timeout", got_error="timeout",
                                message=f"a drawn example timed out ({self.timed_out}); the property stopped there",
                                property={"examples": self.seen["n"], "seed": self.run_seed,
                                          "hypothesis_profile": self.hname})
            pytest.fail(f"{self.case.id} on {self.adapter_name}: {self.verdict['message']}", pytrace=False)
        for f in followers:
            self.extra_verdicts.append(f._passed(n_max) if f in active else f.verdict)
        if self.first_failure is not None:
            self.verdict, failed = self.first_failure, True
        if failed:  # outside the except block: no chained hypothesis report in the terminal
            pytest.fail(self.short_message(), pytrace=False)
        self.verdict = self._passed(n_max)

    def _fail(self, v: dict) -> None:
        cases = v.pop("_cases", [])
        v = dict(v, case=self.case.id, tags=["property"])
        text = "".join(case_yaml(c) for c in cases)
        v["message"] = f"{v['message'] or ''}\n\nfalsifying example:\n{text}".rstrip()
        v["property"] = {"examples": None, "seed": self.run_seed, "hypothesis_profile": self.hname,
                         "falsifying": [c.id for c in cases]}
        from xentspec.conformance.export import render

        v["_export"] = render(self, cases) if cases else None
        self.verdict = v
        raise PropertyFailure(v["message"])

    def short_message(self) -> str:
        """The terminal's account of a failure: the property, the case ids, the first problems, the export."""
        v = self.verdict or {}
        prop = v.get("property") or {}
        problems = (v.get("message") or "").split("\n\nfalsifying example:", 1)[0].splitlines()
        lines = [f"{self.case.id} on {self.adapter_name} ({self.profile}): falsified by "
                 f"{', '.join(prop.get('falsifying') or ['?'])}"]
        lines += ["  " + p.strip() for p in problems[:4] if p.strip()]
        from xentspec.conformance.export import export_path

        path = export_path(self.export_dir, self.adapter_name, self.case.id) if self.export_dir else None
        lines.append("  the full case is in the report" + (f" and in {path}" if path else ""))
        return "\n".join(lines)


def property_ids() -> tuple[str, ...]:
    """Every verdict id the property tests can give (``property/<test>[/<loss>]``), for stale-entry checks."""
    from . import test_properties as T

    out = []
    for name, fn in vars(T).items():
        if not name.startswith("test_") or not callable(fn):
            continue
        test = name.removeprefix("test_").replace("_", "-")
        variants = [f"property/{test}/{T.SHORT[v]}" for mark in getattr(fn, "pytestmark", [])
                    if mark.name == "parametrize" and mark.args and mark.args[0] == "loss" for v in mark.args[1]]
        out += variants or [f"property/{test}"]
    return tuple(out)
