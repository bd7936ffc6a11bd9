"""Hypothesis properties of the conformance run: generated cases judged like spec cases, and metamorphic laws.

Collected beside ``test_conformance.py`` (``xentspec run``, ``pytest --pyargs
xentspec.conformance``). Each test is parametrized per adapter with a
:class:`PropertyRun`, a :class:`~xentspec.conformance.plugin.CaseRun` whose
verdict the plugin puts into the report like a spec case's, under the case id
``property/<test>[/<variant>]``: a passing verdict says how many examples ran
and the worst ULP error / margin seen; a failing one is the verdict of the
minimal falsifying example, with that case as YAML to paste into a spec file
(hypothesis ``note()``s it too, with the repro). ``--no-builtin`` deselects
these tests (they are built-in content).

* ``test_matches_reference``: a drawn case (:func:`strategies.cases`), the
  reference's truth under the run's profile and the adapter's outcome, judged by
  :func:`xentspec.conformance.verdict.judge` exactly as a spec case.
* Metamorphic laws, no certified truth needed (so twice the examples):
  logit shift, class permutation, batch order, ``sum`` = N x
  ``sum_over_batch_size``, a metric over two equal updates = over their
  concatenation. Two results of the adapter are compared within the sum of
  their error budgets (:mod:`xentspec.conformance.budget`); the condition
  ``scale`` of each element comes from the reference's semantic layer
  (uncertified, cheap), as the budget of a spec case does from its truth.

Settings: ``--xentspec-hypothesis-profile NAME`` or ``XENTSPEC_HYPOTHESIS_PROFILE``
(``default``, ``ci``, ``thorough``; see :mod:`xentspec.conformance.strategies`);
the seed of each test is derived from its case id and ``--xentspec-seed``.
An expectation entry matching a property id with ``ulps`` overrides the budget;
without ``ulps`` it skips the test (a strict xfail is flaky with hypothesis:
the failing example need not be drawn).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import zlib
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, note, reject, seed, settings
from hypothesis import strategies as st

from xentspec.conformance import strategies as S
from xentspec.conformance.budget import budget_rule, element_budget_abs
from xentspec.conformance.plugin import STATE_KEY, CaseRun
from xentspec.conformance.verdict import judge
from xentspec.spec.case import Case, Inputs
from xentspec.spec.floats import get_format, ulp
from xentspec.spec.loader import compute_dtype
from xentspec.spec.profiles import get_profile

PARAM = "xentspec_property"
ENV_PROFILE = "XENTSPEC_HYPOTHESIS_PROFILE"
SHORT = {"sparse_categorical_crossentropy": "scce", "categorical_crossentropy": "cce", "binary_crossentropy": "bce"}
METAMORPHIC_FACTOR = 2  # examples per metamorphic law, relative to the profile's max_examples


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One :class:`PropertyRun` per adapter of the run (the plugin's state loads them)."""
    if PARAM not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[STATE_KEY]
    state.active = True
    if not state.adapters:
        state.load_adapters()
    if not state.expectations:
        state.load_expectations()
    name = metafunc.config.getoption("xentspec_hypothesis_profile", None) or os.environ.get(ENV_PROFILE) or None
    try:
        hsettings = S.hypothesis_settings(name)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    test = metafunc.function.__name__.removeprefix("test_").replace("_", "-")
    base_seed = int(metafunc.config.getoption("xentspec_seed", 0) or 0)
    metafunc.parametrize(PARAM, [
        pytest.param(PropertyRun(state, spec, state.profile_of(spec), test, hsettings, name or "default", base_seed),
                     id=state.names[spec]) for spec in state.adapters])


