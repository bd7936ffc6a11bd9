"""Precision helpers: dtype names, the compute dtype of a case, bfloat16 rounding, clip bounds.

The kernel computes float32, float16 and bfloat16 cases in float32 and rounds
the results back to the storage dtype once; float64 cases run in float64.
bfloat16 has no NumPy dtype: a bfloat16 array arrives either as an ml_dtypes
array (when ml_dtypes is installed) or as a float32 array holding bfloat16
values together with ``dtype="bfloat16"``. Rounding float32 -> bfloat16 is
done here with integer bit operations (round to nearest, ties to even), so it
never depends on ml_dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "FLOAT_NAMES",
    "dtype_name",
    "compute_dtype",
    "round_to_bfloat16",
    "round_to",
    "cast_to",
    "clip_bounds",
    "storage_result",
]

FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64")

try:  # optional: real bfloat16 arrays
    import ml_dtypes as _ml_dtypes  # type: ignore

    _BF16: Any = np.dtype(_ml_dtypes.bfloat16)
except Exception:  # pragma: no cover - depends on the environment
    _BF16 = None


def dtype_name(x: Any) -> str:
    """The kernel's name for the floating dtype of ``x`` (an array, dtype or name).

    Integer and boolean inputs count as float32 (Keras converts them to floatx).
    """
    if isinstance(x, str):
        if x not in FLOAT_NAMES:
            raise ValueError(f"dtype: unsupported dtype {x!r}; expected one of {', '.join(FLOAT_NAMES)}")
        return x
    dt = np.dtype(x.dtype if hasattr(x, "dtype") else x)
    if _BF16 is not None and dt == _BF16:
        return "bfloat16"
    if dt == np.float16:
        return "float16"
    if dt == np.float64:
        return "float64"
    if dt.kind in "fiub":
        return "float32"
    raise ValueError(f"dtype: unsupported dtype {dt}")


def compute_dtype(name: str) -> type:
    """The NumPy type the arithmetic of a ``name`` case runs in (float64 only for float64)."""
    return np.float64 if name == "float64" else np.float32


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even); returns float32 holding them.

    Integer trick: add 0x7FFF plus the lowest kept bit to the float32 bit
    pattern and truncate the low 16 bits. Overflow correctly carries into the
    exponent (giving inf); NaNs are kept NaN (quieted) instead of being rounded.
    """
    a = np.ascontiguousarray(x, dtype=np.float32)
    bits = a.view(np.uint32)
    bias = ((bits >> np.uint32(16)) & np.uint32(1)) + np.uint32(0x7FFF)
    out = ((bits + bias) & np.uint32(0xFFFF0000)).view(np.float32)
    nan = np.isnan(a)
    if nan.any():
        out = out.copy()
        out[nan] = np.nan
    return out.reshape(np.shape(x))


def round_to(x: np.ndarray, name: str) -> np.ndarray:
    """Round an array to the values of dtype ``name``, returned in the compute dtype of ``name``."""
    if name == "bfloat16":
        return round_to_bfloat16(np.asarray(x, dtype=np.float32))
    if name == "float16":
        with np.errstate(over="ignore"):  # overflow to inf is the float16 value
            return np.asarray(x, dtype=np.float16).astype(np.float32)
    return np.asarray(x, dtype=compute_dtype(name))


def cast_to(x: Any, name: str) -> np.ndarray:
    """Convert input data to dtype ``name`` (rounding once), held in its compute dtype.

    float16 inputs are kept exact in float32; bfloat16 (ml_dtypes) inputs are
    widened exactly to float32.
    """
    a = np.asarray(x)
    if _BF16 is not None and a.dtype == _BF16:
        a = a.astype(np.float32)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"expected numeric data, got dtype {a.dtype}")
    if name == "float64":
        return a.astype(np.float64, copy=False)
    if name == "float32":
        with np.errstate(over="ignore"):  # float64 data beyond float32's range becomes inf
            return a.astype(np.float32, copy=False)
    if name == "float16":
        if a.dtype == np.float16:
            return a.astype(np.float32)
        with np.errstate(over="ignore"):  # data beyond 65504 becomes inf, as in float16
            return a.astype(np.float16).astype(np.float32)
    # bfloat16: round once from the input's own precision (float64 -> float32
    # could double-round; bfloat16 ties from float64 data are accepted as such).
    return round_to_bfloat16(a.astype(np.float32, copy=False))


def clip_bounds(epsilon: float, name: str) -> tuple[float, float]:
    """``(epsilon, 1 - epsilon)`` rounded to dtype ``name`` (profile choice clip_bounds: dtype).

    float32: 0x1.ad7f2ap-24 and 1 - 2**-23; float16: 2**-23 and exactly 1.0.
    The bounds are returned as Python floats holding the rounded values.
    """
    lo = float(epsilon)
    hi = 1.0 - float(epsilon)  # exact to 1e-16: no float32/16 midpoint is that close
    if name == "float64":
        return lo, hi
    arr = np.array([lo, hi], dtype=np.float64)
    if name == "float32":
        r = arr.astype(np.float32)
    elif name == "float16":
        r = arr.astype(np.float16)
    else:
        r = round_to_bfloat16(arr.astype(np.float32))
    return float(r[0]), float(r[1])


def storage_result(values: np.ndarray, name: str, as_ml_dtypes: bool = False) -> np.ndarray:
    """Round computed results to dtype ``name`` and return them in that dtype's container.

    float16 -> np.float16; bfloat16 -> float32 holding bfloat16 values (or an
    ml_dtypes bfloat16 array when ``as_ml_dtypes`` and ml_dtypes is present);
    float32/float64 -> themselves.
    """
    if name == "float64":
        return np.asarray(values, dtype=np.float64)
    if name == "float32":
        with np.errstate(over="ignore"):  # a float64 sum beyond float32's range is inf in float32
            return np.asarray(values, dtype=np.float32)
    if name == "float16":
        # A loss above 65504 overflows float16 to inf: that inf is the specified
        # result (Keras computes in float16), not a condition to warn about.
        with np.errstate(over="ignore"):
            return np.asarray(values, dtype=np.float16)
    out = round_to_bfloat16(np.asarray(values, dtype=np.float32))
    if as_ml_dtypes and _BF16 is not None:
        return out.astype(_BF16)
    return out
