"""Hypothesis strategies that build spec cases, and the settings profiles of the property tests.

:func:`cases` draws a :class:`xentspec.spec.case.Case` exactly as the loader
would have built it from YAML: floating arrays are float64 arrays whose every
element is a value of the dtype the loader rounds that array to (``y_pred``
and dense ``y_true``: the case dtype; ``sample_weight``: float32 for the loss
and metric classes), sparse labels are int64. So a drawn case needs no YAML,
and :func:`case_yaml` (:mod:`.caseyaml`) writes it back as a case-file entry
that loads to the same arrays.

What is drawn (each choice shrinks towards the plain case: float32, the
function form, rank 2, the last axis, no weights):

* loss: the three; form: ``function``, ``loss`` with each reduction the
  profile accepts, ``metric`` with 1-3 updates, a ``result`` after some and
  now and then a ``reset`` between them;
* dtype: float32, less often float16 and float64;
* shapes from a few buckets (:data:`BATCHES`, :data:`CLASSES`, :data:`STEPS`:
  empty batches, one class, one step, and a few ordinary sizes), so that a
  backend that compiles per shape (JAX) compiles a bounded number of
  programs; rank 3 (batch, steps, classes) with the class axis moved to
  position 1 where the profile accepts it; sparse labels sometimes as a
  column (a size-1 class axis);
* logits at one scale of :data:`LOGIT_SCALES`, probabilities in [0, 1] or
  unnormalised in [0, 4], rows renormalised now and then; then, often, a few
  entries replaced by adversarial values (:func:`special_values`: exact 0 and
  1, the clip bounds and their neighbours, the smallest normal and
  subnormal, huge logits, the sigmoid clip thresholds; NaN and infinities
  only where ``nonfinite``, and not in the sparse loss's probabilities), and
  ties (a row's maximum copied);
* labels in range, the argmax of the row (losses near zero) or, rarely, out
  of range (every profile defines what that gives);
* ``ignore_class`` (sparse, where the profile has it: half of the cases, a
  third of the entries), ``label_smoothing`` (dense losses), ``from_logits``,
  ``axis``;
* ``sample_weight`` (loss and metric forms): scalar, per sample ``(B,)``,
  ``(B, 1)`` or per loss element, in [0, 4] (so they rarely sum to the
  element count), with exact zeros and ones among them.

The settings profiles (:func:`register_profiles`): ``smoke`` (a quick check
that every property runs), ``default`` (about 8 s extra for a conformance run
of the built-in numpy adapter on two cores), ``ci`` and ``thorough`` (many
more examples). All are deterministic
(``derandomize``, no example database; the runner also pins a seed per test
and switches off hypothesis' draws of module literals,
:mod:`xentspec.conformance.determinism`), so equal inputs give equal reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xentspec.spec.case import LOSSES, Case, Inputs, Step
from xentspec.spec.floats import get_format
from xentspec.spec.profiles import get_profile

from .caseyaml import case_yaml, weight_dtype

__all__ = ["LOGIT_SCALES", "BATCHES", "CLASSES", "STEPS", "PROFILE_PREFIX", "PROFILES", "METAMORPHIC_FACTOR",
           "Layout", "register_profiles", "hypothesis_settings", "dtypes", "exact_floats", "special_values",
           "layouts", "inputs", "cases", "case_yaml", "weight_dtype"]

LOGIT_SCALES = (2.0 ** -8, 1.0, 4.0, 30.0, 1e4)
"""Half-widths of the logit ranges: near-ties, ordinary, saturated and extreme logits (exact in float16)."""

BATCHES = (0, 1, 2, 3, 4, 8)
"""The batch sizes drawn (shape buckets; the smallest first, so examples shrink towards them)."""
CLASSES = (1, 2, 3, 4, 7, 20)
"""Class counts of rank-2 predictions."""
CLASSES_RANK3 = (1, 2, 3, 5)
"""Class counts of rank-3 predictions (batch, steps, classes)."""
STEPS = (1, 2, 3)
"""Sizes of the middle axis of rank-3 predictions."""

PROFILE_PREFIX = "xentspec-"
"""Hypothesis profile names of the suite are ``xentspec-<name>`` (the global registry is shared)."""

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"max_examples": 10},
    "default": {"max_examples": 30},
    "ci": {"max_examples": 150},
    "thorough": {"max_examples": 1500},
}
"""max_examples per settings profile (see :data:`METAMORPHIC_FACTOR` for the metamorphic laws)."""

METAMORPHIC_FACTOR: dict[str, int] = {"smoke": 1, "default": 2, "ci": 1, "thorough": 2}
"""Examples of a metamorphic law relative to max_examples, per suite profile (1 for other profiles).

