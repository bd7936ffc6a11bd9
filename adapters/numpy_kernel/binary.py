"""Element-wise binary cross-entropy, averaged over the last axis, on 2-D ``(rows, width)`` arrays.

Profile choices:

* bce_probabilities = clip: q = clip(p, lo, hi); b = t P + (1 - t) N with P = -log q, N = -log1p(-q).
* bce_probabilities = clip_double_epsilon (tf-keras): P = -log(q + eps), N = -log(1 - q + eps),
  eps = the dtype-rounded epsilon.
* bce_logits = exact: b = c |x| + log1p(exp(-|x|)), c = 1 - t for x >= 0 and t for x < 0
  (= max(x, 0) - t x + log1p(exp(-|x|)); both parts >= 0 for t in [0, 1]).
* bce_logits = sigmoid_then_clip (Keras numpy backend): q = clip(sigmoid(x), lo, hi), then the
  probability formula; unclipped that is the exact formula again (-log q = softplus(-x)).
  The clip decisions compare x with the float32 neighbours of log(lo / (1 - lo)) and
  log(hi / (1 - hi)), which is exact.

Precision, float32/float16/bfloat16 data (float16 widened to float32 per block):

* element-wise, float32: clip, the double-epsilon sums (kept exact as float32
  pairs by ``two_sum``); the logs (``f32math.log_parts``, ``f32math.log1p_f32``)
  and ``log1p(exp(-|x|))`` (``f32math.log1p_exp_neg``) are float32 results
  evaluated in float64 from basic operations and rounded once, so they do not
  depend on which float32 log/exp NumPy dispatches to;
* per element, float64: only the combination t P + (1 - t) N of those float32
  parts, whose products of two float32 numbers are exact in float64, and
  c |x|; then the mean over the axis in float64. Smoothed targets
  t (1 - ls) + ls / 2 are formed in float64 (ls already rounded to the
  case's dtype by the caller, as Keras converts it).

float64 data runs the same formulas with NumPy's float64 functions.
"""

from __future__ import annotations

import math

import numpy as np

from .blocks import run_blocks, scratch
from .f32math import log1p_exp_neg, log1p_f32, log_parts, two_sum

__all__ = ["binary_loss"]

_F = np.float32


def _f32_below(v: float) -> np.float32:
    """The largest float32 <= v (so ``x <= v`` iff ``x <= result`` for float32 x)."""
    f = np.float32(v)
    if float(f) > v:
        f = np.nextafter(f, np.float32(-np.inf))
    return f


def _f32_above(v: float) -> np.float32:
    """The smallest float32 >= v."""
    f = np.float32(v)
    if float(f) < v:
        f = np.nextafter(f, np.float32(np.inf))
    return f


def _infinite_logits(b: np.ndarray, x: np.ndarray, t: np.ndarray, formula: str) -> np.ndarray:
    """Per-element values at x = +-inf as each formula's IEEE arithmetic gives them.

    The stable form c |x| + log1p(exp(-|x|)) gives the limits (NaN only for 0 * inf), as the
    log_sigmoid form does. relu_log1p, max(x, 0) - x t + log1p(exp(-|x|)): +inf is inf - inf t,
    NaN unless t < 0. torch_log_sigmoid, (1 - t) x - log_sigmoid(x): -inf is -inf + inf = NaN
    for t <= 1.
    """
    t64 = np.asarray(t, dtype=np.float64)
    if formula == "relu_log1p":
        return np.where(x == np.inf, np.where(t64 < 0, np.inf, np.nan), b)
    if formula == "torch_log_sigmoid":
        return np.where((x == -np.inf) & (t64 <= 1.0), np.nan, b)
    raise ValueError(f"bce_logits_form: unknown choice {formula!r}")


def _sigmoid_is_one(x: np.ndarray, name: str) -> np.ndarray:
    """Where 1 / (1 + exp(-x)) evaluated in dtype ``name`` (float16) is exactly 1."""
    if name != "float16":
        return x == np.inf
    with np.errstate(over="ignore"):
        e = np.exp(-x.astype(np.float32)).astype(np.float16)
        return (np.float16(1.0) + e) == np.float16(1.0)


# ---- float64 data --------------------------------------------------------------------------

