"""The case transformations of the metamorphic laws, and where each law holds.

Each law maps a drawn case ``a`` to a case ``b`` whose exact results relate
to ``a``'s by a known transformation (equal, scaled, a selection of
elements); ``test_properties.py`` checks it with
:func:`xentspec.conformance.lawcheck.relation`. The derivations follow the
reference's semantics (``reference/semantics.py``, ``sparse.py``, ``dense.py``, ``reductions.py``,
``metric.py``) and are written out in docs/properties.md together with the
profile choices under which each law holds; the functions named
``*_applies`` encode those conditions, so that no law can fail a correct
implementation of the profile (tests/test_property_laws.py runs every law on
the NumPy kernel under every profile).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from xentspec.spec.case import Case, Inputs, Step
from xentspec.spec.profiles import Profile

__all__ = ["map_inputs", "all_inputs", "loss_count", "labels_of", "effective_weights", "drop_ignored",
           "smoothed", "exact_in", "metric_counts_ignored_factor", "squeeze_label_column"]


def all_inputs(case: Case) -> list[Inputs]:
    """The inputs of a call (loss, function) or of every update step (metric)."""
    if case.inputs is not None:
        return [case.inputs]
    return [s.inputs for s in case.steps or () if s.inputs is not None]


def map_inputs(case: Case, fn: Callable[[Inputs], Inputs], **changes: Any) -> Case:
    """``case`` with ``fn`` applied to its inputs (every update step of a metric)."""
    if case.inputs is not None:
        return dataclasses.replace(case, inputs=fn(case.inputs), **changes)
    steps = tuple(dataclasses.replace(s, inputs=fn(s.inputs)) if s.inputs is not None else s for s in case.steps)
    return dataclasses.replace(case, steps=steps, **changes)


def exact_in(a: np.ndarray, dtype: str) -> bool:
    """Every value of the float64 array ``a`` is a value of ``dtype`` (NaN and infinities excluded)."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return False
    with np.errstate(over="ignore", under="ignore"):
        return bool(np.array_equal(a.astype(dtype).astype(np.float64), a))


def smoothing_exact(case: Case) -> bool:
    """No rounding in label smoothing: 1 - s, s / 2 and every y (1 - s) + s / 2 are values of the
    case's dtype (decided exactly, with fractions), or the case has no label smoothing."""
    from xentspec.spec.floats import get_format, round_fraction

    s = case.params.get("label_smoothing")
    if not s:
        return True
    fmt, f = get_format(case.dtype), Fraction(s)
    labels = {Fraction(float(y)) for i in all_inputs(case) for y in np.asarray(i.y_true, dtype=np.float64).ravel()
              if np.isfinite(y)}
    wanted = [1 - f, f / 2] + [y * (1 - f) + f / 2 for y in labels]
    return all(round_fraction(v, fmt) == v for v in wanted)


def class_axis(case: Case) -> int:
    """The class axis of the case's predictions, non-negative."""
    p = all_inputs(case)[0].y_pred
    return case.params.get("axis", -1) % max(p.ndim, 1)


def squeeze_label_column(case: Case, inp: Inputs) -> np.ndarray:
    """Sparse labels without their size-1 class axis (the label column), others unchanged."""
    t = inp.y_true
    ax = case.params.get("axis", -1) % max(inp.y_pred.ndim, 1)
    if case.sparse and t.ndim == inp.y_pred.ndim and t.shape[ax] == 1:
        return np.squeeze(t, axis=ax)
    return t


def labels_of(case: Case, inp: Inputs) -> np.ndarray:
    """The sparse labels in the loss shape (column squeezed)."""
    return squeeze_label_column(case, inp)


def loss_count(case: Case, inp: Inputs) -> int:
    """The number of loss elements of a call: y_pred's size without its class (or BCE's averaged) axis."""
    p = inp.y_pred
    ax = case.params.get("axis", -1) % max(p.ndim, 1)
    return int(np.prod(p.shape[:ax] + p.shape[ax + 1:], dtype=np.int64))


def plain_ranks(case: Case) -> bool:
    """No call of the case triggers the loss classes' rank matching (a size-1 last axis of y_pred)."""
    return all(inp.y_pred.ndim >= 2 and inp.y_pred.shape[-1] >= 2 for inp in all_inputs(case))


# --------------------------------------------------------------------------- weights

def effective_weights(sw: np.ndarray | None, loss_shape: tuple[int, ...], profile: Profile) -> np.ndarray | None:
    """The weight of each loss element (flat, in the elements' order), or None without weights.

    The profile's rank rule first (``weight_expand_rank1``, tf-keras: a rank
    r-1 weight gains a last axis, a rank r+1 one loses its size-1 last axis;
    Keras 3's squeeze-or-expand: only when the ranks differ by one and the
    larger has a last axis of 1, a rank-1 smaller operand is expanded, else the
    larger squeezed), then NumPy broadcasting (ValueError when they do not
    broadcast, as the profile raises). Squeezing or expanding the losses' own
    size-1 axis leaves the order of their elements as it is.
    """
    if sw is None:
        return None
    w, s = np.asarray(sw, dtype=np.float64), tuple(loss_shape)
    r1, r2 = len(s), w.ndim
    if profile.weight_expand_rank1:
        if r2 and r2 == r1 - 1:
            w = w[..., None]
        elif r2 == r1 + 1 and w.shape[-1] == 1:
            w = w[..., 0]
    elif r1 == r2 + 1 and s[-1] == 1:
        if r2 == 1:
            w = w[..., None]
        else:
            s = s[:-1]
    elif r2 == r1 + 1 and w.shape[-1] == 1:
        if r1 == 1:
            s = s + (1,)
        else:
            w = w[..., 0]
    return np.broadcast_to(w, s).reshape(-1).astype(np.float64)


