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
non-zero target; that runs in float64 per block.
"""

from __future__ import annotations

import math

import numpy as np

from .blocks import run_blocks, scratch

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


def dense_prob_loss(p2: np.ndarray, t2: np.ndarray, lo: float, hi: float,
                    smoothing: float = 0.0, classes: int = 1) -> np.ndarray:
    """Per-row ``-sum_k t_k log clip(p_k / s, lo, hi)`` for (R, K) probabilities and targets.

    Targets are smoothed per block (float64) when ``smoothing`` is non-zero. Returns float64.
    """
    n, kdim = p2.shape
    out = np.empty(n, dtype=np.float64)
    ls = float(smoothing)

    def work(r0: int, r1: int) -> None:
        pb = np.asarray(p2[r0:r1], dtype=np.float64)
        tb = np.asarray(t2[r0:r1], dtype=np.float64)
        if ls:
            tb = tb * (1.0 - ls) + ls / classes
        s = pb.sum(axis=1, keepdims=True)
        q = pb / s
        nl = _clipped_neglog(q, (s - pb) / pb, lo, hi)
        # 0 * (-log q) is 0 even where q is clipped; NaN rows stay NaN through s.
        out[r0:r1] = np.einsum("ij,ij->i", tb, nl)

    run_blocks(n, kdim, work)
    return out