def _terms64(t: np.ndarray, p: np.ndarray, from_logits: bool, lo: float, hi: float, logit_mode: str,
             double_eps: bool, clamp: bool = False) -> np.ndarray:
    """Per-element BCE of float64 data (NumPy's float64 log/log1p/exp are well within budget)."""
    if from_logits:
        if logit_mode == "sigmoid_then_clip":
            q = 1.0 / (1.0 + np.exp(-p))
            sp = np.log1p(np.exp(-np.abs(p)))
            log_q = np.where(q <= lo, math.log(lo),
                             np.where(q >= hi, math.log(hi), -(np.maximum(-p, 0.0) + sp)))
            log_1mq = np.where(q <= lo, math.log1p(-lo),
                               np.where(q >= hi, math.log1p(-hi) if hi < 1.0 else -np.inf,
                                        -(np.maximum(p, 0.0) + sp)))
            return -(t * log_q + (1.0 - t) * log_1mq)
        # max(x, 0) - t x as (1 - t) x (x >= 0) or -t x (x < 0): one rounding, where the
        # difference of max(x, 0) and t x cancels (x = 16, t = 0.95: 16 ulp of the loss).
        lin = np.where(p >= 0.0, (1.0 - t) * p, -(t * p))
        return lin + np.log1p(np.exp(-np.abs(p)))
    q = np.clip(p, lo, hi)
    if double_eps:
        # (1 - q) first: exact for q >= 1/2 (Sterbenz), where log1p(eps - q) would
        # round eps - q near -1 and magnify that error by 1 / (1 - q + eps).
        return -(t * np.log(q + lo) + (1.0 - t) * np.log((1.0 - q) + lo))
    neg = -np.log1p(-q)
    if clamp:
        neg = np.minimum(neg, 100.0)  # torch's F.binary_cross_entropy clamps log at -100
    return -(t * np.log(q)) + (1.0 - t) * neg


# ---- float32 data --------------------------------------------------------------------------

