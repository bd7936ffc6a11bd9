"""The per-element loss formulas, each semantic choice implemented once and picked by profile.

:func:`loss_function` is the Keras loss *function* (``keras.losses.
sparse_categorical_crossentropy`` etc.): it maps exact inputs to an array of
exact per-element values (:class:`~xentspec.reference.values.Elem`) and, for
the sparse loss with ``ignore_class``, the validity mask. The loss classes and
metrics (:mod:`.reductions`, :mod:`.metric`) build on it.

Every formula is arranged so that no cancellation happens where it can be
avoided (the identities are cited where they are used); the transcendental
parts are evaluated by the engine as balls.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from xentspec.spec.floats import get_format, round_fraction
from xentspec.spec.profiles import Profile

from .engine import Engine
from .values import ZERO, Elem, Memo, combine, const, mean, special

__all__ = ["RefError", "Bounds", "clip_bounds", "loss_function", "check_arguments", "LabelPolicy"]

NAN, INF = math.nan, math.inf


class RefError(Exception):
    """The profile raises for this call: ``category`` is one of the spec's error categories."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


# --------------------------------------------------------------------------- constants

class Bounds:
    """The clip bounds of a compute dtype: eps = fl_d(epsilon), upper = fl_d(1 - eps)."""

    def __init__(self, dtype: str, epsilon: float) -> None:
        fmt = get_format(dtype)
        self.dtype = dtype
        # Keras's epsilon is the Python float 1e-7; the backend converts it to the tensor dtype.
        self.eps = Fraction(round_fraction(Fraction(epsilon), fmt))
        self.upper = Fraction(round_fraction(1 - self.eps, fmt))

    def clip(self, p: float) -> Fraction:
        """clip(p, eps, upper) of a non-NaN float, exactly (infinities clip to the bounds)."""
        if p == INF:
            return self.upper
        if p == -INF:
            return self.eps
        q = Fraction(p)
        return self.eps if q < self.eps else self.upper if q > self.upper else q


def clip_bounds(dtype: str, profile: Profile) -> Bounds:
    """The clip bounds the profile uses in ``dtype`` (``clip_bounds: dtype``)."""
    return Bounds(dtype, profile.epsilon)


# --------------------------------------------------------------------------- transcendental pieces

def _neg_log(q: Fraction) -> Elem:
    """-log q for an exact rational q > 0, without cancellation.

    q >= 1/2: -log q = -log1p(q - 1) with q - 1 exact (small when q is near 1).
    """
    if q == 1:
        return const(0)
    lq = abs(math.log(float(q))) if q > 0 else INF

    if q > Fraction(1, 2):
        def fn(E: Engine, memo: Memo) -> Any:
            return E.neg(E.log1p(E.exact(q - 1)))
    else:
        def fn(E: Engine, memo: Memo) -> Any:
            return E.neg(E.log(E.exact(q)))
    return Elem(fn=fn, scale=1 + lq)


def _log1p_ratio(num: Fraction, den: Fraction) -> Elem:
    """log1p(num / den) >= 0 for exact num >= 0, den > 0 (= log((den + num) / den))."""
    if num == 0:
        return const(0)
    r = num / den

    def fn(E: Engine, memo: Memo) -> Any:
        return E.log1p(E.exact(r))
    return Elem(fn=fn, scale=1.0)


def _flog(x: Fraction | float) -> float:
    x = float(x)
    return abs(math.log(x)) if x > 0 else 0.0 if x == 0 else abs(math.log(-x))


# --------------------------------------------------------------------------- categorical rows

