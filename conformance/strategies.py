"""Hypothesis strategies that build spec cases, and the settings profiles of the property tests.

:func:`cases` draws a :class:`xentspec.spec.case.Case` exactly as the loader
would have built it from YAML: floating arrays are float64 arrays whose every
element is a value of the dtype the loader rounds that array to (``y_pred``
and dense ``y_true``: the case dtype; ``sample_weight``: float32 for the loss
and metric classes), sparse labels are int64. So a drawn case needs no YAML,
and :func:`case_yaml` writes it back as a case file entry that loads to the
same arrays (the property tests ``note()`` it for a falsifying example).

What is drawn (each choice shrinks towards the plain case: float32, the
function form, rank 2, the last axis, no weights):

* loss: the three; form: ``function``, ``loss`` with each reduction the
  profile accepts, ``metric`` with 1-3 updates (a ``result`` after some);
* dtype: float32, less often float16 and float64;
* shapes: batch 0..8 (empty included), 1..20 classes; rank 3 (batch, steps,
  classes) with the class axis moved to position 1 where the profile accepts
  it; at most 160 predictions, so the reference answers in milliseconds;
* logits at one scale of :data:`LOGIT_SCALES` (tiny to +-1e4), probabilities
  in [0, 1] (0 and 1 exactly included) or unnormalised in [0, 4], rows
  renormalised now and then; labels in range, the argmax of the row (losses
  near zero) or, rarely, out of range (every profile defines what that gives);
* ``ignore_class`` (sparse, where the profile has it), ``label_smoothing``
  (dense losses), ``from_logits``, ``axis``;
* ``sample_weight`` (loss and metric forms): scalar, per sample ``(B,)``,
  ``(B, 1)`` or per loss element.

The settings profiles (:func:`register_profiles`): ``default`` keeps a
conformance run of the built-in numpy adapter within about 30 s extra on two
cores; ``ci`` and ``thorough`` draw many more examples. All are deterministic
(``derandomize``, no example database), so equal inputs give equal reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xentspec.spec.case import LOSSES, Case, Inputs, Step
from xentspec.spec.profiles import get_profile

__all__ = ["LOGIT_SCALES", "PROFILE_PREFIX", "PROFILES", "Layout", "register_profiles", "hypothesis_settings",
           "dtypes", "exact_floats", "layouts", "inputs", "cases", "case_yaml", "weight_dtype"]

LOGIT_SCALES = (2.0 ** -8, 1.0, 4.0, 30.0, 1e4)
"""Half-widths of the logit ranges: near-ties, ordinary, saturated and extreme logits (exact in float16)."""

PROFILE_PREFIX = "xentspec-"
"""Hypothesis profile names of the suite are ``xentspec-<name>`` (the global registry is shared)."""

PROFILES: dict[str, dict[str, Any]] = {
    "default": {"max_examples": 30},
    "ci": {"max_examples": 150},
    "thorough": {"max_examples": 1500},
}
"""max_examples per settings profile (metamorphic properties run twice as many: no reference needed)."""

_DTYPE_POOL = ("float32", "float32", "float32", "float32", "float16", "float64")
_MAX_PREDICTIONS = 160


# --------------------------------------------------------------------------- settings profiles

def register_profiles() -> None:
    """Register the ``xentspec-default`` / ``-ci`` / ``-thorough`` hypothesis settings profiles.

    Deterministic (``derandomize=True``, ``database=None``; the runner also
    pins a seed per test), no deadline (the reference's first answer for a
    case may take tens of milliseconds; its disk cache serves reruns), one
    reported bug per test (the verdict shows the minimal falsifying case).
    """
    common = dict(deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                  print_blob=False,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
    for name, extra in PROFILES.items():
        settings.register_profile(PROFILE_PREFIX + name, **common, **extra)


def hypothesis_settings(name: str | None) -> settings:
    """The settings of profile ``name`` (``default`` when None): a suite profile or any registered one.

    Raises ValueError naming the known profiles for an unknown name.
    """
    register_profiles()
    name = name or "default"
    for candidate in (PROFILE_PREFIX + name, name):
        try:
            return settings.get_profile(candidate)
        except Exception:  # hypothesis raises InvalidArgument for an unknown profile
            continue
    raise ValueError(f"unknown hypothesis profile {name!r}; the suite defines {', '.join(PROFILES)}")


# --------------------------------------------------------------------------- building blocks

def dtypes(allowed: Iterable[str] = ("float16", "float32", "float64")) -> st.SearchStrategy[str]:
    """A case dtype: float32 most often (and first when shrinking), float16 and float64 less often."""
    pool = [d for d in _DTYPE_POOL if d in set(allowed)]
    if not pool:
        raise ValueError(f"no dtype of {sorted(set(_DTYPE_POOL))} is allowed")
    return st.sampled_from(pool)


_WIDTH = {"float16": 16, "float32": 32, "float64": 64}


def exact_floats(dtype: str, lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite Python floats in [lo, hi] that are exact values of ``dtype`` (bounds must be exact too)."""
    return st.floats(min_value=lo, max_value=hi, width=_WIDTH[dtype], allow_nan=False, allow_infinity=False)


