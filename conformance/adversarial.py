"""Adversarial values for the drawn cases: the numbers where cross-entropy implementations go wrong.

:func:`special_values` lists them per kind and dtype; :func:`sprinkle`
replaces a few entries of an array by them, :func:`ties` copies a row's
maximum to another class. Every draw shrinks towards leaving the array alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from xentspec.spec.floats import get_format

__all__ = ["special_values", "sprinkle", "ties", "one_of", "ints"]


@lru_cache(maxsize=None)
def one_of(options: tuple) -> st.SearchStrategy:
    """``st.sampled_from(options)``, built once per tuple: hypothesis validates every new strategy
    object on its first draw, which cost a fifth of the property run when rebuilt per example."""
    return st.sampled_from(options)


@lru_cache(maxsize=None)
def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``, built once per pair."""
    return st.integers(lo, hi)


BOOLS = st.booleans()


def _in(dtype: str, x: float) -> float:
    """x rounded to ``dtype`` (as a float64 value)."""
    with np.errstate(over="ignore"):
        return float(np.asarray(x, dtype=np.float64).astype(dtype))


def _neighbours(dtype: str, x: float) -> list[float]:
    t = np.dtype(dtype).type
    v = t(x)
    return [float(np.nextafter(v, t(-np.inf))), float(v), float(np.nextafter(v, t(np.inf)))]


@lru_cache(maxsize=None)
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


def sprinkle(draw: Any, a: np.ndarray, pool: Sequence[float]) -> np.ndarray:
    """``a`` with 1-3 entries replaced by values of ``pool``, in half of the draws (shrinks to none)."""
    if a.size == 0 or not pool or not draw(BOOLS):
        return a
    a = a.copy()
    flat = a.reshape(-1)
    for _ in range(draw(ints(1, 3))):
        flat[draw(ints(0, flat.size - 1))] = draw(one_of(tuple(pool)))
    return a


def ties(draw: Any, pred: np.ndarray, axis: int) -> np.ndarray:
    """Now and then copy each row's maximum to another entry of the row (a tie for the argmax)."""
    k = pred.shape[axis] if pred.ndim else 0
    if pred.size == 0 or k < 2 or draw(ints(0, 5)) != 5:
        return pred
    moved = np.moveaxis(pred.copy(), axis, -1)
    j = draw(ints(0, k - 1))
    moved[..., j] = moved.max(axis=-1)
    return np.moveaxis(moved, -1, axis)
