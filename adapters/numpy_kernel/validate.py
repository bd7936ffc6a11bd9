"""Argument checks shared by the functions and classes: profiles, axis, shapes, sparse labels.

Every error is a ValueError naming the offending argument, so callers (and
the conformance suite) can map it to the spec's error kinds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xentspec.spec.profiles import Profile, get_profile

__all__ = ["resolve_profile", "normalize_axis", "check_same_shape", "sparse_labels"]


def resolve_profile(profile: str | Profile) -> Profile:
    """The Profile for a name (or the Profile itself); ValueError for unknown names."""
    if isinstance(profile, Profile):
        return profile
    if not isinstance(profile, str):
        raise ValueError(f"profile: expected a profile name, got {profile!r}")
    return get_profile(profile)  # SpecError (a ValueError) lists the known names


def normalize_axis(axis: Any, ndim: int) -> int:
    """``axis`` as a non-negative index into ``ndim`` dimensions; ValueError names ``axis``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis: expected an integer, got {axis!r}")
    if ndim == 0 or not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis: {axis} is out of bounds for y_pred of rank {ndim}")
    return int(axis) % ndim


def check_same_shape(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """ValueError naming both shapes unless y_true and y_pred have the same shape."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got y_true.shape={y_true.shape} "
                         f"and y_pred.shape={y_pred.shape}")


def sparse_labels(y_true: np.ndarray, classes: int, valid: np.ndarray | None,
                  out_of_range: str, nan_label: str = "out_of_range") -> tuple[np.ndarray, np.ndarray]:
    """Integer class indices (truncated toward zero) and a mask of entries whose loss is forced to 0.

    Ignored entries (``valid`` False) get index 0 and are not checked. Out-of-range
    labels follow the profile choice ``out_of_range_label``: error raises a
    ValueError naming the first offending position and its value; zero,
    zero_if_negative and zero_if_minus_100 turn the named labels into a 0 loss.
    ``nan_label`` class_zero takes a NaN label as class 0 (XLA's float-to-int cast).
    """
    y = np.asarray(y_true)
    if y.dtype.kind == "f" or y.dtype.kind not in "iub":
        yf = y.astype(np.float64)
        finite = np.isfinite(yf)
        # NaN and -inf labels count as negative (out of range below), +inf as too large;
        # under nan_label class_zero a NaN is class 0.
        nan_value = 0.0 if nan_label == "class_zero" else -1.0
        lab = np.where(finite, np.trunc(np.where(finite, yf, 0.0)),
                       np.where(yf == np.inf, 2.0**62, np.where(np.isnan(yf), nan_value, -1.0)))
        if nan_label == "class_zero":
            finite = finite | np.isnan(yf)
        lab = np.clip(lab, -2.0**62, 2.0**62).astype(np.int64)
        nonfinite = ~finite
    else:
        lab = y.astype(np.int64)
        nonfinite = np.zeros(y.shape, dtype=bool)
    check = np.ones(y.shape, dtype=bool) if valid is None else valid
    lab = np.where(check, lab, 0)
    bad = check & (nonfinite | (lab < 0) | (lab >= classes))
    zeroed = np.zeros(y.shape, dtype=bool)
    if bad.any():
        if out_of_range == "zero":
            allowed = bad
        elif out_of_range == "zero_if_negative":
            allowed = bad & (lab < 0)
        elif out_of_range == "zero_if_minus_100":
            allowed = bad & (lab == -100) & ~nonfinite
        elif out_of_range == "error":
            allowed = np.zeros_like(bad)
        else:
            raise ValueError(f"out_of_range_label: unknown choice {out_of_range!r}")
        errors = bad & ~allowed
        if errors.any():
            pos = tuple(int(i) for i in np.argwhere(errors)[0])
            value = (y[pos] if y.ndim else y[()]).item()
            raise ValueError(f"y_true: label {value!r} at position {pos} is out of range for "
                             f"{classes} classes (valid labels are 0..{classes - 1})")
        zeroed = allowed
        lab = np.where(zeroed, 0, lab)
    return lab, zeroed
