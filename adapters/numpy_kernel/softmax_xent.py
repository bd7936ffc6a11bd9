"""Cross-entropy from logits (sparse and dense targets) on 2-D ``(rows, classes)`` arrays.

Per row, with k = argmax x, m = x_k and S' = sum_{j != k} exp(x_j - m):

    lse(x) - x_y = log1p(S') + (m - x_y)

Both parts are >= 0, so there is no cancellation and a loss near 0 (a
confident, correct row: y = k, S' tiny) keeps its relative accuracy; the row
max keeps exp from overflowing for any finite logits.

Fast path (float32, float16 and bfloat16 cases), per block of rows: ``exp(x)``
in float32 into a per-thread scratch buffer (no shift by the row max: one
pass fewer), the row sums S in float32 (pairwise summation), then one value
per row in float64: ``log(S) - x_y`` (dense: ``sum(t) log(S) - sum(t x)``).
That is accurate for losses >= ``REFINE_BELOW``, whose ULP is coarse enough
to absorb NumPy's float32 ``exp`` error (measured up to 2.45 ULP for positive and
2.54 ULP for negative arguments; too much for a 2-ULP budget wherever
one term dominates a small loss). A row is
recomputed by the float64 row formula above (only that row, never the whole
input) when its fast loss is below ``REFINE_BELOW`` (small losses need the
split-off argmax for relative accuracy), or when S overflowed (a logit above
88.7), underflowed (S < 2**-60) or is NaN. float64 cases always use the
float64 row formula. The refinement stays in float64 because the float32
alternative (``f32math.exp_neg`` of ``m - x_j``) would need ``m - x_j``
exact, which float32 does not guarantee for logits of different binades.
"""

from __future__ import annotations

import numpy as np

from .blocks import run_blocks, scratch

__all__ = ["REFINE_BELOW", "sparse_logits_loss", "dense_logits_loss"]

# Fast-path results below this are recomputed in float64 (see module docstring).
REFINE_BELOW = 2.0
# Row sums of exp(x) below this are recomputed (their terms may have underflowed).
_S_MIN = 2.0 ** -60


def _rows_f64_sparse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """lse(x) - x_y per row, in float64, with the argmax term split off."""
    xd = np.asarray(x, dtype=np.float64)
    n = xd.shape[0]
    ar = np.arange(n)
    k = np.argmax(xd, axis=1)
    m = xd[ar, k]
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(xd - m[:, None])
        e[ar, k] = 0.0
        sp = e.sum(axis=1)
        out = np.log1p(sp) + (m - xd[ar, y])
    # An infinite or NaN row max means inf - inf inside the softmax: NaN, as Keras.
    out[~np.isfinite(m)] = np.nan
    return out


def _rows_f64_dense(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum_k t_k (lse(x) - x_k) per row, in float64: sum t_k (m - x_k) + (sum t) log1p(S')."""
    xd = np.asarray(x, dtype=np.float64)
    td = np.asarray(t, dtype=np.float64)
    n = xd.shape[0]
    ar = np.arange(n)
    k = np.argmax(xd, axis=1)
    m = xd[ar, k]
    with np.errstate(invalid="ignore", over="ignore"):
        r = m[:, None] - xd
        a = np.einsum("ij,ij->i", td, r)
        e = np.exp(-r)
        e[ar, k] = 0.0
        sp = e.sum(axis=1)
        out = a + td.sum(axis=1) * np.log1p(sp)
    out[~np.isfinite(m)] = np.nan
    return out


def _needs_refinement(s: np.ndarray, res: np.ndarray) -> np.ndarray:
    """Rows the fast path cannot vouch for: small losses, and sums out of the safe range.

    ``s`` = sum_j exp(x_j) in float32: inf means some logit > 88.7 (overflow),
    below 2**-60 means the row's largest terms underflowed or nearly did; NaN
    means a NaN or inf - inf, which the float64 row formula turns into NaN.
    """
    return ~((s >= _S_MIN) & (s < np.inf)) | (res < REFINE_BELOW)


def _as_f32_block(xb: np.ndarray, slot: int) -> np.ndarray:
    if xb.dtype == np.float32:
        return xb
    buf = scratch(slot, xb.shape, np.float32)
    np.copyto(buf, xb, casting="unsafe")
    return buf


def sparse_logits_loss(x2: np.ndarray, labels: np.ndarray, compute: type) -> np.ndarray:
    """Per-row ``lse(x) - x[label]`` for ``x2`` of shape (R, K); labels in [0, K).

    ``compute`` is np.float32 (fast path, input float16/float32) or np.float64.
    Returns float64 values (rounded to the storage dtype by the caller).
    """
    n, kdim = x2.shape
    out = np.empty(n, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.intp)

    if compute is np.float64:
        def work64(r0: int, r1: int) -> None:
            out[r0:r1] = _rows_f64_sparse(x2[r0:r1], labels[r0:r1])
        run_blocks(n, kdim, work64)
        return out

    def work(r0: int, r1: int) -> None:
        xb = _as_f32_block(x2[r0:r1], 1)
        y = labels[r0:r1]
        tmp = scratch(0, xb.shape, np.float32)
        np.exp(xb, out=tmp)
        s = tmp.sum(axis=1).astype(np.float64)  # pairwise float32 summation
        xy = xb[np.arange(r1 - r0), y].astype(np.float64)
        res = np.log(s) - xy
        out[r0:r1] = res
        fix = np.flatnonzero(_needs_refinement(s, res))
        if fix.size:
            out[r0 + fix] = _rows_f64_sparse(xb[fix], y[fix])

    run_blocks(n, kdim, work)
    return out


def dense_logits_loss(x2: np.ndarray, t2: np.ndarray, compute: type,
                      smoothing: float = 0.0, classes: int = 1) -> np.ndarray:
    """Per-row ``sum_k t_k (lse(x) - x_k)`` for logits and targets of shape (R, K).

    Targets are smoothed per block as ``t (1 - smoothing) + smoothing / classes``
    (in float64) when ``smoothing`` is non-zero. Returns float64 values.
    """
    n, kdim = x2.shape
    out = np.empty(n, dtype=np.float64)
    ls = float(smoothing)

    def targets(r0: int, r1: int) -> np.ndarray:
        tb = np.asarray(t2[r0:r1], dtype=np.float64)
        if ls:
            tb = tb * (1.0 - ls) + ls / classes
        return tb

    if compute is np.float64:
        def work64(r0: int, r1: int) -> None:
            out[r0:r1] = _rows_f64_dense(x2[r0:r1], targets(r0, r1))
        run_blocks(n, kdim, work64)
        return out

    def work(r0: int, r1: int) -> None:
        xb = _as_f32_block(x2[r0:r1], 1)
        tb = targets(r0, r1)
        tmp = scratch(0, xb.shape, np.float32)
        np.exp(xb, out=tmp)
        s = tmp.sum(axis=1).astype(np.float64)
        res = tb.sum(axis=1) * np.log(s) - np.einsum("ij,ij->i", tb, xb)
        out[r0:r1] = res
        fix = np.flatnonzero(_needs_refinement(s, res))
        if fix.size:
            out[r0 + fix] = _rows_f64_dense(xb[fix], tb[fix])

    run_blocks(n, kdim, work)
    return out
