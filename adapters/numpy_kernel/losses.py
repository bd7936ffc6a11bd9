"""Loss classes with Keras 3 constructors, ``__call__`` and config round trips.

``__call__`` follows Keras 3's ``Loss.__call__``: convert y_pred (and, under
``label_cast: loss_dtype``, y_true) to the loss dtype, rank-align y_true with
y_pred, compute the per-element loss and its ignore mask, then run the
reduction pipeline of :mod:`.reductions`. The result has the loss dtype
(float32 by default, whatever y_pred's dtype was).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xentspec.spec.profiles import Profile

from . import precision as P
from .functions import CoreResult, bce_core, cce_core, dense_axis, scce_core
from .reductions import (reduce_weighted, remove_squeezable_dimensions, squeeze_or_expand_to_same_rank,
                         standardize_reduction)
from .validate import resolve_profile

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy"]


class Loss:
    """Shared machinery of the three loss classes (not used directly)."""

    _default_name = "loss"
    _core: Callable[..., CoreResult]

    def __init__(self, reduction: str | None = "default", name: str | None = None,
                 dtype: str | None = None, *, profile: str | Profile = "keras3") -> None:
        self.profile = resolve_profile(profile)
        if reduction == "default":
            reduction = self.profile.default_reduction
        self.reduction = standardize_reduction(reduction, self.profile)
        if reduction is None:
            self.reduction = None  # keep Keras' spelling in get_config
        self.name = name or self._default_name
        # loss_class_dtype: y_pred (tf-keras): without a dtype the class computes in y_pred's.
        if dtype is None and self.profile.loss_class_dtype == "y_pred":
            self.dtype: str | None = None
        else:
            self.dtype = P.dtype_name(dtype if dtype is not None else self.profile.loss_dtype)

    def _kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def _convert(self, y_true: Any, y_pred: Any, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        yp = P.cast_to(y_pred, dtype)
        if self.profile.label_cast == "loss_dtype":
            yt = P.cast_to(y_true, dtype)
        else:
            yt = np.asarray(y_true)
        return yt, yp

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> np.ndarray:
        """The reduced loss (an array of the loss dtype; per-element for reduction none)."""
        # The dtype of this call's tensors on the backend (JAX without x64 has no float64).
        dtype = tensor_dtype(self.dtype or P.dtype_name(np.asarray(y_pred)), self.profile)
        yt, yp = self._convert(y_true, y_pred, dtype)
        yt, yp = self._align(yt, yp)
        res = type(self)._core(yt, yp, profile=self.profile, dtype=dtype, **self._kwargs())
        sw = None
        if sample_weight is not None:
            sw = P.cast_to(sample_weight, dtype).astype(np.float64)
        red = "none" if self.reduction is None else self.reduction
        values = res.values
        f32 = self.profile.weighted_loss_dtype == "float32"
        if f32:
            # TF 1.x compute_weighted_loss: losses and weights to float32, reduced, cast back.
            values, sw = _in_float32(values), None if sw is None else _in_float32(sw)
        out, divided = reduce_weighted(values, sw, res.mask, red, self.profile)
        if f32:
            out = _in_float32(out)
        return P.storage_result(out, result_dtype(dtype, divided, self.profile))

    def _align(self, yt: np.ndarray, yp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # LossFunctionWrapper.call: squeeze_or_expand_to_same_rank(y_true, y_pred) (Keras 3), or
        # tf-keras's squeeze-only squeeze_or_expand_dimensions (rank_match: squeeze).
        if self.profile.rank_match == "squeeze":
            return remove_squeezable_dimensions(yt, yp)
        return squeeze_or_expand_to_same_rank(yt, yp)

    def get_config(self) -> dict[str, Any]:
        """Keras' config keys; ``profile`` is added only when it is not keras3."""
        cfg: dict[str, Any] = {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}
        cfg.update(self._kwargs())
        if self.profile.name != "keras3":
            cfg["profile"] = self.profile.name
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        """Rebuild a loss from ``get_config()`` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _in_float32(a: np.ndarray) -> np.ndarray:
    """``a`` rounded to float32, held in float64 (the kernel's working precision)."""
    return P.storage_result(a, "float32").astype(np.float64)


def tensor_dtype(name: str, profile: Profile) -> str:
    """The dtype a class of dtype ``name`` holds its tensors in (``float64_tensors: float32``: no float64)."""
    return "float32" if name == "float64" and profile.float64_tensors == "float32" else name


def result_dtype(name: str, divided: bool, profile: Profile) -> str:
    """A class's result dtype: its own, but float32 for a float64 divide_no_nan where the backend
    takes result_type(float64, float64, float) = float32 (``divide_no_nan_float64: float32``)."""
    if divided and name == "float64" and profile.divide_no_nan_float64 == "float32":
        return "float32"
    return name


class SparseCategoricalCrossentropy(Loss):
    """Keras 3 ``SparseCategoricalCrossentropy``: integer labels, ignore_class masked out of the mean."""

    _default_name = "sparse_categorical_crossentropy"
    _core = staticmethod(scce_core)

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "default", axis: int | None = None, name: str | None = None,
                 dtype: str | None = None, *, profile: str | Profile = "keras3") -> None:
        super().__init__(reduction, name, dtype, profile=profile)
        if ignore_class is not None and not self.profile.ignore_class:
            raise ValueError(f"ignore_class: not supported by profile {self.profile.name!r}")
        if axis is not None and not self.profile.scce_class_axis:
            # tf-keras: the constructor has no axis argument (scce_class_axis: false).
            raise ValueError(f"axis: the loss class takes no axis under profile {self.profile.name!r}")
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = -1 if axis is None else axis

    def _kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "axis": self.axis}

    def get_config(self) -> dict[str, Any]:
        """Keras' config keys (no ``axis`` where the class takes none)."""
        cfg = super().get_config()
        if not self.profile.scce_class_axis:
            cfg.pop("axis", None)
        return cfg


class _SmoothedLoss(Loss):
    """Shared constructor of the dense losses: from_logits, label_smoothing, axis."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int | None = None,
                 reduction: str | None = "default", name: str | None = None,
                 dtype: str | None = None, *, profile: str | Profile = "keras3") -> None:
        super().__init__(reduction, name, dtype, profile=profile)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = dense_axis(axis, self.profile, "the loss class")

    def _kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}

    def get_config(self) -> dict[str, Any]:
        """Keras' config keys (no ``axis`` where the class takes none: TF 1.14)."""
        cfg = super().get_config()
        if not self.profile.dense_axis_argument:
            cfg.pop("axis", None)
        return cfg


class CategoricalCrossentropy(_SmoothedLoss):
    """Keras 3 ``CategoricalCrossentropy``: one-hot or soft targets, optional label smoothing."""

    _default_name = "categorical_crossentropy"
    _core = staticmethod(cce_core)


class BinaryCrossentropy(_SmoothedLoss):
    """Keras 3 ``BinaryCrossentropy``: per-element BCE averaged over ``axis``, then reduced."""

    _default_name = "binary_crossentropy"
    _core = staticmethod(bce_core)