The laws need no certified truth, so under ``default`` and ``thorough`` they
draw twice as many examples as the reference properties; under ``ci`` as
many, which keeps the fifteen properties within the ``ci`` time budget."""

_DTYPE_POOL = ("float32", "float32", "float32", "float32", "float16", "float64")
_MAX_PREDICTIONS = 160


# --------------------------------------------------------------------------- settings profiles

def register_profiles() -> None:
    """Register the ``xentspec-smoke`` / ``-default`` / ``-ci`` / ``-thorough`` hypothesis settings profiles.

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


def _in(dtype: str, x: float) -> float:
    """x rounded to ``dtype`` (as a float64 value)."""
    with np.errstate(over="ignore"):
        return float(np.asarray(x, dtype=np.float64).astype(dtype))


def _neighbours(dtype: str, x: float) -> list[float]:
    t = np.dtype(dtype).type
    v = t(x)
    return [float(np.nextafter(v, t(-np.inf))), float(v), float(np.nextafter(v, t(np.inf)))]


def special_values(kind: str, dtype: str, *, nonfinite: bool = False, epsilon: float = 1e-7) -> tuple[float, ...]:
    """Adversarial values of ``dtype`` for ``kind`` = ``probabilities``, ``logits`` or ``weights``.

    Probabilities: 0, 1, 1/2, the clip bounds epsilon and 1 - epsilon (rounded
    to the dtype, as every framework evaluates them) and their neighbours, the
    smallest normal and subnormal. Logits: 0, +-1, the smallest subnormal, the
    sigmoid clip thresholds +-log((1 - eps) / eps) and their neighbours, huge
    values whose ``exp`` overflows. Weights: 0, 1, tiny and large. With
    ``nonfinite``: NaN and both infinities too (a third of the pool).
    """
    fmt = get_format(dtype)
    tiny, normal = fmt.min_subnormal, np.finfo(dtype).tiny
    if kind == "probabilities":
        vals = [0.0, 1.0, 0.5, float(normal), tiny, *_neighbours(dtype, epsilon),
                *_neighbours(dtype, _in(dtype, 1.0 - epsilon))]
        vals = [v for v in vals if 0.0 <= v <= 1.0]
    elif kind == "logits":
        threshold = float(np.log((1.0 - epsilon) / epsilon))
        # Huge: exp overflows every dtype at 6e4; the reference certifies logits up to about 1e9
        # in reasonable time (1e10 takes it tens of seconds, 1e20 cannot be certified).
        vals = [0.0, 1.0, -1.0, tiny, -tiny, *_neighbours(dtype, threshold), *_neighbours(dtype, -threshold),
                100.0, -100.0, 6e4, -6e4]
    elif kind == "weights":
        vals = [0.0, 1.0, _in("float32", 1e-30), 4.0, 1e3]
    else:
        raise ValueError(f"unknown kind {kind!r}")
    vals = list(dict.fromkeys(vals))  # unique, in a fixed order (the first shrinks best)
    if nonfinite:
        vals += [float("nan"), float("inf"), float("-inf")] * 3  # a third of the picks
    return tuple(vals)


def _sprinkle(draw: Any, a: np.ndarray, pool: Sequence[float]) -> np.ndarray:
    """``a`` with 1-3 entries replaced by values of ``pool``, in half of the draws (shrinks to none)."""
    if a.size == 0 or not pool or not draw(st.booleans()):
        return a
    a = a.copy()
    flat = a.reshape(-1)
    for _ in range(draw(st.integers(1, 3))):
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(tuple(pool)))
    return a


