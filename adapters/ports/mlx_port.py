"""The ``mlx`` port: the Keras 3 cross-entropies on ``mlx.nn.losses`` and ``mlx.core``.

Kernels, with Keras's clipping and renormalisation around them:

* sparse, logits: ``nn.losses.cross_entropy(logits, labels, axis=axis)`` (class-index targets);
* sparse, probabilities: renormalise, ``mx.clip(eps, 1 - eps)``, ``nn.losses.nll_loss(mx.log(.), labels, axis=axis)``;
* categorical, logits: ``nn.losses.cross_entropy(logits, probabilities, axis=axis)`` (probability targets);
* categorical, probabilities: renormalise, clip, ``-mx.sum(t * mx.log(.), axis)``;
* binary, logits: ``nn.losses.binary_cross_entropy(x, t, with_logits=True, reduction="none")``;
* binary, probabilities: clip, ``nn.losses.binary_cross_entropy(p, t, with_logits=False, reduction="none")``.

Label smoothing is applied to the targets by the Keras glue, not through
``cross_entropy``'s own ``label_smoothing`` argument (which accepts only
[0, 1) and averages the logits over ``axis`` rather than y_true's last axis).
mlx computes lazily; results are evaluated when they are converted to NumPy.
mlx does not check gather indices: a label outside [0, K) reads outside the
row, so this adapter runs isolated (a worker process per run) in case such a
read faults. Devices: ``cpu``, and ``cuda`` when mlx has a CUDA GPU backend
(``mx.cuda.is_available()``; the Metal GPU of macOS is not this option).
bfloat16 results are converted through float32 (exact), since NumPy cannot
read mlx's bfloat16 buffers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..base import Capabilities, ErrorRule
from . import keras_semantics as ks
from .backend import ArrayModuleBackend
from .base import ALL_FORMS, ALL_LOSSES, ALL_PARAMS, ALL_REDUCTIONS, GLUE_ERROR_RULES, PortAdapter, bfloat16_dtype

__all__ = ["MlxBackend", "MlxPortAdapter"]


class MlxBackend(ArrayModuleBackend):
    """Keras-glue operations on mlx arrays, evaluated on one device."""

    name = "mlx"

    def __init__(self, device: str = "cpu") -> None:
        import mlx.core as mx
        import mlx.nn as nn

        self.mx, self.nn = mx, nn
        self.xp = mx
        self.device = mx.cpu if device == "cpu" else mx.gpu
        mx.set_default_device(self.device)
        self.dtypes = {"float16": mx.float16, "bfloat16": mx.bfloat16, "float32": mx.float32,
                       "float64": mx.float64, "int32": mx.int32, "int64": mx.int64, "bool": mx.bool_}

    # -- tensors
    def tensor(self, a: Any, dtype: str) -> Any:
        mx = self.mx
        if dtype == "bfloat16":  # float32 holds every bfloat16 value exactly
            return mx.array(np.asarray(a, dtype=np.float32)).astype(mx.bfloat16)
        # the dtype is given explicitly: mx.array(float64 ndarray) alone would make float32
        return mx.array(np.asarray(a, dtype=np.dtype(dtype)), dtype=self.dtypes[dtype])

    def to_numpy(self, t: Any) -> Any:
        mx = self.mx
        if t.dtype == mx.bfloat16:
            return np.array(t.astype(mx.float32)).astype(bfloat16_dtype())
        return np.array(t)

    def dtype(self, t: Any) -> str:
        name = str(t.dtype).removeprefix("mlx.core.")
        return "bool" if name == "bool_" else name

    def cast(self, t: Any, dtype: str) -> Any:
        return t.astype(self.dtypes[dtype])

    def full(self, shape: Sequence[int], value: float, dtype: str) -> Any:
        return self.mx.full(tuple(shape), value, dtype=self.dtypes[dtype])

    def sum(self, t: Any, axis: Any = None) -> Any:
        if t.size == 0:
            return self._empty_reduction(t, axis, 0.0)
        return super().sum(t, axis)

    def mean(self, t: Any, axis: Any = None) -> Any:
        if t.size == 0:
            return self._empty_reduction(t, axis, float("nan"))
        return super().mean(t, axis)

    def _empty_reduction(self, t: Any, axis: Any, value: float) -> Any:
        """A reduction of an empty array: its identity (0 for a sum, 0 / 0 for a mean) in the reduced shape.

        mlx 0.32.4's CPU sum of an empty array sometimes never returns (its stream thread spins in
        nd_loop inside reduction_op while eval waits; seen twice in metric updates of an empty batch,
        not reproducible on demand), so the port does not call it on empty arrays.
        """
        axes = tuple(range(t.ndim)) if axis is None else tuple(
            a % t.ndim for a in (axis if isinstance(axis, (list, tuple)) else (axis,)))
        shape = [n for i, n in enumerate(t.shape) if i not in axes]
        return self.mx.full(shape, value, dtype=t.dtype)

    # -- kernels
    def _renormalised_clipped(self, p: Any, axis: int) -> Any:
        mx = self.mx
        if p.size:  # an empty batch stays empty (mx.sum of it may hang: _empty_reduction)
            p = p / mx.sum(p, axis=axis, keepdims=True)
        return mx.clip(p, ks.EPSILON, 1.0 - ks.EPSILON)

    def sparse_xent(self, labels: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        losses = self.nn.losses
        if from_logits:
            return losses.cross_entropy(y_pred, labels, axis=axis, reduction="none")
        return losses.nll_loss(self.mx.log(self._renormalised_clipped(y_pred, axis)), labels, axis=axis,
                               reduction="none")

    def categorical_xent(self, y_true: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        mx = self.mx
        if from_logits:
            return self.nn.losses.cross_entropy(y_pred, y_true, axis=axis, reduction="none")
        return -self.sum(y_true * mx.log(self._renormalised_clipped(y_pred, axis)), axis=axis)

    def binary_xent(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        losses = self.nn.losses
        if from_logits:
            return losses.binary_cross_entropy(y_pred, y_true, with_logits=True, reduction="none")
        p = self.mx.clip(y_pred, ks.EPSILON, 1.0 - ks.EPSILON)
        return losses.binary_cross_entropy(p, y_true, with_logits=False, reduction="none")


class MlxPortAdapter(PortAdapter):
    """The Keras 3 losses ported to MLX (``mlx.nn.losses.cross_entropy``, ``nll_loss``, ``binary_cross_entropy``)."""

    base_name = "mlx"
    wraps = "mlx.nn.losses"
    module = "mlx.core"
    distributions = ("mlx",)
    install = 'pip install "xentspec[mlx]"'
    devices = ("cpu", "cuda")
    isolate = True  # unchecked gathers: see the module docstring
    timeout = 60.0
    declared = Capabilities(dtypes=frozenset({"float16", "bfloat16", "float32", "float64"}), forms=ALL_FORMS,
                            losses=ALL_LOSSES, params=ALL_PARAMS, reductions=ALL_REDUCTIONS)
    error_rules = GLUE_ERROR_RULES + (
        ErrorRule("invalid_shape", ValueError, r"shape|broadcast"),
    )

    def check_device(self, device: str) -> str | None:
        """cuda needs mlx's CUDA backend (``pip install 'mlx[cuda]'``)."""
        import mlx.core as mx

        if device == "cuda" and not mx.cuda.is_available():
            return "mx.cuda.is_available() is False (this mlx has no CUDA backend)"
        return None

    def make_backend(self) -> ks.Backend:
        """An :class:`MlxBackend` on the adapter's device."""
        return MlxBackend(self.device)
