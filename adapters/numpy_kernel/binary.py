"""Element-wise binary cross-entropy, averaged over the last axis, on 2-D ``(rows, width)`` arrays.

Profile choices:

* bce_probabilities = clip: q = clip(p, lo, hi); b = -(t log q + (1 - t) log1p(-q)).
* bce_probabilities = clip_double_epsilon (tf-keras): b = -(t log(q + eps) + (1 - t) log1p(eps - q)),
  eps = the dtype-rounded epsilon (the sums are exact in float64).
* bce_logits = exact: b = max(x, 0) - t x + log1p(exp(-|x|)).
* bce_logits = sigmoid_then_clip (Keras numpy backend): q = clip(sigmoid(x), lo, hi), then the
  probability formula, with log q = -softplus(-x) and log(1 - q) = -softplus(x) where unclipped.

The element formula runs in float64 per block (NumPy's float32 ``log`` is off
by up to 3.3 ULP, more than the kernel's 2 ULP budget); the clip decisions
compare exact float32 values with the dtype-rounded bounds, as Keras does.
"""

from __future__ import annotations

import math

import numpy as np

from .blocks import run_blocks

__all__ = ["binary_loss"]


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _prob_terms(t: np.ndarray, p: np.ndarray, lo: float, hi: float, double_eps: bool) -> np.ndarray:
    q = np.clip(p, lo, hi)
    if double_eps:
        return -(t * np.log(q + lo) + (1.0 - t) * np.log1p(lo - q))
    return -(t * np.log(q) + (1.0 - t) * np.log1p(-q))


def _logit_terms(t: np.ndarray, x: np.ndarray, lo: float, hi: float, mode: str,
                 double_eps: bool) -> np.ndarray:
    if mode == "exact":
        return np.maximum(x, 0.0) - t * x + np.log1p(np.exp(-np.abs(x)))
    if mode != "sigmoid_then_clip":
        raise ValueError(f"bce_logits: unknown choice {mode!r}")
    q = 1.0 / (1.0 + np.exp(-x))
    if double_eps:
        return _prob_terms(t, q, lo, hi, True)
    log_q = np.where(q <= lo, math.log(lo), np.where(q >= hi, math.log(hi), -_softplus(-x)))
    log_1mq = np.where(q <= lo, math.log1p(-lo),
                       np.where(q >= hi, math.log1p(-hi) if hi < 1.0 else -np.inf, -_softplus(x)))
    return -(t * log_q + (1.0 - t) * log_1mq)


def binary_loss(p2: np.ndarray, t2: np.ndarray, from_logits: bool, lo: float, hi: float,
                prob_mode: str, logit_mode: str, smoothing: float = 0.0) -> np.ndarray:
    """Mean over the last axis of the element-wise BCE of ``p2`` against targets ``t2`` (R, W).

    Targets are smoothed toward 0.5 (``t (1 - ls) + ls / 2``) when ``smoothing``
    is non-zero. Returns float64 values of shape (R,).
    """
    if prob_mode not in ("clip", "clip_double_epsilon"):
        raise ValueError(f"bce_probabilities: unknown choice {prob_mode!r}")
    n, width = p2.shape
    out = np.empty(n, dtype=np.float64)
    ls = float(smoothing)
    double_eps = prob_mode == "clip_double_epsilon"

    def work(r0: int, r1: int) -> None:
        pb = np.asarray(p2[r0:r1], dtype=np.float64)
        tb = np.asarray(t2[r0:r1], dtype=np.float64)
        if ls:
            tb = tb * (1.0 - ls) + 0.5 * ls
        if from_logits:
            b = _logit_terms(tb, pb, lo, hi, logit_mode, double_eps)
        else:
            b = _prob_terms(tb, pb, lo, hi, double_eps)
        out[r0:r1] = b.mean(axis=1) if width else np.nan

    run_blocks(n, max(width, 1), work)
    return out