def _softmax_xent_logits(x: np.ndarray, t: list[Fraction]) -> Elem:
    """sum_k t_k (lse(x) - x_k) for one row of logits (also the sparse case, t one-hot).

    lse(x) - x_k = log1p(S) + (m - x_k), S = sum_{j != a} exp(x_j - m), a = argmax, m = x_a.
    Both parts are >= 0, so nothing cancels for t >= 0; the differences are exact.
    """
    xs = [float(v) for v in x]
    if any(math.isnan(v) for v in xs) or any(v == INF for v in xs):
        return special(NAN)
    finite = [v for v in xs if v != -INF]
    if not finite:
        return special(NAN)  # all -inf: -inf - (-inf)
    # -inf logits: t_k * (lse - x_k) = t_k * inf (0 * inf = NaN when t_k = 0).
    infs = [tk for v, tk in zip(xs, t) if v == -INF]
    a = max(range(len(xs)), key=lambda i: xs[i])
    m = xs[a]
    others = [v for i, v in enumerate(xs) if i != a and v != -INF]
    tsum = sum(t, Fraction(0))
    lin = sum((tk * (Fraction(m) - Fraction(v)) for v, tk in zip(xs, t) if v != -INF), Fraction(0))
    ssum = math.fsum(math.exp(v - m) for v in others)  # for the scale only
    lse_part = math.log1p(ssum)
    # The standard evaluation takes log of the rounded sum s = 1 + S >= 1: a relative error
    # d in s is an absolute error d in log s (d log s = ds / s), whatever the loss; hence the
    # term 1 beside |m|, |x_k| and log s (docs/tolerances.md, "The log of a rounded sum").
    scale = sum(abs(float(tk)) * (abs(m) + abs(v) + lse_part + 1) for v, tk in zip(xs, t) if v != -INF)
    if infs:
        if any(tk == 0 for tk in infs):
            return special(NAN)
        signs = {math.copysign(1.0, float(tk)) for tk in infs}
        return special(NAN if len(signs) > 1 else INF * signs.pop())

    if not others or tsum == 0:
        return const(lin, scale)

    def fn(E: Engine, memo: Memo) -> Any:
        S = E.fsum([E.exp(E.exact_diff(v, m)) for v in others])
        A = E.log1p(S)
        if tsum != 1:
            A = E.mul(E.exact(tsum), A)
        return E.add(A, E.exact(lin)) if lin else A
    return Elem(fn=fn, scale=scale)


def _cce_probabilities(p: np.ndarray, t: list[Fraction], bounds: Bounds) -> Elem:
    """-sum_k t_k log clip(p_k / s, eps, upper), s = sum p (renormalise, then clip).

    Unclipped: -log(p_k / s) = log1p((s - p_k) / p_k), an exact rational argument.
    """
    ps = [float(v) for v in p]
    if any(not math.isfinite(v) for v in ps):
        return special(NAN)  # NaN, or inf / inf in the renormalisation
    s = sum((Fraction(v) for v in ps), Fraction(0))
    if s == 0:
        return special(NAN)  # 0 / 0
    terms = []
    for v, tk in zip(ps, t):
        if tk == 0:
            continue
        q = Fraction(v) / s
        if bounds.eps < q < bounds.upper:
            rest = s - Fraction(v)
            e = _log1p_ratio(rest, Fraction(v)) if q > 0 else _neg_log(q)
            e.scale = 1 + _flog(s) + _flog(v)
        else:
            e = _neg_log(bounds.eps if q <= bounds.eps else bounds.upper)
        terms.append((tk, e))
    return combine(terms) if terms else const(0)


def _sparse_clip_then_renormalize(p: np.ndarray, y: int, bounds: Bounds) -> Elem:
    """log sum_k c_k - log c_y = log1p(sum_{j != y} c_j / c_y), c = clip(p) (TF's sparse path)."""
    ps = [float(v) for v in p]
    if any(math.isnan(v) for v in ps):
        return special(NAN)
    c = [bounds.clip(v) for v in ps]
    rest = sum((cj for j, cj in enumerate(c) if j != y), Fraction(0))
    e = _log1p_ratio(rest, c[y])
    e.scale = 1 + _flog(rest + c[y]) + _flog(c[y])
    return e


# --------------------------------------------------------------------------- binary

# torch's F.binary_cross_entropy clamps each log at -100 (torch.nn.BCELoss docs): bce_log_clamp.
LOG_CLAMP = 100


def _bce_prob_terms(t: Fraction, q: Fraction, bounds: Bounds, double_eps: bool, clamp: bool = False) -> Elem:
    """-(t log a + (1 - t) log b) with a = q, b = 1 - q (+ eps each for double epsilon).

    ``clamp``: each -log is at most 100 (bce_log_clamp: minus_100), so log 0 costs 100.
    """
    a = q + bounds.eps if double_eps else q
    b = 1 - q + (bounds.eps if double_eps else 0)
    terms = []
    for coef, arg in ((t, a), (1 - t, b)):
        if clamp and (arg == 0 or float(arg) < math.exp(-LOG_CLAMP)):
            terms.append((coef, const(LOG_CLAMP)))
        elif arg == 0:
            terms.append((coef, special(INF)))  # -log 0 = inf (0 * inf = NaN when coef = 0)
        elif coef != 0:
            terms.append((coef, _neg_log(arg)))
    e = combine(terms)
    if e.special is None:
        e.scale = 1 + abs(float(t)) * _flog(a) + abs(float(1 - t)) * _flog(b)
    return e