def _array(draw: Any, dtype: str, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=exact_floats(dtype, lo, hi)))


def weight_dtype(case_form: str, case_dtype: str, params: Any) -> str:
    """The dtype the loader rounds ``sample_weight`` to: the class dtype, or the case dtype for functions."""
    return (params or {}).get("dtype") or ("float32" if case_form != "function" else case_dtype)


@dataclass(frozen=True)
class Layout:
    """Where the classes are: rank 2 ``(B, K)`` or rank 3 ``(B, T, K)``, class axis last or at 1."""

    rank: int
    classes: int
    steps: int = 1
    axis: int = -1

    def pred_shape(self, batch: int) -> tuple[int, ...]:
        """The shape of y_pred for a batch of ``batch``."""
        if self.rank == 2:
            return (batch, self.classes)
        if self.axis in (1, -2):
            return (batch, self.classes, self.steps)
        return (batch, self.steps, self.classes)

    def loss_shape(self, batch: int) -> tuple[int, ...]:
        """The shape of the unreduced loss (also of sparse labels)."""
        return (batch,) if self.rank == 2 else (batch, self.steps)

    @property
    def class_axis(self) -> int:
        """The class axis as a non-negative index of y_pred."""
        return self.axis % self.rank

    @property
    def max_batch(self) -> int:
        """The largest batch that keeps y_pred within the size limit."""
        return max(0, min(8, _MAX_PREDICTIONS // (self.classes * self.steps)))


@st.composite
def layouts(draw: Any, loss: str, form: str, profile: str, *, rank3: bool = True,
            other_axis: bool = True) -> Layout:
    """A class layout; rank 3 sometimes, with the class axis at 1 where the profile (and form) allow it."""
    prof = get_profile(profile)
    rank = draw(st.sampled_from((2, 2, 2, 3) if rank3 else (2,)))
    if rank == 2:
        return Layout(2, draw(st.integers(1, 20)))
    classes, steps = draw(st.integers(1, 10)), draw(st.integers(1, 4))
    may_move = other_axis and not (loss == "binary_crossentropy" and form == "metric") and not (
        loss == "sparse_categorical_crossentropy" and prof.scce_axis != "any")
    axis = draw(st.sampled_from((-1, -1, 1, -2) if may_move else (-1,)))
    return Layout(3, classes, steps, axis)


def _argmax_labels(pred: np.ndarray, axis: int) -> np.ndarray:
    if pred.size == 0:
        return np.zeros(np.delete(pred.shape, axis), dtype=np.int64)
    return np.argmax(pred, axis=axis).astype(np.int64)


@st.composite
def inputs(draw: Any, loss: str, dtype: str, from_logits: bool, layout: Layout, batch: int, *,
           out_of_range: bool = True, ignore_class: int | None = None, weights: str | None = None,
           finite_rows: bool = False) -> Inputs:
    """One call's arrays for ``loss`` in ``dtype`` (exact values), labels consistent with ``layout``.

    ``weights``: None, ``scalar``, ``sample`` ``(B,)``, ``column`` ``(B, 1)`` or
    ``element`` (the loss shape). ``finite_rows`` keeps probability rows away
    from an all-zero sum (no NaN results; for the metamorphic properties).
    """
    shape = layout.pred_shape(batch)
    ax = layout.class_axis
    if from_logits:
        scale = draw(st.sampled_from(LOGIT_SCALES))
        pred = _array(draw, dtype, shape, -scale, scale)
    else:
        top = draw(st.sampled_from((1.0, 1.0, 1.0, 4.0)))
        pred = _array(draw, dtype, shape, 0.0, top)
        if draw(st.sampled_from((False, False, False, True))) and pred.size:
            with np.errstate(invalid="ignore", divide="ignore"):
                norm = pred / pred.sum(axis=ax, keepdims=True)
            pred = np.where(np.isfinite(norm), norm, pred).astype(dtype).astype(np.float64)
        if finite_rows and pred.size:
            # A row of zeros renormalises to 0/0: move one entry of such rows to 1.
            dead = np.moveaxis(pred.sum(axis=ax, keepdims=True) == 0, ax, -1)
            moved = np.moveaxis(pred, ax, -1).copy()
            moved[..., :1] = np.where(dead, 1.0, moved[..., :1])
            pred = np.moveaxis(moved, -1, ax)
    mode = draw(st.sampled_from(("random", "random", "argmax", "soft") if loss != LOSSES[0] else
                                ("random", "random", "argmax")))
    lshape = layout.loss_shape(batch)
    if loss == "sparse_categorical_crossentropy":
        K = layout.classes
        if mode == "argmax":
            y_true = _argmax_labels(pred, ax)
        else:
            y_true = draw(hnp.arrays(np.int64, lshape, elements=st.integers(0, K - 1)))
        if out_of_range and y_true.size and draw(st.integers(0, 9)) == 9:  # rare; shrinks to no
            y_true = y_true.copy()
            y_true.reshape(-1)[draw(st.integers(0, y_true.size - 1))] = draw(st.sampled_from((K, -1, -100, K + 3)))
        if ignore_class is not None and y_true.size:
            hit = draw(hnp.arrays(np.bool_, lshape))
            y_true = np.where(hit, ignore_class, y_true).astype(np.int64)
    elif loss == "categorical_crossentropy":
        if mode == "soft":
            y_true = _array(draw, dtype, shape, 0.0, 1.0)
        else:
            idx = _argmax_labels(pred, ax) if mode == "argmax" else draw(
                hnp.arrays(np.int64, lshape, elements=st.integers(0, layout.classes - 1)))
            y_true = np.moveaxis(np.eye(layout.classes)[idx], -1, ax) if idx.size else np.zeros(shape)
    else:
        if mode == "soft":
            y_true = _array(draw, dtype, shape, 0.0, 1.0)
        elif mode == "argmax":
            y_true = (pred > (0.0 if from_logits else 0.5)).astype(np.float64)
        else:
            y_true = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from((0.0, 1.0))))
    sw = None
    if weights is not None:
        wshape = {"scalar": (), "sample": (batch,), "column": (batch, 1), "element": lshape}[weights]
        sw = _array(draw, "float32", wshape, 0.0, 4.0)
    return Inputs(y_true=np.asarray(y_true), y_pred=pred, sample_weight=sw)