def _ties(draw: Any, pred: np.ndarray, axis: int) -> np.ndarray:
    """Now and then copy each row's maximum to another entry of the row (a tie for the argmax)."""
    k = pred.shape[axis] if pred.ndim else 0
    if pred.size == 0 or k < 2 or draw(st.integers(0, 5)) != 5:
        return pred
    moved = np.moveaxis(pred.copy(), axis, -1)
    j = draw(st.integers(0, k - 1))
    moved[..., j] = moved.max(axis=-1)
    return np.moveaxis(moved, -1, axis)


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
        return max(0, min(BATCHES[-1], _MAX_PREDICTIONS // (self.classes * self.steps)))

    def batches(self, least: int = 0) -> tuple[int, ...]:
        """The batch buckets this layout may draw (at least ``least`` where the size limit allows)."""
        pool = tuple(b for b in BATCHES if b <= self.max_batch)
        return tuple(b for b in pool if b >= least) or pool[-1:]


@st.composite
def layouts(draw: Any, loss: str, form: str, profile: str, *, rank3: bool = True,
            other_axis: bool = True, ranks: Sequence[int] = (2, 2, 2, 3), plain: bool = False) -> Layout:
    """A class layout; rank 3 sometimes, with the class axis at 1 where the profile (and form) allow it.

    ``plain``: at least 2 classes and 2 steps, so that y_pred's last axis is never of size 1 (which
    makes the loss classes squeeze or expand y_true and y_pred first).
    """
    prof = get_profile(profile)
    rank = draw(st.sampled_from(tuple(r for r in ranks if rank3 or r == 2) or (2,)))
    least = 2 if plain else 1
    if rank == 2:
        return Layout(2, draw(st.sampled_from(tuple(k for k in CLASSES if k >= least))))
    classes = draw(st.sampled_from(tuple(k for k in CLASSES_RANK3 if k >= least)))
    steps = draw(st.sampled_from(tuple(t for t in STEPS if t >= least)))
    may_move = other_axis and not (loss == "binary_crossentropy" and form == "metric") and not (
        loss == "sparse_categorical_crossentropy" and prof.scce_axis != "any")
    axis = draw(st.sampled_from((-1, -1, 1, -2) if may_move else (-1,)))
    return Layout(3, classes, steps, axis)


def _argmax_labels(pred: np.ndarray, axis: int) -> np.ndarray:
    if pred.size == 0:
        return np.zeros(np.delete(pred.shape, axis), dtype=np.int64)
    return np.argmax(np.nan_to_num(pred, nan=-np.inf), axis=axis).astype(np.int64)


def _probabilities(draw: Any, dtype: str, shape: tuple[int, ...], ax: int, finite_rows: bool,
                   pool: Sequence[float]) -> np.ndarray:
    top = draw(st.sampled_from((1.0, 1.0, 1.0, 4.0)))
    pred = _array(draw, dtype, shape, 0.0, top)
    if draw(st.sampled_from((False, False, False, True))) and pred.size:
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = pred / pred.sum(axis=ax, keepdims=True)
        pred = np.where(np.isfinite(norm), norm, pred).astype(dtype).astype(np.float64)
    pred = _sprinkle(draw, pred, pool)
    if finite_rows and pred.size:
        # A row of zeros renormalises to 0/0: move one entry of such rows to 1.
        dead = np.moveaxis(pred.sum(axis=ax, keepdims=True) == 0, ax, -1)
        moved = np.moveaxis(pred, ax, -1).copy()
        moved[..., :1] = np.where(dead, 1.0, moved[..., :1])
        pred = np.moveaxis(moved, -1, ax)
    return pred


def _sparse_labels(draw: Any, pred: np.ndarray, layout: Layout, batch: int, mode: str, out_of_range: bool,
                   ignore_class: int | None, column: bool) -> np.ndarray:
    K, lshape, ax = layout.classes, layout.loss_shape(batch), layout.class_axis
    if mode == "argmax":
        y_true = _argmax_labels(pred, ax)
    else:
        y_true = draw(hnp.arrays(np.int64, lshape, elements=st.integers(0, K - 1)))
    if out_of_range and y_true.size and draw(st.integers(0, 9)) == 9:  # rare; shrinks to no
        y_true = y_true.copy()
        y_true.reshape(-1)[draw(st.integers(0, y_true.size - 1))] = draw(st.sampled_from((K, -1, -100, K + 3)))
    if ignore_class is not None and y_true.size:
        # A third of the entries ignored, or (one draw in five) every entry: the all-masked mean.
        if draw(st.integers(0, 4)) == 4:
            hit = np.ones(lshape, dtype=bool)
        else:
            hit = draw(hnp.arrays(np.bool_, lshape, elements=st.integers(0, 2).map(lambda i: i == 2)))
        y_true = np.where(hit, ignore_class, y_true).astype(np.int64)
    if column:
        y_true = np.expand_dims(y_true, ax)  # the label column: a size-1 class axis
    return y_true


@st.composite
def inputs(draw: Any, loss: str, dtype: str, from_logits: bool, layout: Layout, batch: int, *,
           out_of_range: bool = True, ignore_class: int | None = None, weights: str | None = None,
           finite_rows: bool = False, adversarial: bool = True, nonfinite: bool = False,
           label_column: bool = False, epsilon: float = 1e-7) -> Inputs:
    """One call's arrays for ``loss`` in ``dtype`` (exact values), labels consistent with ``layout``.

    ``weights``: None, ``scalar``, ``sample`` ``(B,)``, ``column`` ``(B, 1)`` or
    ``element`` (the loss shape). ``finite_rows`` keeps probability rows away
    from an all-zero sum (no NaN results; for the metamorphic laws).
    ``adversarial`` sprinkles :func:`special_values` (NaN and infinities too
    with ``nonfinite``); ``label_column`` gives sparse labels a size-1 class axis.
    """
    shape = layout.pred_shape(batch)
    ax = layout.class_axis
    kind = "logits" if from_logits else "probabilities"
    # NaN / inf probabilities of the sparse loss: Keras 3's backends disagree (jax and numpy take the
    # one-hot product, NaN; torch's nll_loss picks the label's entry) and no profile names the choice.
    nonfinite = nonfinite and not (loss == LOSSES[0] and not from_logits)
    pool = special_values(kind, dtype, nonfinite=nonfinite, epsilon=epsilon) if adversarial else ()
    if from_logits:
        scale = draw(st.sampled_from(LOGIT_SCALES))
        pred = _sprinkle(draw, _array(draw, dtype, shape, -scale, scale), pool)
    else:
        pred = _probabilities(draw, dtype, shape, ax, finite_rows, pool)
    if adversarial:
        pred = _ties(draw, pred, ax)
    mode = draw(st.sampled_from(("random", "random", "argmax", "soft") if loss != LOSSES[0] else
                                ("random", "random", "argmax")))
    lshape = layout.loss_shape(batch)
    if loss == "sparse_categorical_crossentropy":
        y_true = _sparse_labels(draw, pred, layout, batch, mode, out_of_range, ignore_class, label_column)
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
            y_true = (np.nan_to_num(pred) > (0.0 if from_logits else 0.5)).astype(np.float64)
        else:
            y_true = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from((0.0, 1.0))))
    sw = None
    if weights is not None:
        wshape = {"scalar": (), "sample": (batch,), "column": (batch, 1), "element": lshape}[weights]
        sw = _array(draw, "float32", wshape, 0.0, 4.0)
        if adversarial:
            sw = _sprinkle(draw, sw, special_values("weights", "float32"))
    return Inputs(y_true=np.asarray(y_true), y_pred=pred, sample_weight=sw)