def _smoothed_target_sensitivity(x: float, t: Fraction, from_logits: bool, bounds: Bounds) -> float:
    """|t| |d loss / d t|: what rounding the smoothed target t (1 - ls) + ls / 2 in the dtype costs.

    Keras smooths in the compute dtype, so t carries a relative error of about u, and 1 - t takes
    it as an absolute one; d loss / d t = log b - log a (= -x from logits), which can be far larger
    than the loss (x = 16, t = 0.95: 16 against 0.81; spec case
    bce/edge/float64-logits-smoothing-cancellation).
    """
    if from_logits:
        return abs(float(t)) * abs(x)
    q = bounds.clip(x)
    return abs(float(t)) * abs(_flog(q) - _flog(1 - q)) if 0 < q < 1 else 0.0


def _infinite_logit(x: float, t: Fraction, form: str) -> Elem:
    """BCE from logits at x = +-inf, as each form's IEEE arithmetic gives it (bce_logits_form).

    log_sigmoid: -t log sigmoid(x) - (1 - t) log sigmoid(-x), NaN only for 0 * inf (the limits);
    relu_log1p: max(x, 0) - x t + log1p(exp(-|x|)), where +inf gives inf - inf t;
    torch_log_sigmoid: (1 - t) x - log sigmoid(x), where -inf gives -inf + inf.
    """
    def sign(v: Fraction) -> Elem:
        return special(NAN) if v == 0 else special(INF if v > 0 else -INF)
    if form == "relu_log1p" and x == INF:
        return special(INF) if t < 0 else special(NAN)  # inf - inf t
    if form == "torch_log_sigmoid" and x == -INF:
        return special(NAN) if t <= 1 else special(INF)
    return sign(1 - t) if x == INF else sign(t)


def _logits_scale(x: float, t: Fraction, form: str, fmt: Any) -> float:
    """The magnitudes the form's float evaluation rounds, for the budget (sp = log1p(e^-|x|)).

    log_sigmoid: t |log sigmoid(x)| + (1 - t) |log sigmoid(-x)|, two non-negative terms;
    relu_log1p: max(x, 0) + |x t| + sp, where max(x, 0) - x t cancels unless x t is exact
    in the dtype (t = 0 or 1, or a short significand), when it costs |lin| only;
    torch_log_sigmoid: |(1 - t) x| + |log sigmoid(x)|, which cancel for t = 0, x < 0 (a
    small loss is computed as x - (x - sp), so about u |x| absolute).
    """
    sp = math.log1p(math.exp(-abs(x)))
    ls_pos, ls_neg = min(x, 0.0) - sp, min(-x, 0.0) - sp  # log sigmoid(x), log sigmoid(-x)
    tf = float(t)
    if form == "log_sigmoid":
        return abs(tf) * abs(ls_pos) + abs(1 - tf) * abs(ls_neg)
    if form == "torch_log_sigmoid":
        return abs((1 - tf) * x) + abs(ls_pos)
    xt = Fraction(x) * t
    exact = round_fraction(xt, fmt) == xt
    lin = abs(float(max(Fraction(x), Fraction(0)) - xt))
    return (lin if exact else max(x, 0.0) + abs(float(xt))) + sp


def _softplus_pair(x: float, t: Fraction, form: str = "log_sigmoid", fmt: Any = None) -> Elem:
    """max(x, 0) - t x + log1p(exp(-|x|)) arranged as c * |x| + log1p(exp(-|x|)).

    x >= 0: (1 - t) x + log1p(e^-x); x < 0: t |x| + log1p(e^-|x|). Both terms >= 0 for t in [0, 1].
    Infinite x, and the scale, follow the profile's ``bce_logits_form`` (``fmt``: the compute format).
    """
    if math.isinf(x):
        return _infinite_logit(x, t, form)
    ax = Fraction(abs(x))
    lin = (1 - t) * ax if x >= 0 else t * ax
    scale = _logits_scale(x, t, form, fmt or get_format("float64"))
    nax = -abs(x)

    def fn(E: Engine, memo: Memo) -> Any:
        sp = E.log1p(E.exp(E.exact(nax)))
        return E.add(E.exact(lin), sp) if lin else sp
    return Elem(fn=fn, scale=scale)