def _neg_log_pair(h: np.ndarray, l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-log(h + l) as float32 parts (A, B), -log(h + l) = A + B, for |l| <= ulp(h) / 2, h > 0.

    log(h + l) = log h + log1p(l / h) and log1p(l / h) = l / h to float32 precision.
    """
    H, R = log_parts(h)
    R += l / h
    return -H, -R


def _prob_parts32(p: np.ndarray, lo: float, hi: float, double_eps: bool,
                  clamp: bool = False) -> list[tuple[int, np.ndarray]]:
    """Float32 parts of P = -log q and N = -log(1 - q): [(0, P part), ..., (1, N part), ...].

    ``clamp``: N at most 100 (torch clamps log at -100; only log(1 - 1) = -inf reaches it).
    """
    q = np.clip(p, _F(lo), _F(hi))
    if not double_eps:
        H, R = log_parts(q)
        n = -log1p_f32(-q)
        if clamp:
            n = np.minimum(n, _F(100.0))
        return [(0, -H), (0, -R), (1, n)]
    eps = _F(lo)
    # P = -log(q + eps): q + eps = ah + al exactly.
    ah, al = two_sum(q, np.broadcast_to(eps, q.shape))
    pa, pb = _neg_log_pair(ah, al)
    # N = -log(1 - q + eps). q >= 1/2: 1 - q is exact, (1 - q) + eps = bh + bl exactly, then log.
    # q < 1/2: log1p(eps - q) with eps - q = h + l exactly; log1p(h + l) = log1p(h) + l / (1 + h)
    # to float32 precision because 1 + h >= 1/2.
    one_m_q = _F(1.0) - q
    bh, bl = two_sum(one_m_q, np.broadcast_to(eps, q.shape))
    na, nb = _neg_log_pair(bh, bl)
    h, l = two_sum(np.broadcast_to(eps, q.shape), -q)
    big = q >= _F(0.5)
    small_main = -log1p_f32(h)
    small_corr = -(l / (_F(1.0) + h))
    na = np.where(big, na, small_main)
    nb = np.where(big, nb, small_corr)
    return [(0, pa), (0, pb), (1, na), (1, nb)]


def _combine(parts: list[tuple[int, np.ndarray]], t: np.ndarray) -> np.ndarray:
    """sum of t * (P parts) + (1 - t) * (N parts) per element, in float64 (exact products)."""
    t64 = np.asarray(t, dtype=np.float64)
    u64 = 1.0 - t64
    out = np.zeros(t64.shape, dtype=np.float64)
    for which, arr in parts:
        out += (t64 if which == 0 else u64) * arr
    return out


def _softplus_parts32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|x| and log1p(exp(-|x|)) in float32 (the latter evaluated in float64, rounded once)."""
    a = np.abs(x)
    return a, log1p_exp_neg(a)


def _logit_terms32(t: np.ndarray, x: np.ndarray, lo: float, hi: float, mode: str,
                   name: str = "float32") -> np.ndarray:
    """Per-element BCE from float32 logits, combined in float64 (see module docstring)."""
    a, sp = _softplus_parts32(x)
    t64 = np.asarray(t, dtype=np.float64)
    # c = 1 - t where x >= 0, else t; as arithmetic (np.where on a random mask is slow). Exact for
    # float32 targets; a smoothed float64 target may round once in the last bit of float64.
    c = t64 + (x >= 0) * (1.0 - 2.0 * t64)
    b = c * a + sp
    if mode == "exact":
        return b
    # sigmoid(x) <= lo  <=>  x <= log(lo / (1 - lo)); sigmoid(x) >= hi  <=>  x >= log(hi / (1 - hi)).
    x_lo = _f32_below(math.log(lo / (1.0 - lo)))
    low = x <= x_lo
    b = np.where(low, -(t64 * math.log(lo) + (1.0 - t64) * math.log1p(-lo)), b)
    if hi < 1.0:
        high = x >= _f32_above(math.log(hi / (1.0 - hi)))
        hi_val = -(t64 * math.log(hi) + (1.0 - t64) * math.log1p(-hi))
    else:
        # float16: hi = 1, and the backend's sigmoid 1 / (1 + exp(-x)), evaluated in float16, is
        # exactly 1 once 1 + fl(exp(-x)) rounds to 1; then -log(1 - 1) = inf (0 * inf = NaN if t = 1).
        high = _sigmoid_is_one(x, name)
        with np.errstate(invalid="ignore"):
            hi_val = (1.0 - t64) * np.inf
    return np.where(high, hi_val, b)


def binary_loss(p2: np.ndarray, t2: np.ndarray, from_logits: bool, lo: float, hi: float,
                prob_mode: str, logit_mode: str, smoothing: float = 0.0, *, infinite: str = "log_sigmoid",
                clamp: bool = False, name: str = "float32") -> np.ndarray:
    """Mean over the last axis of the element-wise BCE of ``p2`` against targets ``t2`` (R, W).

    Targets are smoothed toward 0.5 (``t (1 - ls) + ls / 2``; the caller rounds
    ls to the case's dtype) when ``smoothing`` is non-zero. float64 ``p2`` runs in float64,
    anything else in float32 (module docstring). ``infinite``: what +-inf logits give
    (profile choice bce_logits_form); ``clamp``: each -log at most 100 (bce_log_clamp);
    ``name``: the dtype computed in (sigmoid_then_clip evaluates the sigmoid in it).
    Returns float64 values of shape (R,).
    """
    if prob_mode not in ("clip", "clip_double_epsilon"):
        raise ValueError(f"bce_probabilities: unknown choice {prob_mode!r}")
    if from_logits and logit_mode not in ("exact", "sigmoid_then_clip"):
        raise ValueError(f"bce_logits: unknown choice {logit_mode!r}")
    n, width = p2.shape
    out = np.empty(n, dtype=np.float64)
    wide = p2.dtype == np.float64
    ls = float(smoothing)
    double_eps = prob_mode == "clip_double_epsilon"

    def targets(r0: int, r1: int) -> np.ndarray:
        tb = t2[r0:r1]
        if ls:
            return np.asarray(tb, dtype=np.float64) * (1.0 - ls) + 0.5 * ls
        return tb

    def work(r0: int, r1: int) -> None:
        tb = targets(r0, r1)
        if wide:
            b = _terms64(np.asarray(tb, dtype=np.float64), p2[r0:r1], from_logits, lo, hi,
                         logit_mode, double_eps, clamp)
        else:
            pb = p2[r0:r1]
            if pb.dtype != np.float32:
                buf = scratch(3, pb.shape, np.float32)
                np.copyto(buf, pb, casting="unsafe")
                pb = buf
            if from_logits:
                b = _logit_terms32(tb, pb, lo, hi, logit_mode, name)
            else:
                b = _combine(_prob_parts32(pb, lo, hi, double_eps, clamp), tb)
        if from_logits and infinite != "log_sigmoid" and logit_mode == "exact":
            b = _infinite_logits(b, p2[r0:r1], tb, infinite)
        out[r0:r1] = b.mean(axis=1) if width else np.nan

    run_blocks(n, max(width, 1), work)
    return out
