"""Hypothesis properties of the conformance run: generated cases judged like spec cases, and metamorphic laws.

Collected beside ``test_conformance.py`` (``xentspec run``, ``pytest --pyargs
xentspec.conformance``). Each test is parametrized per adapter with a
:class:`~xentspec.conformance.propertyrun.PropertyRun` whose verdict the
plugin puts into the report like a spec case's, under the case id
``property/<test>[/<variant>]`` (docs/properties.md lists them).

* ``test_matches_reference``: a drawn case, the reference's certified truth
  and the adapter's outcome, judged exactly as a spec case.
* Metamorphic laws: no certified truth, two results of the adapter compared
  within the sum of their error budgets
  (:func:`~xentspec.conformance.lawcheck.relation`). Each law runs only where
  the profile's choices make it hold (:mod:`xentspec.conformance.laws`,
  docs/properties.md); a law that cannot hold under the run's profile skips.

Settings: ``--xentspec-hypothesis-profile NAME`` or ``XENTSPEC_HYPOTHESIS_PROFILE``;
the seed of each test is derived from its case id and ``--xentspec-seed``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np
import pytest
from hypothesis import assume
from hypothesis import strategies as st

from xentspec.conformance import laws as L
from xentspec.conformance import strategies as S
from xentspec.conformance.lawcheck import against_reference, constant, relation
from xentspec.conformance.plugin import STATE_KEY
from xentspec.conformance.propertyrun import PropertyRun
from xentspec.spec.case import Case, Inputs
from xentspec.spec.floats import get_format, ulp
from xentspec.spec.profiles import get_profile

PARAM = "xentspec_property"
ENV_PROFILE = "XENTSPEC_HYPOTHESIS_PROFILE"
SHORT = {"sparse_categorical_crossentropy": "scce", "categorical_crossentropy": "cce", "binary_crossentropy": "bce"}
SCCE, CCE, BCE = SHORT


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
    from xentspec.conformance.export import export_dir

    test = metafunc.function.__name__.removeprefix("test_").replace("_", "-")
    base_seed = int(metafunc.config.getoption("xentspec_seed", 0) or 0)
    shrink = not metafunc.config.getoption("xentspec_no_shrink", False)
    out = export_dir(metafunc.config)

    def run(spec: str) -> PropertyRun:
        return PropertyRun(state, spec, state.profile_of(spec), test, hsettings, name or "default", base_seed,
                           shrink=shrink, export_dir=out)
    runs = [run(spec) for spec in state.adapters]
    if metafunc.config.getoption("xentspec_shared_properties", False):
        # One run per profile, led by its first adapter; the others are judged on the same examples.
        leaders: dict[str, PropertyRun] = {}
        for r in runs:
            if r.profile in leaders:
                leaders[r.profile].followers.append(r)
            else:
                leaders[r.profile] = r
        runs = list(leaders.values())
    metafunc.parametrize(PARAM, [pytest.param(r, id=r.adapter_name) for r in runs])


def _law(run: PropertyRun, strategy: st.SearchStrategy, check: Any) -> None:
    run.explore("", strategy, check, metamorphic=True)


def _prof(run: PropertyRun) -> Any:
    return get_profile(run.profile)


# --------------------------------------------------------------------------- against the reference

@pytest.mark.parametrize("loss", list(SHORT), ids=list(SHORT.values()))
def test_matches_reference(xentspec_property: PropertyRun, loss: str) -> None:
    """Generated cases of one loss (adversarial values, NaN and infinities included) agree with the truth."""
    run = xentspec_property
    run.name_variant(SHORT[loss])
    run.explore(SHORT[loss], S.cases(run.profile, nonfinite=True, **run.limits(losses=[loss])), against_reference)


@pytest.mark.parametrize("loss", list(SHORT), ids=list(SHORT.values()))
def test_matches_reference_at_edges(xentspec_property: PropertyRun, loss: str) -> None:
    """The same, with the rare corners half of the time: out-of-range labels, every entry ignored, a
    non-finite prediction, predictions equal to the labels (the clip bounds decide), empty batches."""
    run = xentspec_property
    run.name_variant(SHORT[loss])
    run.explore(SHORT[loss], S.cases(run.profile, nonfinite=True, edges=True, **run.limits(losses=[loss])),
                against_reference)


# --------------------------------------------------------------------------- invariances

def _shifted(case: Case) -> st.SearchStrategy[tuple[Case, Case]]:
    """A constant c with every logit + c exact in the case dtype, and the shifted case."""
    flat = np.concatenate([i.y_pred.reshape(-1) for i in L.all_inputs(case)])
    fmt = get_format(case.dtype)
    q = max((ulp(float(x), fmt) for x in flat), default=1.0)

    def exact(c: float) -> bool:
        return L.exact_in(flat + c, case.dtype) and bool(np.all((flat + c) - c == flat))

    consts = st.sampled_from((1.0, -1.0, 0.5, -3.0, 64.0)) | st.integers(-64, 64).map(lambda k: k * q)
    return consts.filter(exact).map(lambda c: (case, L.map_inputs(
        case, lambda i: dataclasses.replace(i, y_pred=i.y_pred + c))))


def test_logit_shift_invariance(xentspec_property: PropertyRun) -> None:
    """Softmax cross-entropy from logits is unchanged when a constant is added to every logit."""
    run = xentspec_property
    cases = S.cases(run.profile, **run.limits(losses=[SCCE, CCE], from_logits=True))
    _law(run, cases.flatmap(_shifted), lambda r, ab: relation(r, "shift", *ab, lambda x: x))


def _permute_classes(case: Case, perm: list[int]) -> Case:
    ax = case.params.get("axis", -1)
    inv = np.argsort(perm)
    ic = case.params.get("ignore_class")

    def fn(i: Inputs) -> Inputs:
        y_pred = np.take(i.y_pred, perm, axis=ax)
        if case.sparse:
            K = len(perm)
            t = i.y_true
            moved = np.where((t >= 0) & (t < K), inv[np.clip(t, 0, K - 1)], t)
            y_true = np.where(t == ic, t, moved) if ic is not None else moved  # ignored entries stay ignored
        else:
            y_true = np.take(i.y_true, perm, axis=ax)
        return dataclasses.replace(i, y_true=y_true.astype(i.y_true.dtype), y_pred=y_pred)
    return L.map_inputs(case, fn)


def _fixing(perm: list[int], c: int) -> list[int]:
    """``perm`` changed to map ``c`` to itself (swap c's image with the entry that maps to c)."""
    perm = list(perm)
    j = perm.index(c)
    perm[j], perm[c] = perm[c], perm[j]
    return perm


def test_class_permutation_invariance(xentspec_property: PropertyRun) -> None:
    """Permuting the classes of predictions and labels together (ignored labels stay) changes nothing."""
    run = xentspec_property
    cases = S.cases(run.profile, **run.limits())

    def pair(case: Case) -> st.SearchStrategy:
        K = L.all_inputs(case)[0].y_pred.shape[case.params.get("axis", -1)]
        ic = case.params.get("ignore_class")
        perms = st.permutations(range(K))
        if ic is not None and 0 <= ic < K:
            perms = perms.map(lambda p: _fixing(list(p), ic))  # the ignored class keeps its index
        return perms.map(lambda p: (case, _permute_classes(case, list(p))))
    _law(run, cases.flatmap(pair), lambda r, ab: relation(r, "class permutation", *ab, lambda x: x))


def _permute_batch(case: Case, perms: list[list[int]]) -> Case:
    it = iter(perms)

    def fn(i: Inputs) -> Inputs:
        p = next(it)
        sw = i.sample_weight
        if sw is not None and sw.ndim >= 1 and sw.shape[0] == len(p):
            sw = sw[p]
        return dataclasses.replace(i, y_true=i.y_true[p], y_pred=i.y_pred[p], sample_weight=sw)
    return L.map_inputs(case, fn)


def test_batch_order_invariance(xentspec_property: PropertyRun) -> None:
    """Permuting the batch permutes unreduced losses and leaves reduced losses and metrics unchanged."""
    run = xentspec_property
    cases = S.cases(run.profile, min_batch=2, **run.limits())

    def pair(case: Case) -> st.SearchStrategy:
        sizes = [i.y_pred.shape[0] for i in L.all_inputs(case)]
        perms = st.tuples(*(st.permutations(range(n)) for n in sizes))
        return perms.map(lambda ps: (case, _permute_batch(case, [list(p) for p in ps]), list(ps[0])))

    def check(r: PropertyRun, abp: tuple) -> dict:
        a, b, p = abp
        unreduced = a.form == "function" or a.params.get("reduction") == "none"
        return relation(r, "batch order", a, b, lambda x: x[p] if unreduced and np.ndim(x) else x)
    _law(run, cases.flatmap(pair), check)


# --------------------------------------------------------------------------- reductions and weights

def _mean_reductions(run: PropertyRun) -> list[str]:
    return [r for r in ("sum_over_batch_size", "mean", "auto") if r in run.limits(reductions=[r])["reductions"]]


def test_sum_is_mean_times_count(xentspec_property: PropertyRun) -> None:
    """Reduction ``sum`` = D x ``sum_over_batch_size`` (or ``mean``): D loss elements, or D valid ones if masked."""
    run = xentspec_property
    means = _mean_reductions(run)
    if not means or "sum" not in run.limits(reductions=["sum"])["reductions"]:
        pytest.skip("the profile or the adapter lacks reduction sum or sum_over_batch_size")
    prof = _prof(run)
    cases = S.cases(run.profile, min_batch=1, plain=True, **run.limits(forms=["loss"], reductions=means))

    def check(r: PropertyRun, case: Case) -> dict:
        assume(L.plain_ranks(case))
        inp = case.inputs
        n = L.loss_count(case, inp)
        ic = case.params.get("ignore_class")
        if ic is not None:
            assume(prof.masked_mean_divisor == "valid")
            n = int(np.sum(L.labels_of(case, inp) != ic))
            assume(n >= 1)  # all masked: 0 (Keras 3) or NaN (tf-keras) against a sum of 0
        total = dataclasses.replace(case, params={**case.params, "reduction": "sum"})
        return relation(r, f"sum = {n} x {case.params['reduction']}", case, total, lambda x: x * n)
    _law(run, cases, check)


def _weights_like(case: Case, kind: str, value: float) -> Case:
    def fn(i: Inputs) -> Inputs:
        B = i.y_pred.shape[0]
        lshape = (L.labels_of(case, i).shape if case.sparse else
                  i.y_pred.shape[:L.class_axis(case)] + i.y_pred.shape[L.class_axis(case) + 1:])
        shape = {"scalar": (), "sample": (B,), "column": (B, 1), "element": lshape}[kind]
        return dataclasses.replace(i, sample_weight=np.full(shape, value))
    return L.map_inputs(case, fn)


def test_unit_weights_equal_no_weights(xentspec_property: PropertyRun) -> None:
    """A sample_weight of ones (of a shape the profile accepts) gives what no sample_weight gives."""
    run = xentspec_property
    kw = run.limits(forms=["loss", "metric"])
    if not kw["weights"]:
        pytest.skip(f"adapter {run.adapter_name} does not declare capability sample_weight")
    prof = _prof(run)
    kw["weights"] = False
    # min_batch 1: an empty rank-1 loss passes through unreduced (empty_rank1_passthrough) unless a
    # (B, 1) weight first expands it to rank 2.
    cases = S.cases(run.profile, min_batch=1, **kw)

    def pair(case: Case) -> st.SearchStrategy:
        ranks3 = L.all_inputs(case)[0].y_pred.ndim == 3
        masked = case.params.get("ignore_class") is not None
        kinds = ["sample", "column"] + (["element"] if ranks3 else [])
        if case.form == "loss" and case.params.get("reduction") == "mean_with_sample_weight" and not masked:
            kinds = ["element"] if ranks3 else ["sample", "column"]  # the divisor sums the unbroadcast weights
        elif not (case.form == "metric" and prof.metric_counts_ignored):
            kinds.append("scalar")  # a Keras 3 metric counts a scalar weight once per update
        if case.form == "metric" and prof.metric_counts_ignored and masked:
            return st.nothing()  # unweighted Keras 3 metrics count ignored entries, weighted ones do not
        return st.sampled_from(kinds).map(lambda k: (case, _weights_like(case, k, 1.0)))
    # flatten: a (B, 1) weight turns Keras 3's unreduced (B,) losses into (B, 1), element for element.
    _law(run, cases.flatmap(pair), lambda r, ab: relation(r, "unit weights", *ab, lambda x: x, flatten=True))


def test_weight_scaling(xentspec_property: PropertyRun) -> None:
    """Weights times c (a power of 2): sum, sum_over_batch_size, mean and none scale by c; weighted means do not."""
    run = xentspec_property
    cases = S.cases(run.profile, **run.limits(forms=["loss", "metric"], require_weights=True))

    def pair(case: Case) -> st.SearchStrategy:
        def scaled(c: float) -> tuple[Case, Case, float] | None:
            def fn(i: Inputs) -> Inputs:
                return dataclasses.replace(i, sample_weight=i.sample_weight * c)
            b = L.map_inputs(case, fn)
            ok = all(L.exact_in(i.sample_weight, "float32") and np.all(i.sample_weight / c == j.sample_weight)
                     for i, j in zip(L.all_inputs(b), L.all_inputs(case)))
            return (case, b, c) if ok else None
        return st.sampled_from((2.0, 4.0, 0.5)).map(scaled).filter(lambda t: t is not None)

    def check(r: PropertyRun, abc: tuple) -> dict:
        a, b, c = abc
        invariant = a.form == "metric" or a.params.get("reduction") == "mean_with_sample_weight"
        return relation(r, f"weights x {c:g}", a, b, (lambda x: x) if invariant else (lambda x: x * c))
    _law(run, cases.flatmap(pair), check)


def test_ignore_class_drops_entries(xentspec_property: PropertyRun) -> None:
    """ignore_class = dropping the ignored entries (kept ones as a rank-2 batch with their own weights)."""
    run = xentspec_property
    prof = _prof(run)
    if not prof.ignore_class:
        pytest.skip(f"profile {run.profile} has no ignore_class")
    forms = ["function", "loss"] + (["metric"] if prof.metric_ignore_class else [])
    cases = S.cases(run.profile, plain=True, **run.limits(losses=[SCCE], forms=forms, require_ignore_class=True))

    def check(r: PropertyRun, case: Case) -> dict:
        assume(case.params.get("ignore_class") is not None)
        red = case.params.get("reduction", prof.default_reduction) if case.form == "loss" else None
        if case.form == "loss":
            assume(L.plain_ranks(case))
            if red in ("sum_over_batch_size", "mean", "auto"):
                assume(prof.masked_mean_divisor == "valid")
        dropped = L.drop_ignored(case, prof)
        assume(dropped is not None)
        b, kept = dropped
        if case.form != "metric":
            assume(kept.size)  # an empty batch: Keras 3 passes an empty rank-1 loss through unreduced
        if kept.size and not kept.any():
            # Everything dropped: the empty batch's value is the profile's (all_masked for the masked means,
            # 0 for sums, unreduced losses and metrics, whose count is 0 or counts zeros).
            nan = red in ("sum_over_batch_size", "mean", "auto") and prof.all_masked == "nan"
            return constant(r, "ignore_class, every entry ignored", case, math.nan if nan else 0.0)
        if case.form == "function" or red == "none":
            return relation(r, "ignore_class = dropping", case, b, lambda x: np.asarray(x).reshape(-1)[kept],
                            zeros=lambda x: np.asarray(x).reshape(-1)[~kept])
        if case.form == "metric" and prof.metric_counts_ignored and not any(
                i.sample_weight is not None for i in L.all_inputs(case)):
            # Unweighted Keras 3 metrics count ignored entries: result(a) = result(b) * kept / total.
            f = L.metric_counts_ignored_factor(case, case.params["ignore_class"])
            return relation(r, "ignore_class = dropping (ignored entries counted)", case, b,
                            lambda x: np.where(f > 0, np.asarray(x) / np.where(f > 0, f, 1.0), x))
        return relation(r, "ignore_class = dropping", case, b, lambda x: x)
    _law(run, cases, check)


def test_metric_updates_equal_concatenation(xentspec_property: PropertyRun) -> None:
    """Two updates (after an update, result and reset now and then) = one update of their concatenation."""
    run = xentspec_property
    prof = _prof(run)
    cases = S.cases(run.profile, min_batch=2, updates=(1, 1), **run.limits(forms=["metric"]))

    def pair(case: Case) -> st.SearchStrategy:
        i = case.steps[0].inputs
        B = i.y_pred.shape[0]
        scalar = i.sample_weight is not None and i.sample_weight.ndim == 0
        if scalar and prof.metric_counts_ignored:
            cuts = st.just(B // 2).filter(lambda h: 2 * h == B)  # a scalar weight counts once per update
        else:
            cuts = st.integers(1, B - 1)
        return st.tuples(cuts, st.booleans()).map(lambda hp: L.split_update(case, *hp))
    _law(run, cases.flatmap(pair), lambda r, ab: relation(r, "two updates = concatenation", *ab,
                                                          lambda x: np.asarray(x)[-1:]))


# --------------------------------------------------------------------------- formulas

def test_label_smoothing_equals_smoothed_labels(xentspec_property: PropertyRun) -> None:
    """label_smoothing ls = no smoothing on the labels y (1 - ls) + ls / K (BCE: K = 2), where they are exact."""
    run = xentspec_property
    prof = _prof(run)
    kw = run.limits(losses=[CCE, BCE])
    if not kw["label_smoothing"]:
        pytest.skip(f"adapter {run.adapter_name} does not declare capability label_smoothing")
    cases = S.cases(run.profile, smoothing_values=(0.5, 0.25, 1.0, 0.125), require_smoothing=True, **kw)

    def check(r: PropertyRun, case: Case) -> dict:
        ls = case.params.get("label_smoothing")
        assume(ls)
        b = L.smoothed(case, prof, float(ls))
        assume(b is not None)
        return relation(r, f"label_smoothing {ls}", case, b, lambda x: x)
    _law(run, cases, check)


def test_probability_scaling_invariance(xentspec_property: PropertyRun) -> None:
    """CCE (and SCCE where it renormalises first) from probabilities: scaling y_pred by 2**k changes nothing."""
    run = xentspec_property
    losses = [CCE] + ([SCCE] if _prof(run).scce_probabilities == "renormalize_then_clip" else [])
    cases = S.cases(run.profile, from_logits=False, finite_rows=True, **run.limits(losses=losses))

    def pair(case: Case) -> st.SearchStrategy:
        def scaled(c: float) -> tuple[Case, Case] | None:
            b = L.map_inputs(case, lambda i: dataclasses.replace(i, y_pred=i.y_pred * c))
            ok = all(L.exact_in(j.y_pred, case.dtype) and np.array_equal(j.y_pred / c, i.y_pred)
                     for i, j in zip(L.all_inputs(case), L.all_inputs(b)))
            return (case, b) if ok else None
        return st.sampled_from((2.0, 0.5, 4.0, 0.25, 64.0)).map(scaled).filter(lambda t: t is not None)
    _law(run, cases.flatmap(pair), lambda r, ab: relation(r, "probabilities x 2**k", *ab, lambda x: x))


def test_bce_logit_symmetry(xentspec_property: PropertyRun) -> None:
    """BCE from logits: (y, x) and (1 - y, -x) give the same loss (label smoothing is symmetric too)."""
    run = xentspec_property
    if _prof(run).bce_logits != "exact":
        pytest.skip(f"profile {run.profile} clips sigmoid(x) to [eps, 1 - eps], which is not symmetric")
    cases = S.cases(run.profile, **run.limits(losses=[BCE], from_logits=True))

    def check(r: PropertyRun, case: Case) -> dict:
        b = L.map_inputs(case, lambda i: dataclasses.replace(i, y_true=1.0 - i.y_true, y_pred=-i.y_pred))
        assume(all(L.exact_in(i.y_true, case.dtype) for i in L.all_inputs(b)))
        # Smoothing rounds y (1 - s) + s / 2 in the dtype, and the two sides round differently
        # (0.95 and 1 - 0.05 in float16 differ by 2**-12, 8 ulp of the loss at x = 16): the law
        # holds exactly only where the smoothed labels are exact.
        assume(L.smoothing_exact(case) and L.smoothing_exact(b))
        return relation(r, "(y, x) -> (1 - y, -x)", case, b, lambda x: x)
    _law(run, cases, check)


def test_class_axis_moves(xentspec_property: PropertyRun) -> None:
    """Rank 3: the class axis last (axis -1) or moved to 1 (axis=1) with the same data gives the same losses."""
    run = xentspec_property
    prof = _prof(run)
    kw = run.limits(losses=[SCCE, CCE, BCE] if prof.scce_axis == "any" else [CCE, BCE])
    if not kw["other_axis"]:
        pytest.skip(f"adapter {run.adapter_name} does not declare capability axis")
    kw["other_axis"] = False
    if prof.cce_smoothing_classes in ("y_true_last", "y_true_1"):
        kw["label_smoothing"] = False  # the smoothing K follows a fixed axis of y_true, not the class axis
    cases = S.cases(run.profile, ranks=(3,), plain=True, **kw)

    def check(r: PropertyRun, case: Case) -> dict:
        inp = L.all_inputs(case)
        assume(inp[0].y_pred.ndim == 3 and all(i.y_pred.shape[-1] >= 2 and i.y_pred.shape[1] >= 2 for i in inp))
        assume(not (case.form == "metric" and case.loss == BCE))  # the BCE metric has no axis

        def fn(i: Inputs) -> Inputs:
            t = L.squeeze_label_column(case, i) if case.sparse else np.moveaxis(i.y_true, -1, 1)
            return dataclasses.replace(i, y_true=t, y_pred=np.moveaxis(i.y_pred, -1, 1))
        b = L.map_inputs(case, fn, params={**case.params, "axis": 1})
        return relation(r, "class axis -1 -> 1", case, b, lambda x: x)
    _law(run, cases, check)