def _bce_sigmoid_then_clip(x: float, t: Fraction, bounds: Bounds) -> Elem:
    """q = clip(sigmoid(x)); then the probability formula (Keras 3 numpy backend).

    sigmoid(x) <= eps  <=> x <= log(eps / (1 - eps)); sigmoid(x) >= upper <=> x >= log(upper / (1 - upper)).
    Unclipped, -log q = softplus(-x) and -log(1 - q) = softplus(x): the exact formula.
    """
    if x == INF:
        return _bce_prob_terms(t, bounds.upper, bounds, False)
    if x == -INF:
        return _bce_prob_terms(t, bounds.eps, bounds, False)
    if bounds.upper == 1:
        # The upper bound is 1 (float16): sigmoid evaluated as 1 / (1 + exp(-x)) in the dtype is
        # exactly 1 once 1 + fl(exp(-x)) rounds to 1, i.e. fl(exp(-x)) <= 2**-p (ties to even),
        # i.e. exp(-x) <= 2**-p (1 + 2**-p): then log(1 - q) = log 0.
        p = get_format(bounds.dtype).precision
        sat = p * math.log(2) - math.log1p(2.0 ** -p)
        if x >= sat + 1e-6 or (x >= sat - 1e-6 and _saturates(x, p)):
            return _bce_prob_terms(t, Fraction(1), bounds, False)
    lo_thr = math.log(float(bounds.eps / (1 - bounds.eps)))
    hi_thr = math.log(float(bounds.upper / (1 - bounds.upper))) if bounds.upper < 1 else INF
    # Decide with a float margin; the thresholds are transcendental, ties are impossible, and a
    # near-tie is settled by the engine below.
    exact_e = _softplus_pair(x, t)
    # The specified algorithm stores q = sigmoid(x) in the compute dtype before log(1 - q): a
    # relative error d in q moves -log(1 - q) by d * q / (1 - q) = d * e^x (and -log q by d).
    # That conditioning belongs in the scale, so the budget reflects what any float evaluation
    # of this formula can achieve (|x| is below the clip thresholds here, e^x cannot overflow).
    if lo_thr < x < hi_thr:
        amplified = float(1 - t) * math.exp(x) + float(t)
        exact_e = Elem(fn=exact_e.fn, scale=exact_e.scale + amplified)
    lo_e = _bce_prob_terms(t, bounds.eps, bounds, False)
    hi_e = _bce_prob_terms(t, bounds.upper, bounds, False) if bounds.upper < 1 else None
    if x < lo_thr - 1e-6:
        return lo_e
    if hi_e is not None and x > hi_thr + 1e-6:
        return hi_e
    if lo_thr + 1e-6 < x < hi_thr - 1e-6:
        return exact_e
    # Near a threshold: compare exactly with the engine.
    near_hi = hi_e is not None and abs(x - hi_thr) < abs(x - lo_thr)
    bound = bounds.upper if near_hi else bounds.eps

    def fn(E: Engine, memo: Memo) -> Any:
        thr = E.sub(E.log(E.exact(bound)), E.log(E.exact(1 - bound)))
        side = E.sign(E.sub(E.exact(x), thr))
        if side is None:
            raise ArithmeticError("undecided clip threshold")
        clipped = (side > 0) if near_hi else (side < 0)
        chosen = (hi_e if near_hi else lo_e) if clipped else exact_e
        return chosen.ball(E, memo) if chosen.special is None else _raise_special()
    return Elem(fn=fn, scale=exact_e.scale)


def _saturates(x: float, p: int) -> bool:
    """Whether exp(-x) <= 2**-p (1 + 2**-p), decided exactly near the threshold (mpmath, 60 digits)."""
    import mpmath

    with mpmath.workdps(60):
        return bool(mpmath.exp(-mpmath.mpf(x)) <= mpmath.mpf(2) ** -p * (1 + mpmath.mpf(2) ** -p))


def _raise_special() -> Any:
    raise ArithmeticError("special value at a clip threshold")


# --------------------------------------------------------------------------- label handling

class LabelPolicy:
    """How sparse labels become class indices under a profile (cast, NaN, out of range)."""

    def __init__(self, profile: Profile) -> None:
        self.policy = profile.out_of_range_label
        self.nan_is_zero = profile.nan_label == "class_zero"

    def index(self, y: float | int, K: int) -> int | None:
        """The class index of label y, None for "loss is 0"; raises RefError(invalid_label)."""
        if isinstance(y, float):
            if math.isnan(y):
                # Truncating NaN to an integer is undefined: XLA gives 0 (nan_label: class_zero);
                # otherwise it is an out-of-range label (CPU casts give INT_MIN < 0).
                if self.nan_is_zero:
                    return 0 if K > 0 else self._out(0, K)
                return self._out(-1, K, nan=True)
            if math.isinf(y):
                return self._out(-1 if y < 0 else K, K)
            c = int(y)  # truncation toward zero
        else:
            c = int(y)
        if 0 <= c < K:
            return c
        return self._out(c, K)

    def _out(self, c: int, K: int, nan: bool = False) -> int | None:
        p = self.policy
        if p == "zero" or (p == "zero_if_negative" and c < 0) or (p == "zero_if_minus_100" and c == -100 and not nan):
            return None
        raise RefError("invalid_label", f"label {'nan' if nan else c} is outside [0, {K})")