class PropertyRun(CaseRun):
    """A property test on one adapter: runs hypothesis and leaves the verdict the plugin reports."""

    def __init__(self, state: Any, spec: str, profile: str, test: str, hsettings: settings, hname: str,
                 base_seed: int) -> None:
        super().__init__(state, spec, _label(f"property/{test}"), profile)
        self.test, self.hsettings, self.hname, self.base_seed = test, hsettings, hname, base_seed
        self.caps = state.adapters[spec].capabilities
        self.budget_override: float | None = None

    def output_dtype(self) -> str:
        """A property spans dtypes: its verdict names none."""
        return "*"

    def limits(self, **need: Any) -> dict[str, Any]:
        """Keywords of :func:`strategies.cases` within the adapter's capabilities; skips what it lacks."""
        caps = self.caps
        kw = {"allowed_dtypes": sorted(caps.dtypes & {"float16", "float32", "float64"}),
              "weights": "sample_weight" in caps.params, "ignore_class": "ignore_class" in caps.params,
              "label_smoothing": "label_smoothing" in caps.params, "other_axis": "axis" in caps.params}
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
            kw[key] = value if key not in kw else (kw[key] and value)
        if not kw["allowed_dtypes"]:
            pytest.skip(f"adapter {self.adapter_name} declares none of float16/32/64")
        return kw

    def evaluate(self, case: Case) -> Any:
        """The adapter's outcome on ``case`` (in its worker when the run isolates it)."""
        return self.state.evaluate(self.spec, case, self.profile)

    def runnable(self, case: Case, label: str = "case") -> Case:
        """``case`` named ``<property id>/<label>`` if the adapter declares all it needs (else rejected)."""
        if self.caps.missing(case, self.profile) is not None:
            reject()
        return dataclasses.replace(case, id=f"{self.case.id}/{label}")

    def show(self, case: Case) -> str:
        """``note()`` the case as a spec-file entry (printed with a falsifying example); returns the YAML."""
        text = S.case_yaml(case)
        note(f"{case.id} (paste into a spec file):\n{text}")
        return text

    def explore(self, variant: str, strategy: st.SearchStrategy, check: Callable[["PropertyRun", Any], dict],
                factor: int = 1) -> None:
        """Run hypothesis over ``strategy``; ``check`` returns one example's verdict (dict), failing ones fail."""
        from xentspec.conformance.expectations import match

        cid = f"property/{self.test}" + (f"/{variant}" if variant else "")
        self.case = _label(cid)
        self.verdict = self.skeleton()
        exp = match(self.state.expectations.get(self.spec, []), cid, self.adapter_name, self.profile)
        if exp is not None and exp.ulps is None:
            pytest.skip(f"known deviation: {exp.describe()}")
        self.budget_override = exp.ulps if exp is not None else None
        seen = {"n": 0, "max_ulp": None, "min_margin": None, "elements": 0}
        n_max = self.hsettings.max_examples * factor
        run_seed = zlib.crc32(f"{cid}:{self.base_seed}".encode())
        t0 = time.perf_counter()

        @seed(run_seed)
        @settings(self.hsettings, max_examples=n_max)
        @given(strategy)
        def prop(example: Any) -> None:
            self.verdict = self.skeleton()  # outcome "error" until judged: an exception is an error
            v = check(self, example)
            if v["outcome"] != "passed":
                self._fail(v)
            seen["n"] += 1
            seen["elements"] += int(v.get("n_elements") or 0)
            for key, pick in (("max_ulp", max), ("min_margin", min)):
                got = v.get("max_ulp_error" if key == "max_ulp" else "min_margin")
                if got is not None:
                    seen[key] = got if seen[key] is None else pick(seen[key], got)

        prop()
        v = self.skeleton()
        v.update(outcome="passed", max_ulp_error=seen["max_ulp"], min_margin=seen["min_margin"],
                 n_elements=seen["elements"], duration=round(time.perf_counter() - t0, 6),
                 budget_source="expectation" if self.budget_override is not None else "default",
                 reason=f"{seen['n']} examples (hypothesis profile {self.hname}, max_examples {n_max}, "
                        f"seed {run_seed})" + (f"; budget {exp.ulps:g} ulp: {exp.describe()}"
                                               if self.budget_override is not None else ""))
        self.verdict = v

    def _fail(self, v: dict) -> None:
        v = dict(v, case=self.case.id, tags=["property"])
        v["message"] = f"{v['message']}\n\nfalsifying example:\n{v.pop('_yaml', '')}".rstrip()
        if v.get("repro"):
            note(f"repro:\n{v['repro']}")
        self.verdict = v
        raise AssertionError(v["message"])


def _label(cid: str) -> Any:
    """The case-like description a property verdict carries (it spans losses, forms and dtypes)."""
    return SimpleNamespace(id=cid, loss="*", form="property", dtype="*", tags=("property",))


# --------------------------------------------------------------------------- against the reference

