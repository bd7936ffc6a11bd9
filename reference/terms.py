"""The exact per-element terms of the crossentropies: clip bounds, -log q, log-sum-exp rows, BCE pairs.

Each function maps exact inputs (floats of the case, rationals after clipping or
smoothing) to an :class:`~xentspec.reference.values.Elem`: a deferred ball
evaluation by the engine plus the magnitude (``scale``) the error budget needs.
Every formula is arranged so that no cancellation happens where it can be
avoided; the identities are cited where they are used. The profile-level
decisions (which formula, which shape rules) live in :mod:`.sparse` and
:mod:`.dense`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.floats import get_format, round_fraction

from .engine import Engine
from .values import Elem, Memo, combine, const, special

__all__ = ["Bounds", "clip_bounds", "neg_log", "log1p_ratio", "softmax_xent_logits", "cce_probabilities",
           "sparse_clip_then_renormalize", "LOG_CLAMP", "bce_prob_terms", "smoothed_target_sensitivity",
           "softplus_pair", "bce_sigmoid_then_clip"]

NAN, INF = math.nan, math.inf


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


def clip_bounds(dtype: str, profile: Any) -> Bounds:
    """The clip bounds the profile uses in ``dtype`` (``clip_bounds: dtype``)."""
    return Bounds(dtype, profile.epsilon)


# --------------------------------------------------------------------------- transcendental pieces

def neg_log(q: Fraction) -> Elem:
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


def log1p_ratio(num: Fraction, den: Fraction) -> Elem:
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

def softmax_xent_logits(x: np.ndarray, t: list[Fraction]) -> Elem:
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


def cce_probabilities(p: np.ndarray, t: list[Fraction], bounds: Bounds) -> Elem:
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
            e = log1p_ratio(rest, Fraction(v)) if q > 0 else neg_log(q)
            e.scale = 1 + _flog(s) + _flog(v)
        else:
            e = neg_log(bounds.eps if q <= bounds.eps else bounds.upper)
        terms.append((tk, e))
    return combine(terms) if terms else const(0)


def sparse_clip_then_renormalize(p: np.ndarray, y: int, bounds: Bounds) -> Elem:
    """log sum_k c_k - log c_y = log1p(sum_{j != y} c_j / c_y), c = clip(p) (TF's sparse path)."""
    ps = [float(v) for v in p]
    if any(math.isnan(v) for v in ps):
        return special(NAN)
    c = [bounds.clip(v) for v in ps]
    rest = sum((cj for j, cj in enumerate(c) if j != y), Fraction(0))
    e = log1p_ratio(rest, c[y])
    e.scale = 1 + _flog(rest + c[y]) + _flog(c[y])
    return e


# --------------------------------------------------------------------------- binary

# torch's F.binary_cross_entropy clamps each log at -100 (torch.nn.BCELoss docs): bce_log_clamp.
LOG_CLAMP = 100


def bce_prob_terms(t: Fraction, q: Fraction, bounds: Bounds, double_eps: bool, clamp: bool = False) -> Elem:
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
            terms.append((coef, neg_log(arg)))
    e = combine(terms)
    if e.special is None:
        e.scale = 1 + abs(float(t)) * _flog(a) + abs(float(1 - t)) * _flog(b)
    return e


def smoothed_target_sensitivity(x: float, t: Fraction, from_logits: bool, bounds: Bounds) -> float:
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


def softplus_pair(x: float, t: Fraction, form: str = "log_sigmoid", fmt: Any = None) -> Elem:
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


def bce_sigmoid_then_clip(x: float, t: Fraction, bounds: Bounds) -> Elem:
    """q = clip(sigmoid(x)); then the probability formula (Keras 3 numpy backend).

    sigmoid(x) <= eps  <=> x <= log(eps / (1 - eps)); sigmoid(x) >= upper <=> x >= log(upper / (1 - upper)).
    Unclipped, -log q = softplus(-x) and -log(1 - q) = softplus(x): the exact formula.
    """
    if x == INF:
        return bce_prob_terms(t, bounds.upper, bounds, False)
    if x == -INF:
        return bce_prob_terms(t, bounds.eps, bounds, False)
    if bounds.upper == 1:
        # The upper bound is 1 (float16): sigmoid evaluated as 1 / (1 + exp(-x)) in the dtype is
        # exactly 1 once 1 + fl(exp(-x)) rounds to 1, i.e. fl(exp(-x)) <= 2**-p (ties to even),
        # i.e. exp(-x) <= 2**-p (1 + 2**-p): then log(1 - q) = log 0.
        p = get_format(bounds.dtype).precision
        sat = p * math.log(2) - math.log1p(2.0 ** -p)
        if x >= sat + 1e-6 or (x >= sat - 1e-6 and _saturates(x, p)):
            return bce_prob_terms(t, Fraction(1), bounds, False)
    lo_thr = math.log(float(bounds.eps / (1 - bounds.eps)))
    hi_thr = math.log(float(bounds.upper / (1 - bounds.upper))) if bounds.upper < 1 else INF
    # Decide with a float margin; the thresholds are transcendental, ties are impossible, and a
    # near-tie is settled by the engine below.
    exact_e = softplus_pair(x, t)
    # The specified algorithm stores q = sigmoid(x) in the compute dtype before log(1 - q): a
    # relative error d in q moves -log(1 - q) by d * q / (1 - q) = d * e^x (and -log q by d).
    # That conditioning belongs in the scale, so the budget reflects what any float evaluation
    # of this formula can achieve (|x| is below the clip thresholds here, e^x cannot overflow).
    if lo_thr < x < hi_thr:
        amplified = float(1 - t) * math.exp(x) + float(t)
        exact_e = Elem(fn=exact_e.fn, scale=exact_e.scale + amplified)
    lo_e = bce_prob_terms(t, bounds.eps, bounds, False)
    hi_e = bce_prob_terms(t, bounds.upper, bounds, False) if bounds.upper < 1 else None
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