# --------------------------------------------------------------------------- arguments

def check_arguments(case: Any, profile: Profile, form: str) -> None:
    """Raise RefError(invalid_argument) for parameters the profile does not accept."""
    params: Mapping[str, Any] = case.params
    if case.sparse and "label_smoothing" in params:
        raise RefError("invalid_argument", "sparse categorical crossentropy takes no label_smoothing")
    if case.sparse and params.get("ignore_class") is not None:
        allowed = profile.metric_ignore_class if form == "metric" else profile.ignore_class
        if not allowed:
            raise RefError("invalid_argument", f"profile {profile.name} has no ignore_class here")
    if case.sparse and form == "loss" and "axis" in params and not profile.scce_class_axis:
        raise RefError("invalid_argument", f"profile {profile.name}: the SparseCategoricalCrossentropy "
                                           "loss class takes no axis")
    if form == "loss" and params.get("dtype") is not None and not profile.loss_dtype_argument:
        # loss_dtype_argument: false (Keras 3.0-3.3): the constructor has no `dtype` (a TypeError).
        raise RefError("invalid_argument", f"profile {profile.name}: the loss classes take no dtype")
    if case.loss == "binary_crossentropy" and form == "metric" and "axis" in params:
        pass  # the BCE metric has no axis argument in Keras 3; the spec decides via expect
    ls = params.get("label_smoothing")
    if ls is not None and not case.sparse and not (0 <= float(ls) <= 1):
        raise RefError("invalid_argument", f"label_smoothing {ls} outside [0, 1]")


def _norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise RefError("invalid_argument", f"axis {axis} is out of range for rank {rank}")
    return axis % rank


# --------------------------------------------------------------------------- the loss functions

