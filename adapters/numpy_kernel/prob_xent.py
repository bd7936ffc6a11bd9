"""Cross-entropy from probabilities (sparse and dense targets) on 2-D ``(rows, classes)`` arrays.

Keras clips probabilities to ``[lo, hi]`` (epsilon and 1 - epsilon rounded to
the compute dtype). Two orders exist (profile choice ``scce_probabilities``):

* renormalize_then_clip: q = clip(p_y / s, lo, hi), s = sum_k p_k; loss = -log q.
  Computed as ``log1p((s - p_y) / p_y)`` when q is not clipped, so p_y near s
  keeps relative accuracy. Touches each row's sum and the label's entry only.
* clip_then_renormalize (TF): loss = log sum_k clip(p_k) - log clip(p_y)
  = ``log1p((C - c_y) / c_y)`` with C = sum_k clip(p_k), c_y = clip(p_y).

Row sums are accumulated in float64 (NumPy casts the float32 data in small
buffers, never the whole input); the few per-row values are combined in
float64. Dense targets (categorical) need ``-log q_k`` for every entry with a
non-zero target. For float32 data (float16 widened per block):

* per row, float64: s = sum_k p_k (accumulated in float64), log s, and for the
  row's largest entry p_m (the only one that can have q > 1/2, where
  -log q is small and cancellation-prone) -log clip(p_m / s) as
  ``log1p((s - p_m) / p_m)``;
* element-wise, float32: log p_k as two float32 parts (``f32math.log_parts``),
  and the clip decision p_k <= lo * s (against the float32 floor of the
  per-row threshold: exact);
* accumulation, float64: sum_k t_k (log s - log p_k) over the other unclipped
  entries (q <= 1/2, so the loss term is >= ln 2 and the float32 log's
  absolute error ~2**-25 is small relative to it), plus the clipped terms'
  constant -log lo, plus t_m times the largest entry's term.

float64 data uses ``log1p((s - p_k) / p_k)`` for every entry in float64.
"""

from __future__ import annotations

import math

import numpy as np

from .blocks import run_blocks, scratch
from .f32math import log_parts

__all__ = ["sparse_prob_loss", "dense_prob_loss"]


