"""The ``torch`` port: the Keras 3 cross-entropies on PyTorch's own loss primitives.

Kernels (what a porter calls), with Keras's clipping and renormalisation around them:

* sparse, logits: ``F.cross_entropy(logits, labels, reduction="none")``;
* sparse, probabilities: ``p / p.sum(class axis)``, ``clip(eps, 1 - eps)``, ``F.nll_loss(log(.), labels)``;
* categorical, logits: ``F.cross_entropy(logits, probabilities, reduction="none")`` (class-probability targets);
* categorical, probabilities: renormalise, clip, ``-(t * log(.)).sum(class axis)``;
* binary, logits: ``F.binary_cross_entropy_with_logits(x, t, reduction="none")``;
* binary, probabilities: ``clip(eps, 1 - eps)``, ``F.binary_cross_entropy(p, t, reduction="none")``.

The class axis is moved to dimension 1 (``movedim``), where torch's losses want it;
a rank-1 input becomes a batch of one. Everything else (masks, weights,
reductions, metrics) is :mod:`.keras_semantics` on torch tensor arithmetic.
Devices: ``cpu`` and ``cuda`` (``torch?device=cuda``, refused when
``torch.cuda.is_available()`` is false). Runs in-process: torch raises Python
exceptions for the inputs of the spec, it does not crash.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..base import Capabilities, ErrorRule
from . import keras_semantics as ks
from .base import ALL_FORMS, ALL_LOSSES, ALL_PARAMS, ALL_REDUCTIONS, GLUE_ERROR_RULES, PortAdapter, bfloat16_dtype

__all__ = ["TorchBackend", "TorchPortAdapter"]


class TorchBackend(ks.Backend):
    """Keras-glue operations on torch tensors of one device."""

    name = "torch"

    def __init__(self, device: str = "cpu") -> None:
        import torch
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        self.device = torch.device(device)
        self.dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
                       "float64": torch.float64, "int32": torch.int32, "int64": torch.int64, "bool": torch.bool}

    # -- tensors
    def tensor(self, a: Any, dtype: str) -> Any:
        torch = self.torch
        # np.array, not np.ascontiguousarray: the latter makes a 0-d array (a scalar weight) 1-d.
        if dtype == "bfloat16":  # float32 holds every bfloat16 value exactly
            t = torch.from_numpy(np.array(a, dtype=np.float32, order="C")).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.array(a, dtype=np.dtype(dtype), order="C"))
        return t.to(self.device)

    def to_numpy(self, t: Any) -> Any:
        t = t.detach().cpu()
        if t.dtype == self.torch.bfloat16:  # bit for bit
            return t.contiguous().view(self.torch.int16).numpy().view(bfloat16_dtype())
        return t.numpy()

    def shape(self, t: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in t.shape)

    def dtype(self, t: Any) -> str:
        return str(t.dtype).removeprefix("torch.")

    def cast(self, t: Any, dtype: str) -> Any:
        return t.to(self.dtypes[dtype])

    def full(self, shape: Sequence[int], value: float, dtype: str) -> Any:
        return self.torch.full(tuple(shape), value, dtype=self.dtypes[dtype], device=self.device)

    # -- shapes
    def squeeze(self, t: Any, axis: int) -> Any:
        return t.squeeze(axis)

    def expand_dims(self, t: Any, axis: int) -> Any:
        return t.unsqueeze(axis)

    def reshape(self, t: Any, shape: Sequence[int]) -> Any:
        return t.reshape(tuple(shape))

    def broadcast_to(self, t: Any, shape: Sequence[int]) -> Any:
        return self.torch.broadcast_to(t, tuple(shape))

    # -- arithmetic
    def divide_no_nan(self, a: Any, b: Any) -> Any:
        return self.torch.where(b == 0, self.torch.zeros_like(a / b), a / b)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, a, b)

    def sum(self, t: Any, axis: Any = None) -> Any:
        return self.torch.sum(t) if axis is None else self.torch.sum(t, dim=_dims(axis))

    def mean(self, t: Any, axis: Any = None) -> Any:
        return self.torch.mean(t) if axis is None else self.torch.mean(t, dim=_dims(axis))

    # -- kernels
    def _class_dim_1(self, *ts: Any, axis: int) -> tuple[list[Any], bool]:
        """Tensors with the class axis moved to dim 1 (rank 1: a batch of one), and whether to unbatch."""
        if ts[0].dim() == 1:
            return [t.unsqueeze(0) for t in ts], True
        return [t.movedim(axis, 1) if axis != 1 else t for t in ts], False

    def _renormalised_clipped(self, p: Any, dim: int) -> Any:
        p = p / self.torch.sum(p, dim=dim, keepdim=True)
        return self.torch.clip(p, ks.EPSILON, 1.0 - ks.EPSILON)

    def sparse_xent(self, labels: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        F = self.F
        if y_pred.dim() == 1:
            out, target, unbatch = y_pred.unsqueeze(0), labels.unsqueeze(0), True
        else:
            out, target, unbatch = (y_pred.movedim(axis, 1) if axis != 1 else y_pred), labels, False
        target = target.long()
        if from_logits:
            res = F.cross_entropy(out, target, reduction="none")
        else:
            res = F.nll_loss(self.torch.log(self._renormalised_clipped(out, 1)), target, reduction="none")
        return res.squeeze(0) if unbatch else res

    def categorical_xent(self, y_true: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        if from_logits:
            (out, target), unbatch = self._class_dim_1(y_pred, y_true, axis=axis)
            res = self.F.cross_entropy(out, target, reduction="none")
            return res.squeeze(0) if unbatch else res
        q = self._renormalised_clipped(y_pred, axis)
        return -self.torch.sum(y_true * self.torch.log(q), dim=axis)

    def binary_xent(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        if from_logits:
            return self.F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        p = self.torch.clip(y_pred, ks.EPSILON, 1.0 - ks.EPSILON)
        return self.F.binary_cross_entropy(p, y_true, reduction="none")


def _dims(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


class TorchPortAdapter(PortAdapter):
    """The Keras 3 losses ported to PyTorch (``F.cross_entropy``, ``F.nll_loss``, ``F.binary_cross_entropy*``)."""

    base_name = "torch"
    wraps = "torch.nn.functional"
    module = "torch"
    distributions = ("torch",)
    install = 'pip install "xentspec[torch]"'
    devices = ("cpu", "cuda")
    declared = Capabilities(dtypes=frozenset({"float16", "bfloat16", "float32", "float64"}), forms=ALL_FORMS,
                            losses=ALL_LOSSES, params=ALL_PARAMS, reductions=ALL_REDUCTIONS)
    error_rules = GLUE_ERROR_RULES + (
        # F.cross_entropy / F.nll_loss on a class index outside [0, K) (other than ignore_index -100).
        ErrorRule("invalid_label", (IndexError, RuntimeError), r"target -?\d+ is out of bounds"),
        # F.binary_cross_entropy refuses NaN and values outside [0, 1] in input or target.
        ErrorRule("invalid_value", RuntimeError, r"elements of (input|target) should be between 0 and 1"),
        ErrorRule("invalid_shape", RuntimeError, r"size of tensor|shape|dimension|expand"),
    )

    def check_device(self, device: str) -> str | None:
        """cuda needs ``torch.cuda.is_available()``."""
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a build without CUDA")
            return f"torch.cuda.is_available() is False ({build})"
        return None

    def make_backend(self) -> ks.Backend:
        """A :class:`TorchBackend` on the adapter's device."""
        return TorchBackend(self.device)