def _against_reference(run: PropertyRun, case: Case) -> dict:
    case = run.runnable(case)
    text = run.show(case)
    adapter = run.state.adapters[run.spec]
    truth = run.state.truth(case, run.profile)
    v = judge(case, truth, run.evaluate(case), adapter=run.adapter_name, profile=run.profile,
              override_ulps=run.budget_override,
              override_source="expectation" if run.budget_override is not None else "default",
              default_reduction=get_profile(run.profile).default_reduction,
              repro=lambda: adapter.repro(case, run.profile, run.spec))
    v["_yaml"] = text
    return v


@pytest.mark.parametrize("loss", list(SHORT), ids=list(SHORT.values()))
def test_matches_reference(xentspec_property: PropertyRun, loss: str) -> None:
    """Generated cases of one loss agree with the reference's truth within the default budget."""
    run = xentspec_property
    # Named before limits(): a skip there (a loss the adapter lacks) must carry the variant's id, or
    # the three variants' verdicts share one key and the report is invalid.
    run.case = _label(f"property/{run.test}/{SHORT[loss]}")
    run.explore(SHORT[loss], S.cases(run.profile, **run.limits(losses=[loss])), _against_reference)


# --------------------------------------------------------------------------- metamorphic laws

def _map_inputs(case: Case, fn: Callable[[Inputs], Inputs], **changes: Any) -> Case:
    """``case`` with ``fn`` applied to its inputs (every update step of a metric)."""
    if case.inputs is not None:
        return dataclasses.replace(case, inputs=fn(case.inputs), **changes)
    steps = tuple(dataclasses.replace(s, inputs=fn(s.inputs)) if s.inputs is not None else s for s in case.steps)
    return dataclasses.replace(case, steps=steps, **changes)


def _side(run: PropertyRun, case: Case, outcome: Any) -> tuple[str, Any, Any]:
    """("error", category) or ("value", values, absolute error bounds) of one adapter result.

    The bound of an element is its default budget (or the expectation's ulps)
    in ulps of the truth, taken at the largest magnitude the truth can have
    given the result, ``|got| + budget * ulp(got)`` (budget * ulp grows with it).
    """
    from xentspec.reference.api import _elements  # the exact elements, uncertified: their scales only
    from xentspec.reference.semantics import RefError

    dtype = compute_dtype(case, run.profile)
    try:
        elems = _elements(case, run.profile, dtype)
    except RefError:
        # The profile rejects the case (tf-keras: a single-class metric batch of 2, while a batch
        # of 1 passes): outside the law's domain; test_matches_reference judges the error itself.
        reject()
    if outcome.status == "raised":
        return ("error", outcome.category or f"unclassified {outcome.exc_type}: {outcome.message}", None)
    if outcome.status != "ok":
        return ("error", f"{outcome.status}: {outcome.message}", None)
    value = outcome.result.value
    vals = (np.array([float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) for a in value])
            if case.form == "metric" else np.asarray(value, dtype=np.float64))
    scales = np.array([e.scale for e in np.asarray(elems, dtype=object).reshape(-1)], dtype=np.float64)
    if scales.size != vals.size:
        return ("error", f"shape {list(vals.shape)}, expected {list(np.shape(elems))}", None)
    from xentspec.reference.api import element_dtype

    rule = budget_rule(case, get_profile(run.profile).default_reduction, element_dtype(case, run.profile))
    fmt = get_format(dtype)
    bounds = np.zeros(vals.size)
    for i, (g, s) in enumerate(zip(vals.reshape(-1), scales)):
        if math.isfinite(g):
            o = run.budget_override
            top = abs(g) + (o * ulp(g, fmt) if o else element_budget_abs(rule, g, s, dtype))
            bounds[i] = o * ulp(top, fmt) if o else element_budget_abs(rule, top, s, dtype)
    return ("value", vals, bounds.reshape(vals.shape))