# --------------------------------------------------------------------------- cases

@st.composite
def cases(draw: Any, profile: str, *, case_id: str = "property/case",
          losses: Sequence[str] = LOSSES, forms: Sequence[str] = ("function", "loss", "metric"),
          allowed_dtypes: Iterable[str] = ("float16", "float32", "float64"),
          from_logits: bool | None = None, reductions: Sequence[str] | None = None,
          weights: bool = True, ignore_class: bool = True, label_smoothing: bool = True,
          out_of_range: bool = True, rank3: bool = True, other_axis: bool = True, min_batch: int = 0,
          updates: tuple[int, int] = (1, 3), finite_rows: bool = False) -> Case:
    """A valid :class:`Case` for ``profile`` (see the module docstring); keywords narrow the draw.

    ``reductions`` restricts the loss form's reductions (default: every one the
    profile accepts); ``updates`` is the (min, max) number of metric updates.
    """
    prof = get_profile(profile)
    loss = draw(st.sampled_from(tuple(losses)))
    form = draw(st.sampled_from(tuple(forms)))
    dtype = draw(dtypes(allowed_dtypes))
    logits = draw(st.booleans()) if from_logits is None else from_logits
    layout = draw(layouts(loss, form, profile, rank3=rank3, other_axis=other_axis))
    params: dict[str, Any] = {}
    if logits:
        params["from_logits"] = True
    if layout.axis != -1:
        params["axis"] = layout.axis
    if form == "loss":
        pool = [r for r in prof.reductions if reductions is None or r in reductions]
        if not pool:
            raise ValueError(f"profile {profile} accepts none of the reductions {reductions}")
        params["reduction"] = draw(st.sampled_from(pool))
    ic = None
    sparse = loss == "sparse_categorical_crossentropy"
    allows_ic = prof.metric_ignore_class if form == "metric" else prof.ignore_class
    if sparse and ignore_class and allows_ic and draw(st.integers(0, 3)) == 3:
        ic = draw(st.sampled_from((0, -1, layout.classes - 1, 255)))
        params["ignore_class"] = ic
    if not sparse and label_smoothing and draw(st.integers(0, 3)) == 3:
        params["label_smoothing"] = draw(st.sampled_from((0.1, 0.2, 0.5, 1.0, 0.05)))
    wkind = None
    if weights and form != "function" and draw(st.booleans()):
        kinds = ("scalar", "sample", "column") + (("element",) if layout.rank == 3 else ())
        wkind = draw(st.sampled_from(kinds))
    top = layout.max_batch

    def draw_inputs(batch: int) -> Inputs:
        return draw(inputs(loss, dtype, logits, layout, batch, out_of_range=out_of_range, ignore_class=ic,
                           weights=wkind, finite_rows=finite_rows))

    single = steps = None
    if form == "metric":
        built: list[Step] = []
        n = draw(st.integers(*updates))
        for i in range(n):
            built.append(Step("update", draw_inputs(draw(st.integers(min(min_batch, top), top)))))
            if i == n - 1 or draw(st.booleans()):
                built.append(Step("result"))
        steps = tuple(built)
    else:
        single = draw_inputs(draw(st.integers(min(min_batch, top), top)))
    return Case(id=case_id, loss=loss, form=form, dtype=dtype, params=params, profiles=(profile,),
                inputs=single, steps=steps, tags=("property",))