def loss_function(case: Any, inputs: Any, profile: Profile, dtype: str, *, cast_labels: bool,
                  label_dtype: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-element exact losses of the Keras loss function, and the ignore mask (or None).

    ``dtype`` is the compute dtype (clip bounds, smoothing); ``cast_labels``
    says whether sparse labels are first rounded to ``label_dtype`` (default
    ``dtype``); the caller decides by profile: ``label_cast`` for the Loss class,
    ``metric_inputs`` for metrics.
    """
    bounds = clip_bounds(dtype, profile)
    params = case.params
    y_true, y_pred = inputs.y_true, inputs.y_pred
    from_logits = bool(params.get("from_logits", False))
    axis = params.get("axis", -1)
    if case.sparse:
        return _sparse(y_true, y_pred, axis, from_logits, params.get("ignore_class"), profile, bounds,
                       cast_labels, label_dtype or dtype)
    if case.loss == "categorical_crossentropy":
        return _categorical(y_true, y_pred, axis, from_logits, params.get("label_smoothing"), profile,
                            bounds), None
    return _binary(y_true, y_pred, axis, from_logits, params.get("label_smoothing"), profile, bounds), None


def _smoothing(ls: Any, dtype: str) -> Fraction:
    """The label smoothing factor as the compute-dtype value Keras multiplies with."""
    if not ls:
        return Fraction(0)
    return Fraction(round_fraction(Fraction(float(ls)), get_format(dtype)))


def _sparse(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ignore_class: Any,
            profile: Profile, bounds: Bounds, cast_labels: bool,
            label_dtype: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "y_pred must have a class axis")
    ax = _norm_axis(axis, y_pred.ndim)
    if profile.scce_axis == "last_only" and ax != y_pred.ndim - 1:
        raise RefError("invalid_argument", "only axis=-1 is supported by this backend")
    flatten = profile.scce_label_shape == "flatten" and y_true.ndim != y_pred.ndim - 1
    column = profile.scce_label_column
    if ignore_class is not None and not flatten and column != "class_axis":
        # Before Keras 3.15 the loss function masks as if the class axis were last.
        label_col = y_true.ndim == y_pred.ndim
        if column == "last" and label_col and y_true.shape[-1] == 1:
            y_true, label_col = np.squeeze(y_true, axis=-1), False
        if (column == "last_after_mask" and label_col) or ax != y_pred.ndim - 1:
            return _mask_at_last_axis(y_true, y_pred, axis, from_logits, ignore_class, profile, bounds,
                                      cast_labels, label_dtype)
    if y_true.ndim == y_pred.ndim and not flatten:
        # scce_label_column: the size-1 label axis squeezed is the class axis, or the last one.
        sq = ax if column == "class_axis" else y_pred.ndim - 1
        if y_true.shape[sq] == 1:
            y_true = np.squeeze(y_true, axis=sq)
    if profile.scce_axis == "labels_checked_as_last":
        # The backend squeezes a trailing size-1 label axis and compares the labels with
        # y_pred.shape[:-1] whatever the axis; past that check the axis is honoured.
        checked = y_true.shape[:-1] if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 else y_true.shape
        if checked != y_pred.shape[:-1]:
            raise RefError("invalid_shape", f"labels {list(y_true.shape)} vs predictions "
                                            f"{list(y_pred.shape)}[:-1] (checked as if axis were -1)")
    if (ignore_class is None and not flatten and y_true.shape == y_pred.shape[:ax] + y_pred.shape[ax + 1:]
            and _literal_one_hot(profile, from_logits, y_true.shape, axis)):
        return _one_hot_product(y_true, y_pred, axis, from_logits, profile, bounds, cast_labels, label_dtype), None
    pred = np.moveaxis(y_pred, ax, -1)
    K = pred.shape[-1]
    if flatten:
        # tf-keras: labels flattened, y_pred reshaped to (-1, K) (TF infers -1 as 1 when K is 0).
        labels = y_true.reshape(-1)
        n_rows = pred.size // K if K else 1
        if labels.size != n_rows:
            raise RefError("invalid_shape", f"{labels.size} flattened labels vs {n_rows} rows of predictions "
                                            f"{list(y_pred.shape)}")
        rows = pred.reshape(n_rows, K)
        out_shape = pred.shape[:-1] if pred.ndim >= 3 else (labels.size,)
    else:
        if y_true.shape != pred.shape[:-1]:
            raise RefError("invalid_shape", f"labels {list(y_true.shape)} vs predictions {list(y_pred.shape)}")
        out_shape = pred.shape[:-1]
        rows = pred.reshape(-1, K)
        labels = y_true.reshape(-1)
    fmt = get_format(label_dtype or bounds.dtype)
    is_float = labels.dtype.kind == "f"
    policy = LabelPolicy(profile)
    out = np.empty(len(rows), dtype=object)
    mask = np.ones(len(rows), dtype=bool) if ignore_class is not None else None
    for i in range(len(rows)):
        lab = float(labels[i]) if is_float else int(labels[i])
        if cast_labels and not (is_float and math.isnan(lab)):
            lab = round_fraction(Fraction(lab), fmt) if math.isfinite(lab) else lab
        if ignore_class is not None and lab == ignore_class:
            mask[i] = False
            out[i] = ZERO  # where(valid, res, 0): exactly 0 whatever the row holds
            continue
        c = policy.index(lab, K)
        one_hot = from_logits and profile.scce_logits_label == "one_hot_product"
        if c is None:
            row = rows[i]
            # An all-zero one-hot row times log_softmax: 0, or NaN where log_softmax is +-inf or NaN.
            bad = np.isnan(row).any() or (one_hot and np.isinf(row).any())
            if not from_logits and profile.scce_probabilities == "renormalize_then_clip":
                # the row is divided by its sum first: an all-zero row is 0 / 0 and an infinite
                # entry inf / inf, so log p holds NaN and the zero one-hot row gives 0 * NaN
                bad = bad or not np.any(row != 0) or np.isinf(row).any()
            out[i] = special(NAN) if bad else ZERO
            continue
        if one_hot:
            out[i] = _softmax_xent_logits(rows[i], [Fraction(int(k == c)) for k in range(K)])
        elif from_logits:
            out[i] = _sparse_logits(rows[i], c)
        elif profile.scce_probabilities == "renormalize_then_clip":
            t = [Fraction(int(k == c)) for k in range(K)]
            out[i] = _cce_probabilities(rows[i], t, bounds)
        else:
            out[i] = _sparse_clip_then_renormalize(rows[i], c, bounds)
    return out.reshape(out_shape), (mask.reshape(out_shape) if mask is not None else None)


def _literal_one_hot(profile: Profile, from_logits: bool, label_shape: tuple, axis: int) -> bool:
    """Whether the profile's backend one-hot product broadcasts otherwise than the exact loss."""
    from .onehot import one_hot_differs

    return one_hot_differs(profile.one_hot_shape, tuple(label_shape), axis)


def _one_hot_product(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, profile: Profile,
                     bounds: Bounds, cast_labels: bool, label_dtype: str | None) -> np.ndarray:
    """one_hot_shape: the literal -sum(one_hot * log_prob) of the numpy / torch backends (.onehot)."""
    from .onehot import literal_product

    policy = LabelPolicy(profile)
    fmt = get_format(label_dtype or bounds.dtype)
    is_float = y_true.dtype.kind == "f"

    def index(lab: Any, K: int) -> int | None:
        lab = float(lab) if is_float else int(lab)
        if cast_labels and is_float and math.isfinite(lab):
            lab = round_fraction(Fraction(lab), fmt)
        return policy.index(lab, K)

    def element(row: np.ndarray, t: list[Fraction]) -> Elem:
        return _softmax_xent_logits(row, t) if from_logits else _cce_probabilities(row, t, bounds)

    K = y_pred.shape[axis]
    return literal_product(y_true, y_pred, axis, K, profile.one_hot_shape, index, element, RefError)


def _mask_at_last_axis(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ignore_class: Any,
                       profile: Profile, bounds: Bounds, cast_labels: bool,
                       label_dtype: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """scce_label_column last / last_after_mask (Keras 3.0-3.14): ignore_class masks at axis -1.

    The loss function multiplies y_pred by the labels' validity mask with an axis appended
    at -1, whatever ``axis`` is, and reshapes the mask to y_pred.shape[:-1] for
    ``where(valid, res, 0)``. With the class axis elsewhere, or (last_after_mask, 3.0-3.3)
    with unsqueezed labels of y_pred's rank, the product broadcasts y_pred to another shape
    or fails (invalid_shape); the backend then checks the labels against that shape, and the
    reshape and the final ``where`` broadcast as arrays do.
    """
    valid = np.vectorize(lambda v: not (float(v) == ignore_class), otypes=[bool])(y_true) if y_true.size \
        else np.ones(y_true.shape, dtype=bool)
    try:
        bshape = np.broadcast_shapes(y_pred.shape, y_true.shape + (1,))
    except ValueError:
        raise RefError("invalid_shape", f"y_pred {list(y_pred.shape)} times the label mask "
                                        f"{list(y_true.shape) + [1]} does not broadcast") from None
    res_shape = y_pred.shape[:-1]
    if math.prod(res_shape) != valid.size:
        raise RefError("invalid_shape", f"the mask of {valid.size} labels cannot take the shape {list(res_shape)}")
    labels = np.where(valid, y_true, 0)
    keep = np.broadcast_to(valid[..., None], bshape)
    pred = np.where(keep, np.broadcast_to(y_pred, bshape), np.zeros((), dtype=y_pred.dtype)).astype(y_pred.dtype)
    res, _ = _sparse(labels, pred, axis, from_logits, None, profile, bounds, cast_labels, label_dtype)
    mask = valid.reshape(res_shape)
    m, r = np.broadcast_arrays(mask, res)
    out = np.empty(m.shape, dtype=object)
    for idx in np.ndindex(m.shape):
        out[idx] = r[idx] if m[idx] else ZERO
    return out, mask


def _sparse_logits(row: np.ndarray, c: int) -> Elem:
    """Sparse softmax cross-entropy from logits: the label picks one entry of log_softmax.

    Unlike the dense product, a -inf logit on another class is harmless (exp(-inf) = 0).
    """
    xs = [float(v) for v in row]
    if any(math.isnan(v) for v in xs) or any(v == INF for v in xs):
        return special(NAN)
    if xs[c] == -INF:
        return special(NAN) if all(v == -INF for v in xs) else special(INF)
    keep = [v if v != -INF else None for v in xs]
    sub = np.array([v for v in keep if v is not None])
    idx = [j for j, v in enumerate(keep) if v is not None].index(c)
    t = [Fraction(int(k == idx)) for k in range(len(sub))]
    return _softmax_xent_logits(sub, t)


def _categorical(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ls: Any,
                 profile: Profile, bounds: Bounds) -> np.ndarray:
    if y_true.shape != y_pred.shape:
        raise RefError("invalid_shape", f"y_true {list(y_true.shape)} vs y_pred {list(y_pred.shape)}")
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "y_pred must have a class axis")
    ax = _norm_axis(axis, y_pred.ndim)
    smooth = _smoothing(ls, bounds.dtype)
    if smooth:
        which = profile.cce_smoothing_classes
        K_s = y_true.shape[-1] if which == "y_true_last" else y_true.shape[ax]
    pred = np.moveaxis(y_pred, ax, -1)
    true = np.moveaxis(y_true, ax, -1)
    K = pred.shape[-1]
    out_shape = pred.shape[:-1]
    rows, trows = pred.reshape(-1, K), true.reshape(-1, K)
    out = np.empty(len(rows), dtype=object)
    for i in range(len(rows)):
        tv = [float(v) for v in trows[i]]
        if any(math.isnan(v) or math.isinf(v) for v in tv):
            out[i] = special(NAN)
            continue
        t = [Fraction(v) for v in tv]
        if smooth:
            t = [tk * (1 - smooth) + smooth / K_s for tk in t]
        if from_logits:
            out[i] = _softmax_xent_logits(rows[i], t)
        else:
            out[i] = _cce_probabilities(rows[i], t, bounds)
    return out.reshape(out_shape)


def _check_bce_ranges(rows: np.ndarray, trows: np.ndarray, smooth: Fraction) -> None:
    """bce_range_check: invalid_value for a NaN probability (clipping keeps NaN) or a target
    outside [0, 1] (after smoothing) or NaN, as torch's F.binary_cross_entropy raises."""
    if np.isnan(rows).any():
        raise RefError("invalid_value", "all elements of input should be between 0 and 1 (a probability is NaN)")
    for tv in trows.reshape(-1).tolist():
        t = Fraction(tv) * (1 - smooth) + smooth / 2 if math.isfinite(tv) else tv
        if not (isinstance(t, Fraction) and 0 <= t <= 1):
            raise RefError("invalid_value", f"all elements of target should be between 0 and 1 (got {tv})")


def _binary(y_true: np.ndarray, y_pred: np.ndarray, axis: int, from_logits: bool, ls: Any,
            profile: Profile, bounds: Bounds) -> np.ndarray:
    if y_true.shape != y_pred.shape:
        if profile.bce_shapes != "broadcast":
            raise RefError("invalid_shape", f"y_true {list(y_true.shape)} vs y_pred {list(y_pred.shape)}")
        try:  # element-wise TF arithmetic (tf-keras): the shapes broadcast
            y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
        except ValueError:
            raise RefError("invalid_shape", f"y_true {list(y_true.shape)} and y_pred {list(y_pred.shape)} "
                                            "do not broadcast") from None
    if y_pred.ndim == 0:
        raise RefError("invalid_shape", "binary crossentropy averages over an axis; got a scalar")
    ax = _norm_axis(axis, y_pred.ndim)
    smooth = _smoothing(ls, bounds.dtype)
    pred = np.moveaxis(y_pred, ax, -1)
    true = np.moveaxis(y_true, ax, -1)
    n = pred.shape[-1]
    out_shape = pred.shape[:-1]
    rows, trows = pred.reshape(-1, n), true.reshape(-1, n)
    double = profile.bce_probabilities == "clip_double_epsilon"
    clamp = profile.bce_log_clamp == "minus_100"
    if profile.bce_range_check == "invalid_value" and not from_logits:
        _check_bce_ranges(rows, trows, smooth)
    out = np.empty(len(rows), dtype=object)
    seen: dict[tuple[float, float], Elem] = {}  # equal (t, p) pairs share one exact element
    for i in range(len(rows)):
        elems = []
        for x, tv in zip(rows[i].tolist(), trows[i].tolist()):
            hit = seen.get((x, tv))
            if hit is not None:
                elems.append(hit)
                continue
            if math.isnan(x) or math.isnan(tv) or math.isinf(tv):
                elems.append(special(NAN))
                continue
            t = Fraction(tv)
            if smooth:
                t = t * (1 - smooth) + smooth / 2
            if from_logits:
                if profile.bce_logits == "exact":
                    elems.append(_softplus_pair(x, t, profile.bce_logits_form, get_format(bounds.dtype)))
                else:
                    elems.append(_bce_sigmoid_then_clip(x, t, bounds))
            else:
                elems.append(_bce_prob_terms(t, bounds.clip(x), bounds, double, clamp))
            if smooth and elems[-1].special is None:
                elems[-1].scale += _smoothed_target_sensitivity(x, t, from_logits, bounds)
            if not (math.isnan(x) or math.isnan(tv)):
                seen[(x, tv)] = elems[-1]
        if not elems:
            out[i] = special(NAN)  # mean over an empty axis: 0 / 0
        elif len(elems) == 1:
            out[i] = elems[0]
        else:
            out[i] = mean(elems)
            if out[i].special is None:
                out[i].scale = math.fsum(e.scale for e in elems) / len(elems)
    return out.reshape(out_shape)
