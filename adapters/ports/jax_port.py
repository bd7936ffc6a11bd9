"""The ``jax`` port: the Keras 3 cross-entropies on jax.numpy and optax's loss functions.

Kernels, with Keras's clipping and renormalisation around them:

* sparse, logits: ``optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels, axis=axis)``;
* sparse, probabilities: renormalise, ``jnp.clip(eps, 1 - eps)``, ``-take_along_axis(log(.), labels)``;
* categorical, logits: ``optax.losses.softmax_cross_entropy(logits, labels, axis=axis)``;
* categorical, probabilities: renormalise, clip, ``-sum(t * log(.))``;
* binary, logits: ``optax.losses.sigmoid_binary_cross_entropy(logits, labels)``;
* binary, probabilities (optax has none): clip, ``-(t log p + (1 - t) log(1 - p))``.

JAX runs in its default configuration: without ``jax_enable_x64`` there are no
float64 (or int64) arrays, so float64 is declared only when x64 is on
(``JAX_ENABLE_X64=1``); int64 labels become int32, as for any JAX user. Devices:
``cpu`` and ``cuda`` (``jax?device=cuda``, refused when JAX has no CUDA backend).
Runs in-process, eagerly (no ``jit``: each operation is dispatched as a porter
calling the functions would see it).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..base import Capabilities, ErrorRule
from . import keras_semantics as ks
from .backend import ArrayModuleBackend
from .base import ALL_FORMS, ALL_LOSSES, ALL_PARAMS, ALL_REDUCTIONS, GLUE_ERROR_RULES, PortAdapter, bfloat16_dtype

__all__ = ["JaxBackend", "JaxPortAdapter"]


def _x64_enabled() -> bool:
    """Whether JAX has 64-bit types here (read from the environment before jax is imported)."""
    import sys

    if "jax" in sys.modules:
        return bool(sys.modules["jax"].config.read("jax_enable_x64"))
    return os.environ.get("JAX_ENABLE_X64", "").lower() in ("1", "true", "yes")


class JaxBackend(ArrayModuleBackend):
    """Keras-glue operations on jax.Arrays committed to one device."""

    name = "jax"

    def __init__(self, device: str = "cpu") -> None:
        import jax
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.optax = jax, jnp, optax
        self.xp = jnp
        self.device = jax.devices(device)[0]

    # -- tensors
    def _np_dtype(self, dtype: str) -> Any:
        return bfloat16_dtype() if dtype == "bfloat16" else np.dtype(dtype)

    def tensor(self, a: Any, dtype: str) -> Any:
        return self.jax.device_put(self.jnp.asarray(np.asarray(a, dtype=self._np_dtype(dtype))), self.device)

    def to_numpy(self, t: Any) -> Any:
        return np.asarray(t)

    def dtype(self, t: Any) -> str:
        return str(t.dtype)

    def cast(self, t: Any, dtype: str) -> Any:
        if dtype == "int64" and not self.jax.config.read("jax_enable_x64"):
            dtype = "int32"  # what JAX makes of int64 anyway, without the warning
        return t.astype(self._np_dtype(dtype) if dtype != "bool" else bool)

    def full(self, shape: Sequence[int], value: float, dtype: str) -> Any:
        return self.jax.device_put(self.jnp.full(tuple(shape), value, dtype=self._np_dtype(dtype)), self.device)

    # -- kernels
    def _renormalised_clipped(self, p: Any, axis: int) -> Any:
        jnp = self.jnp
        p = p / jnp.sum(p, axis=axis, keepdims=True)
        return jnp.clip(p, ks.EPSILON, 1.0 - ks.EPSILON)

    def sparse_xent(self, labels: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        jnp = self.jnp
        if from_logits:
            return self.optax.losses.softmax_cross_entropy_with_integer_labels(y_pred, labels, axis=axis)
        logp = jnp.log(self._renormalised_clipped(y_pred, axis))
        picked = jnp.take_along_axis(logp, jnp.expand_dims(labels, axis), axis=axis)
        return -jnp.squeeze(picked, axis)

    def categorical_xent(self, y_true: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
        if from_logits:
            return self.optax.losses.softmax_cross_entropy(y_pred, y_true, axis=axis)
        jnp = self.jnp
        return -jnp.sum(y_true * jnp.log(self._renormalised_clipped(y_pred, axis)), axis=axis)

    def binary_xent(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        if from_logits:
            return self.optax.losses.sigmoid_binary_cross_entropy(y_pred, y_true)
        jnp = self.jnp
        p = jnp.clip(y_pred, ks.EPSILON, 1.0 - ks.EPSILON)
        return -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))


class JaxPortAdapter(PortAdapter):
    """The Keras 3 losses ported to JAX with optax (``softmax_cross_entropy*``, ``sigmoid_binary_cross_entropy``)."""

    base_name = "jax"
    wraps = "optax.losses"
    module = "optax"
    distributions = ("jax", "jaxlib", "optax")
    install = 'pip install "xentspec[optax]"'
    devices = ("cpu", "cuda")
    compiles_per_shape = True  # XLA compiles each op per new shape: the properties draw few shapes
    flushes_subnormals = "flushed_all"  # XLA on the CPU mishandles subnormals (choice subnormals of keras3-jax)
    error_rules = GLUE_ERROR_RULES + (
        ErrorRule("invalid_shape", (ValueError, TypeError), r"shape|broadcast|incompatible|rank"),
    )

    @property
    def declared(self) -> Capabilities:  # type: ignore[override]
        """Every form, loss and parameter; float64 only with ``jax_enable_x64``."""
        dtypes = {"float16", "bfloat16", "float32"} | ({"float64"} if _x64_enabled() else set())
        return Capabilities(dtypes=frozenset(dtypes), forms=ALL_FORMS, losses=ALL_LOSSES, params=ALL_PARAMS,
                            reductions=ALL_REDUCTIONS)

    def modules(self) -> tuple[str, ...]:
        """jax and optax must both be installed."""
        return ("jax", "optax")

    def check_device(self, device: str) -> str | None:
        """cuda needs JAX's CUDA backend (``jax.devices("cuda")``)."""
        import jax

        try:
            jax.devices(device)
        except RuntimeError as exc:
            return f"JAX has no {device} backend here ({str(exc).splitlines()[0]})"
        return None

    def make_backend(self) -> ks.Backend:
        """A :class:`JaxBackend` on the adapter's device."""
        return JaxBackend(self.device)
