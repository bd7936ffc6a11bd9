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
  empty batches, one class, one step, and a few ordinary sizes; fewer still,
  :data:`LEAN`, for adapters in a worker process), so that a backend that
  compiles per shape (JAX) compiles a bounded number of programs; rank 3 (batch, steps, classes) with the class axis moved to
  position 1 where the profile accepts it; sparse labels sometimes as a
  column (a size-1 class axis);
* logits at one scale of :data:`LOGIT_SCALES`, probabilities in [0, 1] or
  unnormalised in [0, 4], rows renormalised now and then, or (one draw in
  six) equal to the hard labels, so that the clip bounds alone decide every
  loss; then, often, a few
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
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xentspec.spec.case import LOSSES, Case, Inputs, Step
from xentspec.spec.profiles import get_profile

from .adversarial import BOOLS, ints, one_of, special_values, sprinkle, ties
from .caseyaml import case_yaml, weight_dtype
from .hsettings import METAMORPHIC_FACTOR, PROFILE_PREFIX, PROFILES, hypothesis_settings, register_profiles

__all__ = ["LOGIT_SCALES", "BATCHES", "CLASSES", "STEPS", "PROFILE_PREFIX", "PROFILES", "METAMORPHIC_FACTOR",
           "Layout", "register_profiles", "hypothesis_settings", "dtypes", "exact_floats", "special_values",
           "layouts", "inputs", "cases", "case_yaml", "weight_dtype"]

LOGIT_SCALES = (2.0 ** -8, 1.0, 4.0, 30.0, 1e4)
"""Half-widths of the logit ranges: near-ties, ordinary, saturated and extreme logits (exact in float16)."""

BATCHES = (0, 0, 1, 2, 3, 4, 8)
"""The batch sizes drawn (shape buckets; the smallest first, so examples shrink towards them; empty
batches twice as often as the others)."""
CLASSES = (1, 2, 3, 4, 7, 20)
"""Class counts of rank-2 predictions."""
CLASSES_RANK3 = (1, 2, 3, 5)
"""Class counts of rank-3 predictions (batch, steps, classes)."""
STEPS = (1, 2, 3)
"""Sizes of the middle axis of rank-3 predictions."""
LEAN = {"batches": (0, 1, 3), "classes": (1, 3), "classes_rank3": (3,), "steps": (2,)}
"""The smaller bucket set of ``lean`` draws: for adapters in a worker process, whose backend may compile
a program per shape (Keras on JAX), so that a run compiles a handful of shapes."""

_DTYPE_POOL = ("float32", "float32", "float32", "float32", "float16", "float64")
_MAX_PREDICTIONS = 160


# --------------------------------------------------------------------------- building blocks

def dtypes(allowed: Iterable[str] = ("float16", "float32", "float64")) -> st.SearchStrategy[str]:
    """A case dtype: float32 most often (and first when shrinking), float16 and float64 less often."""
    pool = [d for d in _DTYPE_POOL if d in set(allowed)]
    if not pool:
        raise ValueError(f"no dtype of {sorted(set(_DTYPE_POOL))} is allowed")
    return one_of(tuple(pool))


_WIDTH = {"float16": 16, "float32": 32, "float64": 64}