def _clipped_neglog(q: np.ndarray, rest_over_p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """-log(clip(q, lo, hi)) with the unclipped branch as log1p(rest/p) (accurate for q near 1)."""
    out = np.log1p(rest_over_p)
    out = np.where(q <= lo, -math.log(lo), out)
    out = np.where(q >= hi, -math.log(hi), out)
    return np.where(np.isnan(q), np.nan, out)


def sparse_prob_loss(p2: np.ndarray, labels: np.ndarray, lo: float, hi: float, mode: str) -> np.ndarray:
    """Per-row sparse cross-entropy of probabilities ``p2`` (R, K) for labels in [0, K).

    ``mode`` is ``renormalize_then_clip`` or ``clip_then_renormalize``. Returns float64.
    """
    n, kdim = p2.shape
    labels = np.asarray(labels, dtype=np.intp)
    out = np.empty(n, dtype=np.float64)
    if mode not in ("renormalize_then_clip", "clip_then_renormalize"):
        raise ValueError(f"scce_probabilities: unknown choice {mode!r}")
    lo_c = np.asarray(lo, dtype=p2.dtype if p2.dtype != np.float16 else np.float32)
    hi_c = np.asarray(hi, dtype=lo_c.dtype)

    def work(r0: int, r1: int) -> None:
        pb = p2[r0:r1]
        py = pb[np.arange(r1 - r0), labels[r0:r1]].astype(np.float64)
        if mode == "renormalize_then_clip":
            s = pb.sum(axis=1, dtype=np.float64)
            q = py / s
            out[r0:r1] = _clipped_neglog(q, (s - py) / py, lo, hi)
        else:
            c = scratch(2, pb.shape, lo_c.dtype)
            np.clip(pb, lo_c, hi_c, out=c)
            total = c.sum(axis=1, dtype=np.float64)
            cy = np.clip(py, lo, hi)
            out[r0:r1] = np.log1p((total - cy) / cy)

    run_blocks(n, kdim, work)
    return out


def _f32_floor(v: np.ndarray) -> np.ndarray:
    """The largest float32 <= v for each float64 v (so ``x <= v`` iff ``x <= result`` for float32 x)."""
    f = v.astype(np.float32)
    down = f.astype(np.float64) > v
    return np.where(down, np.nextafter(f, np.float32(-np.inf)), f)


def _dense_rows64(pb: np.ndarray, tb: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """float64 data: -sum_k t_k log clip(p_k / s) with every term as log1p((s - p_k) / p_k)."""
    s = pb.sum(axis=1, keepdims=True)
    q = pb / s
    nl = _clipped_neglog(q, (s - pb) / pb, lo, hi)
    # 0 * (-log q) is 0 even where q is clipped; NaN rows stay NaN through s.
    return np.einsum("ij,ij->i", tb, nl)


def _dense_rows32(pb: np.ndarray, tb: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """float32 data: the same sum with float32 logs (see the module docstring)."""
    rows = pb.shape[0]
    ar = np.arange(rows)
    s = pb.sum(axis=1, dtype=np.float64)              # float64 row accumulation
    k = np.argmax(pb, axis=1)                          # the only entry that can have q > 1/2
    pk = pb[ar, k].astype(np.float64)
    tk = np.asarray(tb[ar, k], dtype=np.float64)
    # Per row, float64: -log clip(p_k / s) of the largest entry, as log1p(rest / p_k).
    nl_k = _clipped_neglog(pk / s, (s - pk) / pk, lo, hi)
    # Every other entry has q <= 1/2, so -log q = log s - log p >= ln 2: no cancellation,
    # and log p in float32 parts (H + R, H exact) is accurate relative to it.
    low = pb <= _f32_floor(lo * s)[:, None]           # clip(q) = lo (exact decision up to 2**-53)
    H, R = log_parts(pb)
    w = np.where(low, 0.0, np.asarray(tb, dtype=np.float64))
    w[ar, k] = 0.0
    H[low] = 0.0  # p <= 0 gives -inf/NaN logs: those entries are clipped, keep 0 * inf out
    R[low] = 0.0
    w_low = np.where(low, np.asarray(tb, dtype=np.float64), 0.0)
    w_low[ar, k] = 0.0
    with np.errstate(invalid="ignore"):
        acc = (w.sum(axis=1) * np.log(s) - np.einsum("ij,ij->i", w, H) - np.einsum("ij,ij->i", w, R)
               - math.log(lo) * w_low.sum(axis=1) + tk * nl_k)
    # Non-finite data: NaN (an inf entry gives inf / inf in the renormalisation).
    bad = ~np.isfinite(s)
    if bad.any():
        acc[bad] = np.nan
    return acc


def dense_prob_loss(p2: np.ndarray, t2: np.ndarray, lo: float, hi: float,
                    smoothing: float = 0.0, classes: int = 1) -> np.ndarray:
    """Per-row ``-sum_k t_k log clip(p_k / s, lo, hi)`` for (R, K) probabilities and targets.

    Targets are smoothed per block (float64) when ``smoothing`` is non-zero
    (the caller rounds ``smoothing`` to the data's dtype). float64 ``p2`` runs in
    float64, anything else in float32 with float64 row accumulation. Returns float64.
    """
    n, kdim = p2.shape
    out = np.empty(n, dtype=np.float64)
    ls = float(smoothing)
    wide = p2.dtype == np.float64

    def work(r0: int, r1: int) -> None:
        tb = t2[r0:r1]
        if ls:
            tb = np.asarray(tb, dtype=np.float64) * (1.0 - ls) + ls / classes
        pb = p2[r0:r1]
        if wide:
            out[r0:r1] = _dense_rows64(pb, np.asarray(tb, dtype=np.float64), lo, hi)
            return
        if pb.dtype != np.float32:
            buf = scratch(3, pb.shape, np.float32)
            np.copyto(buf, pb, casting="unsafe")
            pb = buf
        out[r0:r1] = _dense_rows32(pb, tb, lo, hi)

    run_blocks(n, kdim, work)
    return out
