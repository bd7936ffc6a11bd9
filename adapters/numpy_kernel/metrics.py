"""Stateful cross-entropy metrics (Keras ``MeanMetricWrapper`` semantics, section 4 / 10.5).

State: ``total`` and ``count`` (accumulated in float64; ``result()`` rounds
``total / count`` to the metric dtype, 0 when count is 0).

Profile choice ``metric_counts_ignored``:
* true (Keras 3.14+): without sample_weight, per-sample means are added and
  the batch size is counted, so ignored entries (loss 0) count; with weights,
  the ignore mask zeroes their weight.
* false (tf-keras): the ignore mask is always a 0/1 weight; total += sum(v w),
  count += sum(w) (w broadcast to the values), so ignored entries never count.
"""

from __future__ import annotations

import warnings

from typing import Any, Callable

import numpy as np

from xentspec.spec.profiles import Profile

from . import precision as P
from .functions import CoreResult, bce_core, cce_core, dense_axis, scce_core
from .losses import result_dtype, tensor_dtype
from .reductions import _tf_keras_adjust, remove_squeezable_dimensions, squeeze_or_expand_to_same_rank
from .validate import resolve_profile

__all__ = ["SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy"]


def _mean_trailing(v: np.ndarray, keep: int) -> np.ndarray:
    """Mean over every axis from ``keep`` on (NaN over an empty axis, as Keras's ops.mean)."""
    if v.ndim <= keep:
        return v
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice": NaN is the result
        return v.mean(axis=tuple(range(keep, v.ndim)))


class _MeanMetric:
    """Shared state and update rule of the three metrics."""

    _default_name = "metric"
    _core: Callable[..., CoreResult]

    def __init__(self, name: str | None = None, dtype: str | None = None, *,
                 profile: str | Profile = "keras3") -> None:
        self.profile = resolve_profile(profile)
        self.name = name or self._default_name
        self.dtype = P.dtype_name(dtype if dtype is not None else self.profile.loss_dtype)
        self.tensor_dtype = tensor_dtype(self.dtype, self.profile)
        self.reset_state()

    def _kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget every update: total = count = 0."""
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                     y_pred_dtype: str | None = None) -> None:
        """Add one batch: the per-element losses of the loss function, weighted per the profile.

        Profile choice ``metric_inputs``: ``as_given`` (Keras 3 MeanMetricWrapper)
        runs the loss function on the inputs as they are, in y_pred's dtype, and
        only the per-sample values and the weights take the metric dtype;
        ``converted`` (tf-keras) converts y_true and y_pred to the metric dtype
        first. ``y_pred_dtype`` names y_pred's dtype when the array cannot
        (bfloat16 values in a float32 array, without ml_dtypes).
        """
        if self.profile.metric_inputs == "as_given":
            yt, yp = np.asarray(y_true), y_pred
            fn_dtype = y_pred_dtype or P.dtype_name(np.asarray(y_pred))
        else:
            yp = P.cast_to(y_pred, self.tensor_dtype)
            yt = P.cast_to(y_true, self.tensor_dtype)
            fn_dtype = self.tensor_dtype
        if self.profile.rank_match == "squeeze":  # tf-keras MeanMetricWrapper.update_state
            yt, yp = remove_squeezable_dimensions(yt, yp)
        res = type(self)._core(yt, yp, profile=self.profile, dtype=fn_dtype, **self._kwargs())
        v = np.asarray(res.values, dtype=np.float64)
        if v.ndim > 1 and res.dtype == "float64" and self.profile.mean_float64 == "float32":
            # The per-sample means (ops.mean) of float64 values are computed in float32.
            v = v.astype(np.float32).astype(np.float64)
        sw = None if sample_weight is None else P.cast_to(sample_weight, self.tensor_dtype).astype(np.float64)
        if self.profile.metric_counts_ignored:
            self._update_keras3(v, res.mask, sw)
        else:
            self._update_tf_keras(v, res.mask, sw)

    def _update_keras3(self, v: np.ndarray, mask: np.ndarray | None, sw: np.ndarray | None) -> None:
        if sw is None:
            # The ignore mask is not used without weights: ignored entries count.
            v = _mean_trailing(v, 1)
            self.total += float(np.sum(v))
            self.count += float(v.shape[0]) if v.ndim else 1.0
            return
        if mask is not None:
            m, w = squeeze_or_expand_to_same_rank(mask.astype(np.float64), sw)
            sw = w * m
        v, sw = squeeze_or_expand_to_same_rank(v, sw)
        if v.ndim > sw.ndim:
            v = _mean_trailing(v, sw.ndim)
        try:
            sw_b = np.broadcast_to(sw, v.shape)
        except ValueError:
            raise ValueError(f"sample_weight: shape {sw.shape} cannot be broadcast to the "
                             f"values' shape {v.shape}") from None
        v = v * sw_b
        if sw_b.ndim > 1:
            sw_b = _mean_trailing(sw_b, 1)
        v = _mean_trailing(v, 1)
        self.total += float(np.sum(v))
        self.count += float(np.sum(sw_b))

    def _update_tf_keras(self, v: np.ndarray, mask: np.ndarray | None, sw: np.ndarray | None) -> None:
        w = None
        if mask is not None:
            w = mask.astype(np.float64)
        if sw is not None:
            # tf-keras squeeze_or_expand_dimensions: expand a rank-(r-1) weight, squeeze a (B, ..., 1) one.
            _, sw = _tf_keras_adjust(v, sw)
            w = sw if w is None else w * sw
        if w is None:
            self.total += float(np.sum(v))
            self.count += float(v.size)
            return
        try:
            w = np.broadcast_to(w, v.shape)
        except ValueError:
            raise ValueError(f"sample_weight: shape {w.shape} cannot be broadcast to the "
                             f"values' shape {v.shape}") from None
        self.total += float(np.sum(v * w))
        self.count += float(np.sum(w))

    def result(self) -> np.ndarray:
        """total / count in the metric dtype (0 when nothing was counted)."""
        value = self.total / self.count if self.count != 0 else 0.0
        return P.storage_result(np.asarray(value), result_dtype(self.tensor_dtype, True, self.profile))

    def get_config(self) -> dict[str, Any]:
        """Keras' metric config keys; ``profile`` only when not keras3."""
        cfg: dict[str, Any] = {"name": self.name, "dtype": self.dtype}
        cfg.update(self._kwargs())
        if self.profile.name != "keras3":
            cfg["profile"] = self.profile.name
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "_MeanMetric":
        """Rebuild a metric from ``get_config()`` output."""
        return cls(**config)