# --------------------------------------------------------------------------- ignore_class

def _kept_rows(case: Case, inp: Inputs, ic: int) -> tuple[Inputs, np.ndarray, np.ndarray, np.ndarray | None]:
    """(the kept entries as a rank-2 call, the kept mask over the loss elements, flat kept weights)."""
    labels = labels_of(case, inp)
    ax = case.params.get("axis", -1) % inp.y_pred.ndim
    rows = np.moveaxis(inp.y_pred, ax, -1)
    K = rows.shape[-1]
    kept = labels != ic
    flat_kept = kept.reshape(-1)
    new_pred = rows.reshape(-1, K)[flat_kept]
    new_true = labels.reshape(-1)[flat_kept].astype(np.int64)
    return Inputs(y_true=new_true, y_pred=new_pred), kept, flat_kept, None


def drop_ignored(case: Case, profile: Profile) -> tuple[Case, np.ndarray] | None:
    """The case with every ignored entry dropped (rank 2, no ignore_class), and the kept mask.

    Each call's kept entries become the rows of a rank-2 call; a weighted
    call's kept rows carry their effective per-element weights (so the
    weights of ``b`` have b's loss shape). Returns None where a call's
    weights do not broadcast to its losses (the profile rejects ``a`` then).
    For a metric the mask covers the entries of every update, in order.
    """
    ic = case.params["ignore_class"]
    params = {k: v for k, v in case.params.items() if k not in ("ignore_class", "axis")}
    masks = []

    def fn(inp: Inputs) -> Inputs:
        new, kept, flat_kept, _ = _kept_rows(case, inp, ic)
        masks.append(flat_kept)
        sw = None
        if inp.sample_weight is not None:
            sw = effective_weights(inp.sample_weight, kept.shape, profile)[flat_kept].copy()
        return dataclasses.replace(new, sample_weight=sw)

    try:
        b = map_inputs(case, fn, params=params)
    except ValueError:
        return None
    return b, (np.concatenate(masks) if masks else np.zeros(0, dtype=bool))


def metric_counts_ignored_factor(case: Case, ic: int) -> np.ndarray:
    """Per ``result`` step: kept / total entries so far (a Keras 3 metric without weights counts all).

    ``result(a) = result(b) * kept / total`` then, because the unweighted
    Keras 3 metric adds per-sample means of losses that are 0 at ignored
    entries and counts samples (metric_counts_ignored).
    """
    kept = total = 0
    out = []
    for s in case.steps:
        if s.kind == "reset":
            kept = total = 0
        elif s.kind == "update":
            labels = labels_of(case, s.inputs)
            kept += int(np.sum(labels != ic))
            total += int(labels.size)
        else:
            out.append(kept / total if total else 1.0)
    return np.array(out, dtype=np.float64)


# --------------------------------------------------------------------------- label smoothing

def smoothing_classes(case: Case, inp: Inputs, profile: Profile) -> int:
    """K of categorical label smoothing ls / K under the profile's ``cce_smoothing_classes``."""
    t = inp.y_true
    if profile.cce_smoothing_classes == "y_true_last":
        return int(t.shape[-1])
    if profile.cce_smoothing_classes == "y_true_1":
        return int(t.shape[1])
    return int(t.shape[case.params.get("axis", -1) % t.ndim])


def smoothed(case: Case, profile: Profile, dtype_ls: float) -> Case | None:
    """The case without label smoothing, its labels smoothed exactly; None if one is not a dtype value.

    CCE: y (1 - ls) + ls / K; BCE: y (1 - ls) + ls / 2, with ``dtype_ls`` the
    smoothing factor as the compute dtype holds it.
    """
    ls = Fraction(dtype_ls)
    params = {k: v for k, v in case.params.items() if k != "label_smoothing"}
    ok = [True]

    def fn(inp: Inputs) -> Inputs:
        K = 2 if case.loss == "binary_crossentropy" else smoothing_classes(case, inp, profile)
        t = np.vectorize(lambda y: float(Fraction(float(y)) * (1 - ls) + ls / K), otypes=[np.float64])(
            inp.y_true) if inp.y_true.size else inp.y_true.astype(np.float64)
        if not exact_in(t, case.dtype):
            ok[0] = False
        return dataclasses.replace(inp, y_true=np.asarray(t, dtype=np.float64).reshape(inp.y_true.shape))

    b = map_inputs(case, fn, params=params)
    return b if ok[0] else None


# --------------------------------------------------------------------------- metric steps

def split_update(case: Case, at: int, prefix: bool) -> tuple[Case, Case]:
    """(updates of rows [0, at) and [at, B) then result, optionally after update+result+reset of the first
    part; one update of all B rows then result). ``case`` has a single update."""
    i = case.steps[0].inputs
    B = i.y_pred.shape[0]

    def cut(lo: int, hi: int) -> Inputs:
        sw = i.sample_weight
        if sw is not None and sw.ndim >= 1:
            sw = sw[lo:hi]
        return dataclasses.replace(i, y_true=i.y_true[lo:hi], y_pred=i.y_pred[lo:hi], sample_weight=sw)

    head: tuple[Step, ...] = (Step("update", cut(0, at)), Step("result"), Step("reset")) if prefix else ()
    two = dataclasses.replace(case, steps=head + (Step("update", cut(0, at)), Step("update", cut(at, B)),
                                                  Step("result")))
    one = dataclasses.replace(case, steps=(Step("update", cut(0, B)), Step("result")))
    return two, one