@lru_cache(maxsize=None)
def exact_floats(dtype: str, lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite Python floats in [lo, hi] that are exact values of ``dtype`` (bounds must be exact too)."""
    return st.floats(min_value=lo, max_value=hi, width=_WIDTH[dtype], allow_nan=False, allow_infinity=False)


def _array(draw: Any, dtype: str, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    return draw(_float_arrays(dtype, shape, lo, hi))


@lru_cache(maxsize=4096)
def _float_arrays(dtype: str, shape: tuple[int, ...], lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=exact_floats(dtype, lo, hi))


@lru_cache(maxsize=4096)
def _int_arrays(shape: tuple[int, ...], lo: int, hi: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.int64, shape, elements=ints(lo, hi))


@lru_cache(maxsize=4096)
def _mask_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.bool_, shape, elements=ints(0, 2).map(lambda i: i == 2))  # a third True


@lru_cache(maxsize=4096)
def _hard_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=one_of((0.0, 1.0)))


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

    lean: bool = False

    @property
    def max_batch(self) -> int:
        """The largest batch that keeps y_pred within the size limit."""
        return max(0, min(BATCHES[-1], _MAX_PREDICTIONS // (self.classes * self.steps)))

    def batches(self, least: int = 0) -> tuple[int, ...]:
        """The batch buckets this layout may draw (at least ``least`` where the size limit allows)."""
        pool = tuple(b for b in (LEAN["batches"] if self.lean else BATCHES) if b <= self.max_batch)
        return tuple(b for b in pool if b >= least) or pool[-1:]


@st.composite
def layouts(draw: Any, loss: str, form: str, profile: str, *, rank3: bool = True,
            other_axis: bool = True, ranks: Sequence[int] = (2, 2, 3), plain: bool = False,
            lean: bool = False) -> Layout:
    """A class layout; rank 3 sometimes, with the class axis at 1 where the profile (and form) allow it.

    ``plain``: at least 2 classes and 2 steps, so that y_pred's last axis is never of size 1 (which
    makes the loss classes squeeze or expand y_true and y_pred first). ``lean``: the :data:`LEAN` buckets.
    """
    prof = get_profile(profile)
    rank = draw(one_of(tuple(r for r in ranks if rank3 or r == 2) or (2,)))
    least = 2 if plain else 1
    pools = LEAN if lean else {"classes": CLASSES, "classes_rank3": CLASSES_RANK3, "steps": STEPS}
    if rank == 2:
        return Layout(2, draw(one_of(tuple(k for k in pools["classes"] if k >= least))), lean=lean)
    classes = draw(one_of(tuple(k for k in pools["classes_rank3"] if k >= least)))
    steps = draw(one_of(tuple(t for t in pools["steps"] if t >= least) or (2,)))
    may_move = other_axis and not (loss == "binary_crossentropy" and form == "metric") and not (
        loss == "sparse_categorical_crossentropy" and prof.scce_axis != "any")
    axis = draw(one_of((-1, -1, 1, -2) if may_move else (-1,)))
    return Layout(3, classes, steps, axis, lean=lean)


def _argmax_labels(pred: np.ndarray, axis: int) -> np.ndarray:
    if pred.size == 0:
        return np.zeros(np.delete(pred.shape, axis), dtype=np.int64)
    return np.argmax(np.nan_to_num(pred, nan=-np.inf), axis=axis).astype(np.int64)


def _probabilities(draw: Any, dtype: str, shape: tuple[int, ...], ax: int, finite_rows: bool,
                   pool: Sequence[float]) -> np.ndarray:
    top = draw(one_of((1.0, 1.0, 1.0, 4.0)))
    pred = _array(draw, dtype, shape, 0.0, top)
    if draw(one_of((False, False, False, True))) and pred.size:
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = pred / pred.sum(axis=ax, keepdims=True)
        pred = np.where(np.isfinite(norm), norm, pred).astype(dtype).astype(np.float64)
    pred = sprinkle(draw, pred, pool)
    if finite_rows and pred.size:
        # A row of zeros renormalises to 0/0: move one entry of such rows to 1.
        dead = np.moveaxis(pred.sum(axis=ax, keepdims=True) == 0, ax, -1)
        moved = np.moveaxis(pred, ax, -1).copy()
        moved[..., :1] = np.where(dead, 1.0, moved[..., :1])
        pred = np.moveaxis(moved, -1, ax)
    return pred


def _one_in(draw: Any, n: int) -> bool:
    """True once in ``n`` draws (shrinks to False)."""
    return draw(ints(0, n - 1)) == n - 1


def _sparse_labels(draw: Any, pred: np.ndarray, layout: Layout, batch: int, mode: str, out_of_range: bool,
                   ignore_class: int | None, column: bool, edges: bool = False) -> np.ndarray:
    K, lshape, ax = layout.classes, layout.loss_shape(batch), layout.class_axis
    if mode == "argmax":
        y_true = _argmax_labels(pred, ax)
    else:
        y_true = draw(_int_arrays(lshape, 0, K - 1))
    if out_of_range and y_true.size and _one_in(draw, 2 if edges else 10):  # rare; shrinks to no
        y_true = y_true.copy()
        y_true.reshape(-1)[draw(ints(0, y_true.size - 1))] = draw(one_of((K, -1, -100, K + 3)))
    if ignore_class is not None and y_true.size:
        # A third of the entries ignored, or (one draw in five) every entry: the all-masked mean.
        if _one_in(draw, 2 if edges else 5):
            hit = np.ones(lshape, dtype=bool)
        else:
            hit = draw(_mask_arrays(lshape))
        y_true = np.where(hit, ignore_class, y_true).astype(np.int64)
    if column:
        y_true = np.expand_dims(y_true, ax)  # the label column: a size-1 class axis
    return y_true


def _saturated(loss: str, y_true: np.ndarray, layout: Layout, shape: tuple[int, ...]) -> np.ndarray:
    """Predictions equal to the hard labels: every loss is decided by the clip bounds alone."""
    if loss != "sparse_categorical_crossentropy":
        return np.asarray(y_true, dtype=np.float64).copy()
    ax, K = layout.class_axis, layout.classes
    labels = y_true.reshape(layout.loss_shape(shape[0]))
    one_hot = np.eye(K)[np.clip(labels, 0, K - 1)] * ((labels >= 0) & (labels < K))[..., None]
    return np.moveaxis(one_hot, -1, ax).astype(np.float64)


@st.composite
def inputs(draw: Any, loss: str, dtype: str, from_logits: bool, layout: Layout, batch: int, *,
           out_of_range: bool = True, ignore_class: int | None = None, weights: str | None = None,
           finite_rows: bool = False, adversarial: bool = True, nonfinite: bool = False,
           label_column: bool = False, epsilon: float = 1e-7, edges: bool = False) -> Inputs:
    """One call's arrays for ``loss`` in ``dtype`` (exact values), labels consistent with ``layout``.

    ``weights``: None, ``scalar``, ``sample`` ``(B,)``, ``column`` ``(B, 1)`` or
    ``element`` (the loss shape). ``finite_rows`` keeps probability rows away
    from an all-zero sum (no NaN results; for the metamorphic laws).
    ``adversarial`` sprinkles :func:`special_values` (NaN and infinities too
    with ``nonfinite``); ``label_column`` gives sparse labels a size-1 class axis;
    ``edges`` makes the rare corners (out-of-range labels, every entry ignored,
    a non-finite prediction, predictions equal to the labels) happen half of the time.
    """
    shape = layout.pred_shape(batch)
    ax = layout.class_axis
    kind = "logits" if from_logits else "probabilities"
    # NaN / inf probabilities of the sparse loss: Keras 3's backends disagree (jax and numpy take the
    # one-hot product, NaN; torch's nll_loss picks the label's entry) and no profile names the choice.
    nonfinite = nonfinite and not (loss == LOSSES[0] and not from_logits)
    pool = special_values(kind, dtype, nonfinite=nonfinite, epsilon=epsilon) if adversarial else ()
    if from_logits:
        scale = draw(one_of(LOGIT_SCALES))
        pred = sprinkle(draw, _array(draw, dtype, shape, -scale, scale), pool)
    else:
        pred = _probabilities(draw, dtype, shape, ax, finite_rows, pool)
    if adversarial:
        pred = ties(draw, pred, ax)
    if nonfinite and pred.size and _one_in(draw, 2 if edges else 6):
        # One entry -inf (harmless to a gathered log-softmax, NaN in a one-hot product), inf or NaN.
        pred = pred.copy()
        pred.reshape(-1)[draw(ints(0, pred.size - 1))] = draw(one_of(
            (-np.inf, -np.inf, np.inf, np.nan)))
    mode = draw(one_of(("random", "random", "argmax", "soft") if loss != LOSSES[0] else
                                ("random", "random", "argmax")))
    lshape = layout.loss_shape(batch)
    if loss == "sparse_categorical_crossentropy":
        y_true = _sparse_labels(draw, pred, layout, batch, mode, out_of_range, ignore_class, label_column, edges)
    elif loss == "categorical_crossentropy":
        if mode == "soft":
            y_true = _array(draw, dtype, shape, 0.0, 1.0)
        else:
            idx = _argmax_labels(pred, ax) if mode == "argmax" else draw(
                _int_arrays(lshape, 0, layout.classes - 1))
            y_true = np.moveaxis(np.eye(layout.classes)[idx], -1, ax) if idx.size else np.zeros(shape)
    else:
        if mode == "soft":
            y_true = _array(draw, dtype, shape, 0.0, 1.0)
        elif mode == "argmax":
            y_true = (np.nan_to_num(pred) > (0.0 if from_logits else 0.5)).astype(np.float64)
        else:
            y_true = draw(_hard_arrays(shape))
    if adversarial and not from_logits and mode != "soft" and pred.size and _one_in(draw, 2 if edges else 6):
        pred = _saturated(loss, y_true, layout, shape)
    sw = None
    if weights is not None:
        wshape = {"scalar": (), "sample": (batch,), "column": (batch, 1), "element": lshape}[weights]
        sw = _array(draw, "float32", wshape, 0.0, 4.0)
        if adversarial:
            sw = sprinkle(draw, sw, special_values("weights", "float32"))
    return Inputs(y_true=np.asarray(y_true), y_pred=pred, sample_weight=sw)


# --------------------------------------------------------------------------- cases

def _metric_steps(draw: Any, n: int, draw_inputs: Any, batches: tuple[int, ...]) -> tuple[Step, ...]:
    built: list[Step] = []
    for i in range(n):
        built.append(Step("update", draw_inputs(draw(one_of(tuple(batches))))))
        if i == n - 1 or draw(BOOLS):
            built.append(Step("result"))
            if i < n - 1 and draw(ints(0, 3)) == 3:
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
          smoothing_values: Sequence[float] = (0.1, 0.2, 0.5, 1.0, 0.05), ranks: Sequence[int] = (2, 2, 3),
          plain: bool = False, lean: bool = False, edges: bool = False) -> Case:
    """A valid :class:`Case` for ``profile`` (see the module docstring); keywords narrow the draw.

    ``reductions`` restricts the loss form's reductions (default: every one the
    profile accepts); ``updates`` is the (min, max) number of metric updates;
    ``weight_kinds`` the sample_weight shapes (``scalar``, ``sample``,
    ``column``, ``element``); ``require_ignore_class`` / ``require_weights`` /
    ``require_smoothing`` always set them (where the loss and profile allow); ``ranks`` the pool of
    y_pred ranks; ``plain`` see :func:`layouts`.
    """
    prof = get_profile(profile)
    loss = draw(one_of(tuple(losses)))
    form = draw(one_of(tuple(forms)))
    dtype = draw(dtypes(allowed_dtypes))
    logits = draw(BOOLS) if from_logits is None else from_logits
    layout = draw(layouts(loss, form, profile, rank3=rank3, other_axis=other_axis, ranks=ranks, plain=plain,
                          lean=lean))
    params: dict[str, Any] = {}
    if logits:
        params["from_logits"] = True
    if layout.axis != -1:
        params["axis"] = layout.axis
    if form == "loss":
        pool = [r for r in prof.reductions if reductions is None or r in reductions]
        if not pool:
            raise ValueError(f"profile {profile} accepts none of the reductions {reductions}")
        params["reduction"] = draw(one_of(tuple(pool)))
    ic = None
    sparse = loss == "sparse_categorical_crossentropy"
    allows_ic = prof.metric_ignore_class if form == "metric" else prof.ignore_class
    if sparse and ignore_class and allows_ic and (require_ignore_class or draw(BOOLS)):
        ic = draw(one_of((0, -1, layout.classes - 1, 255)))
        params["ignore_class"] = ic
    if not sparse and label_smoothing and (require_smoothing or draw(ints(0, 2)) == 2):
        params["label_smoothing"] = draw(one_of(tuple(smoothing_values)))
    wkind = None
    if weights and form != "function" and (require_weights or draw(BOOLS)):
        kinds = [k for k in ("scalar", "sample", "column", "element")
                 if (k != "element" or layout.rank == 3) and (weight_kinds is None or k in weight_kinds)]
        if kinds:
            wkind = draw(one_of(tuple(kinds)))
    column = sparse and _one_in(draw, 6)

    def draw_inputs(batch: int) -> Inputs:
        if edges and 0 in batches and _one_in(draw, 3):
            batch = 0
        return draw(inputs(loss, dtype, logits, layout, batch, out_of_range=out_of_range, ignore_class=ic,
                           weights=wkind, finite_rows=finite_rows, adversarial=adversarial,
                           nonfinite=nonfinite, label_column=column, epsilon=prof.epsilon, edges=edges))

    batches = layout.batches(min_batch)
    single = steps = None
    if form == "metric":
        steps = _metric_steps(draw, draw(ints(*updates)), draw_inputs, batches)
    else:
        single = draw_inputs(draw(one_of(tuple(batches))))
    return Case(id=case_id, loss=loss, form=form, dtype=dtype, params=params, profiles=(profile,),
                inputs=single, steps=steps, tags=("property",))