class SparseCategoricalCrossentropy(_MeanMetric):
    """Running weighted mean of the sparse categorical cross-entropy."""

    _default_name = "sparse_categorical_crossentropy"
    _core = staticmethod(scce_core)

    def __init__(self, name: str | None = None, dtype: str | None = None, from_logits: bool = False,
                 ignore_class: int | None = None, axis: int = -1, *,
                 profile: str | Profile = "keras3") -> None:
        super().__init__(name, dtype, profile=profile)
        if ignore_class is not None and not self.profile.metric_ignore_class:
            raise ValueError(f"ignore_class: the metric does not support it under profile "
                             f"{self.profile.name!r}")
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = axis

    def _kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "axis": self.axis}


class CategoricalCrossentropy(_MeanMetric):
    """Running weighted mean of the categorical cross-entropy."""

    _default_name = "categorical_crossentropy"
    _core = staticmethod(cce_core)

    def __init__(self, name: str | None = None, dtype: str | None = None, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int | None = None, *,
                 profile: str | Profile = "keras3") -> None:
        super().__init__(name, dtype, profile=profile)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = dense_axis(axis, self.profile, "the metric")

    def _kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_MeanMetric):
    """Running weighted mean of the binary cross-entropy (Keras 3's metric has no ``axis``)."""

    _default_name = "binary_crossentropy"
    _core = staticmethod(bce_core)

    def __init__(self, name: str | None = None, dtype: str | None = None, from_logits: bool = False,
                 label_smoothing: float = 0.0, *, profile: str | Profile = "keras3") -> None:
        super().__init__(name, dtype, profile=profile)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def _kwargs(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}