# --------------------------------------------------------------------------- YAML

def _number(x: float, dtype: str) -> str:
    """The shortest decimal that reads back as ``x`` in ``dtype`` (nan / inf spelled out)."""
    if math.isnan(x):
        return '"nan"'
    if math.isinf(x):
        return '"inf"' if x > 0 else '"-inf"'
    if dtype in ("float16", "float32"):
        text = np.format_float_positional(getattr(np, dtype)(x), unique=True, trim="-")
        sci = np.format_float_scientific(getattr(np, dtype)(x), unique=True, trim="-")
    else:
        text, sci = np.format_float_positional(x, unique=True, trim="-"), repr(float(x))
    text = sci if len(sci) < len(text) else text
    return f'"{text}"' if "e" in text else text  # YAML 1.1 reads 1e-05 as a string anyway


def _flow(a: np.ndarray, dtype: str | None) -> str:
    """A flow-style YAML array; empty arrays as a ``{shape, fill}`` generator (a list loses the shape)."""
    a = np.asarray(a)
    if a.size == 0 and a.ndim > 0:
        return f"{{shape: {list(a.shape)}, fill: 0}}"

    def rec(x: Any) -> str:
        if isinstance(x, np.ndarray) and x.ndim:
            return "[" + ", ".join(rec(v) for v in x) + "]"
        return str(int(x)) if dtype is None else _number(float(x), dtype)
    return rec(a)


def _inputs_yaml(inp: Inputs, case: Case, indent: str) -> list[str]:
    label_dtype = None if case.sparse and case.label_dtype in (None, "int32", "int64") else (
        case.label_dtype or case.dtype)
    out = [f"{indent}y_true: {_flow(inp.y_true, label_dtype)}", f"{indent}y_pred: {_flow(inp.y_pred, case.dtype)}"]
    if inp.sample_weight is not None:
        out.append(f"{indent}sample_weight: {_flow(inp.sample_weight, weight_dtype(case.form, case.dtype, case.params))}")
    return out


def case_yaml(case: Case, case_id: str | None = None) -> str:
    """``case`` as a case-file entry (a one-item YAML list) that loads back to the same arrays.

    Numbers are written as the shortest decimals that round back to the same
    value of the dtype the loader rounds each array to.
    """
    lines = [f"- id: {case_id or case.id}", f"  loss: {case.loss}", f"  form: {case.form}", f"  dtype: {case.dtype}"]
    if case.params:
        items = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in case.params.items())
        lines.append(f"  params: {{{items}}}")
    if case.label_dtype:
        lines.append(f"  label_dtype: {case.label_dtype}")
    lines.append(f"  profiles: [{', '.join(case.profiles)}]")
    if case.inputs is not None:
        lines.append("  inputs:")
        lines += _inputs_yaml(case.inputs, case, "    ")
    if case.steps is not None:
        lines.append("  steps:")
        for s in case.steps:
            if s.kind == "update":
                lines.append("    - update:")
                lines += _inputs_yaml(s.inputs, case, "        ")
            else:
                lines.append(f"    - {s.kind}")
    if case.tags:
        lines.append(f"  tags: [{', '.join(case.tags)}]")
    return "\n".join(lines) + "\n"