def _relation(run: PropertyRun, law: str, a: Case, b: Case, transform: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Verdict of ``transform(result(a)) == result(b)`` within the sum of both error bounds."""
    a, b = run.runnable(a, "a"), run.runnable(b, "b")
    text = run.show(a) + run.show(b)
    out_a, out_b = run.evaluate(a), run.evaluate(b)
    sa, sb = _side(run, a, out_a), _side(run, b, out_b)
    dtype = compute_dtype(a, run.profile)
    from xentspec.conformance.verdict import skeleton

    v = skeleton(a, run.adapter_name, run.profile, dtype)
    v["_yaml"] = text
    problems = []
    if sa[0] == "error" or sb[0] == "error":
        if sa[:2] != sb[:2]:
            problems.append(f"{law}: a gives {sa[0]} {sa[1] if sa[0] == 'error' else ''}, "
                            f"b gives {sb[0]} {sb[1] if sb[0] == 'error' else ''}")
    else:
        ta, tb = transform(sa[1]), transform(sa[2])
        vb, bb = sb[1], sb[2]
        if np.shape(ta) != np.shape(vb):
            problems.append(f"{law}: shapes {list(np.shape(ta))} and {list(np.shape(vb))}")
        else:
            fmt, worst, margin = get_format(dtype), 0.0, math.inf
            for idx in np.ndindex(np.shape(vb)):
                x, y, allowed = float(ta[idx]), float(vb[idx]), float(tb[idx] + bb[idx])
                if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
                    ok = (math.isnan(x) and math.isnan(y)) or x == y
                    if not ok:
                        problems.append(f"{law}: element {list(idx)}: {x!r} vs {y!r}")
                    continue
                q = ulp(y, fmt)
                worst, margin = max(worst, abs(x - y) / q), min(margin, (allowed - abs(x - y)) / q)
                if abs(x - y) > allowed:
                    problems.append(f"{law}: element {list(idx)}: {x!r} vs {y!r}, |difference| "
                                    f"{abs(x - y) / q:.3g} ulp > {allowed / q:.3g} ulp (both budgets)")
            v["max_ulp_error"], v["min_margin"] = worst, (margin if math.isfinite(margin) else None)
            v["n_elements"] = int(np.size(vb))
    if problems:
        adapter = run.state.adapters[run.spec]
        v.update(outcome="failed", message="\n".join(problems[:5]),
                 repro=adapter.repro(a, run.profile, run.spec) + "\n" + adapter.repro(b, run.profile, run.spec))
    else:
        v["outcome"] = "passed"
    return v


def _shifted(case: Case) -> st.SearchStrategy[tuple[Case, float]]:
    """A constant c with every logit + c exact in the case dtype, and the shifted case."""
    preds = [case.inputs.y_pred] if case.inputs is not None else [s.inputs.y_pred for s in case.steps if s.inputs]
    flat = np.concatenate([p.reshape(-1) for p in preds])
    fmt = get_format(case.dtype)
    q = max((ulp(float(x), fmt) for x in flat), default=1.0)

    def exact(c: float) -> bool:
        s = flat + c  # TwoSum: s + err == flat + c exactly
        bb = s - flat
        err = (flat - (s - bb)) + (c - bb)
        return bool(np.all(err == 0) and np.all(s.astype(case.dtype).astype(np.float64) == s))

    consts = st.sampled_from((1.0, -1.0, 0.5, -3.0, 64.0)) | st.integers(-64, 64).map(lambda k: k * q)
    return consts.filter(exact).map(lambda c: (case, _map_inputs(
        case, lambda i: dataclasses.replace(i, y_pred=i.y_pred + c))))


def test_logit_shift_invariance(xentspec_property: PropertyRun) -> None:
    """Softmax cross-entropy from logits is unchanged when a constant is added to every logit."""
    run = xentspec_property
    cases = S.cases(run.profile, **run.limits(losses=list(SHORT)[:2], from_logits=True))
    run.explore("", cases.flatmap(_shifted), lambda r, ab: _relation(r, "shift", *ab, lambda x: x),
                factor=METAMORPHIC_FACTOR)


def _permute_classes(case: Case, perm: list[int]) -> Case:
    ax = case.params.get("axis", -1)
    inv = np.argsort(perm)

    def fn(i: Inputs) -> Inputs:
        y_pred = np.take(i.y_pred, perm, axis=ax)
        if case.sparse:
            K = len(perm)
            y_true = np.where((i.y_true >= 0) & (i.y_true < K), inv[np.clip(i.y_true, 0, K - 1)], i.y_true)
        else:
            y_true = np.take(i.y_true, perm, axis=ax)
        return dataclasses.replace(i, y_true=y_true.astype(i.y_true.dtype), y_pred=y_pred)
    return _map_inputs(case, fn)


def test_class_permutation_invariance(xentspec_property: PropertyRun) -> None:
    """Permuting the classes of predictions and labels together leaves every loss unchanged."""
    run = xentspec_property
    cases = S.cases(run.profile, **run.limits(forms=["function", "loss"], ignore_class=False))

    def pair(case: Case) -> st.SearchStrategy:
        preds = case.inputs.y_pred
        K = preds.shape[case.params.get("axis", -1)]
        return st.permutations(range(K)).map(lambda p: (case, _permute_classes(case, list(p))))
    run.explore("", cases.flatmap(pair), lambda r, ab: _relation(r, "class permutation", *ab, lambda x: x),
                factor=METAMORPHIC_FACTOR)


def test_batch_order_invariance(xentspec_property: PropertyRun) -> None:
    """Unreduced losses of a permuted batch are the permuted losses."""
    run = xentspec_property
    cases = S.cases(run.profile, min_batch=2, **run.limits(forms=["function", "loss"], reductions=["none"]))

    def pair(case: Case) -> st.SearchStrategy:
        B = case.inputs.y_pred.shape[0]

        def fn(p: list[int]) -> Inputs:
            i = case.inputs
            sw = i.sample_weight
            if sw is not None and sw.ndim >= 1:
                sw = sw[p] if sw.shape[0] == B else sw
            return dataclasses.replace(i, y_true=i.y_true[p], y_pred=i.y_pred[p], sample_weight=sw)
        return st.permutations(range(B)).map(lambda p: (case, dataclasses.replace(case, inputs=fn(list(p))), p))
    run.explore("", cases.flatmap(pair), lambda r, abp: _relation(
        r, "batch order", abp[0], abp[1], lambda x: x[list(abp[2])] if np.ndim(x) else x),
        factor=METAMORPHIC_FACTOR)


def test_sum_is_mean_times_count(xentspec_property: PropertyRun) -> None:
    """Unweighted, unmasked: reduction ``sum`` = N x ``sum_over_batch_size`` (N loss elements)."""
    run = xentspec_property
    kw = run.limits(forms=["loss"], reductions=["sum_over_batch_size"], weights=False, ignore_class=False)
    if not kw["reductions"] or "sum" not in run.limits(reductions=["sum"])["reductions"]:
        pytest.skip("the profile or the adapter lacks reduction sum or sum_over_batch_size")

    def check(r: PropertyRun, case: Case) -> dict:
        n = int(np.prod(case.inputs.y_pred.shape)) // case.inputs.y_pred.shape[case.params.get("axis", -1)]
        total = dataclasses.replace(case, params={**case.params, "reduction": "sum"})
        return _relation(r, f"sum = {n} x sum_over_batch_size", case, total, lambda x: x * n)
    run.explore("", S.cases(run.profile, min_batch=1, **kw), check, factor=METAMORPHIC_FACTOR)


def _halves(case: Case) -> tuple[Case, Case]:
    """(two updates of the halves of an even batch, then result; one update of the whole, then result)."""
    i = case.steps[0].inputs
    B = (i.y_pred.shape[0] // 2) * 2
    h = B // 2

    def cut(lo: int, hi: int) -> Inputs:
        sw = i.sample_weight
        if sw is not None and sw.ndim >= 1:
            sw = sw[lo:hi]
        return dataclasses.replace(i, y_true=i.y_true[lo:hi], y_pred=i.y_pred[lo:hi], sample_weight=sw)
    from xentspec.spec.case import Step

    two = dataclasses.replace(case, steps=(Step("update", cut(0, h)), Step("update", cut(h, B)), Step("result")))
    one = dataclasses.replace(case, steps=(Step("update", cut(0, B)), Step("result")))
    return two, one


def test_metric_updates_equal_concatenation(xentspec_property: PropertyRun) -> None:
    """A metric over two updates of equal size equals the metric over their concatenation."""
    run = xentspec_property
    cases = S.cases(run.profile, min_batch=2, updates=(1, 1), **run.limits(forms=["metric"]))
    run.explore("", cases.map(_halves), lambda r, ab: _relation(r, "two updates = concatenation", *ab,
                                                                 lambda x: x), factor=METAMORPHIC_FACTOR)