# --------------------------------------------------------------------------- cases

def _metric_steps(draw: Any, n: int, draw_inputs: Any, batches: tuple[int, ...]) -> tuple[Step, ...]:
    built: list[Step] = []
    for i in range(n):
        built.append(Step("update", draw_inputs(draw(st.sampled_from(batches)))))
        if i == n - 1 or draw(st.booleans()):
            built.append(Step("result"))
            if i < n - 1 and draw(st.integers(0, 3)) == 3:
                built.append(Step("reset"))
    return tuple(built)


@st.composite
def cases(draw: Any, profile: str, *, case_id: str = "property/case",
          losses: Sequence[str] = LOSSES, forms: Sequence[str] = ("function", "loss", "metric"),
          allowed_dtypes: Iterable[str] = ("float16", "float32", "float64"),
          from_logits: bool | None = None, reductions: Sequence[str] | None = None,
          weights: bool = True, ignore_class: bool = True, label_smoothing: bool = True,
          out_of_range: bool = True, rank3: bool = True, other_axis: bool = True, min_batch: int = 0,
          updates: tuple[int, int] = (1, 3), finite_rows: bool = False, adversarial: bool = True,
          nonfinite: bool = False, weight_kinds: Sequence[str] | None = None,
          require_ignore_class: bool = False, require_weights: bool = False, require_smoothing: bool = False,
          smoothing_values: Sequence[float] = (0.1, 0.2, 0.5, 1.0, 0.05), ranks: Sequence[int] = (2, 2, 2, 3),
          plain: bool = False) -> Case:
    """A valid :class:`Case` for ``profile`` (see the module docstring); keywords narrow the draw.

    ``reductions`` restricts the loss form's reductions (default: every one the
    profile accepts); ``updates`` is the (min, max) number of metric updates;
    ``weight_kinds`` the sample_weight shapes (``scalar``, ``sample``,
    ``column``, ``element``); ``require_ignore_class`` / ``require_weights`` /
    ``require_smoothing`` always set them (where the loss and profile allow); ``ranks`` the pool of
    y_pred ranks; ``plain`` see :func:`layouts`.
    """
    prof = get_profile(profile)
    loss = draw(st.sampled_from(tuple(losses)))
    form = draw(st.sampled_from(tuple(forms)))
    dtype = draw(dtypes(allowed_dtypes))
    logits = draw(st.booleans()) if from_logits is None else from_logits
    layout = draw(layouts(loss, form, profile, rank3=rank3, other_axis=other_axis, ranks=ranks, plain=plain))
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
    if sparse and ignore_class and allows_ic and (require_ignore_class or draw(st.booleans())):
        ic = draw(st.sampled_from((0, -1, layout.classes - 1, 255)))
        params["ignore_class"] = ic
    if not sparse and label_smoothing and (require_smoothing or draw(st.integers(0, 2)) == 2):
        params["label_smoothing"] = draw(st.sampled_from(tuple(smoothing_values)))
    wkind = None
    if weights and form != "function" and (require_weights or draw(st.booleans())):
        kinds = [k for k in ("scalar", "sample", "column", "element")
                 if (k != "element" or layout.rank == 3) and (weight_kinds is None or k in weight_kinds)]
        if kinds:
            wkind = draw(st.sampled_from(kinds))
    column = sparse and draw(st.integers(0, 5)) == 5

    def draw_inputs(batch: int) -> Inputs:
        return draw(inputs(loss, dtype, logits, layout, batch, out_of_range=out_of_range, ignore_class=ic,
                           weights=wkind, finite_rows=finite_rows, adversarial=adversarial,
                           nonfinite=nonfinite, label_column=column, epsilon=prof.epsilon))

    batches = layout.batches(min_batch)
    single = steps = None
    if form == "metric":
        steps = _metric_steps(draw, draw(st.integers(*updates)), draw_inputs, batches)
    else:
        single = draw_inputs(draw(st.sampled_from(batches)))
    return Case(id=case_id, loss=loss, form=form, dtype=dtype, params=params, profiles=(profile,),
                inputs=single, steps=steps, tags=("property",))
