"""An out-of-tree adapter: how a port of the Keras cross-entropies plugs into xentspec.

This file stands for "your library": a minimal float64 NumPy port of the three
loss *functions* (no loss classes, no metrics), written the way Keras 3
writes them. It declares exactly what it can do, so every case it cannot run
is skipped with the missing capability named, and it is run with::

    xentspec run --adapter examples/my_adapter.py:MyPortAdapter
    pytest --pyargs xentspec.conformance --adapter examples/my_adapter.py:MyPortAdapter

A real port would import its own package in ``evaluate`` and keep only the
input conversion and the call here.
"""

from __future__ import annotations

import numpy as np

from xentspec.adapters import Adapter, Capabilities, CaseError, ErrorRule, Result

EPSILON = 1e-7


# ----------------------------------------------------------------- "the port"

def _clip(p: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # Keras clips to epsilon and 1 - epsilon rounded to the compute dtype.
    lo, hi = np.asarray([EPSILON, 1 - EPSILON], dtype=dtype)
    return np.clip(p, lo, hi)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """-log p[y] along ``axis``; labels must lie in [0, classes)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(np.int64)
    k = y_pred.shape[axis]
    if y_true.size and (y_true.min() < 0 or y_true.max() >= k):
        raise IndexError(f"label out of range [0, {k})")
    onehot = np.moveaxis(np.eye(k, dtype=y_pred.dtype)[y_true], -1, axis)
    return categorical_crossentropy(onehot, y_pred, from_logits=from_logits, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """-sum t log p along ``axis`` (probabilities renormalised, then clipped)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: {y_true.shape} vs {y_pred.shape}")
    if from_logits:
        logp = _log_softmax(y_pred, axis)
    else:
        p = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
        logp = np.log(_clip(p, y_pred.dtype))
    return -np.sum(y_true * logp, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Mean over ``axis`` of -(t log p + (1 - t) log(1 - p))."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if from_logits:
        per = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = _clip(y_pred, y_pred.dtype)
        per = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return np.mean(per, axis=axis)


_FUNCTIONS = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}


# ----------------------------------------------------------------- the adapter

class MyPortAdapter(Adapter):
    """Adapter of the port above: function form only, float32 and float64, probabilities and logits."""

    name = "my-port"
    wraps = "examples/my_adapter.py"
    version = "0.1"
    profile = "keras3"
    capabilities = Capabilities(
        dtypes=frozenset({"float32", "float64"}),
        forms=frozenset({"function"}),
        params=frozenset({"from_logits", "axis"}),
    )
    # The port raises IndexError for bad labels: say which category that is.
    error_rules = (ErrorRule("invalid_label", IndexError), ErrorRule("invalid_shape", ValueError, "shape"))
    isolate = False  # pure NumPy: nothing here can crash the interpreter

    def evaluate(self, case, profile):
        """Call the port's function on the case's inputs, converted to the case dtype."""
        fn = _FUNCTIONS[case.loss]
        dtype = np.dtype(case.dtype)
        y_pred = case.inputs.y_pred.astype(dtype)
        y_true = case.inputs.y_true if case.sparse else case.inputs.y_true.astype(dtype)
        kwargs = {k: case.params[k] for k in ("from_logits", "axis") if k in case.params}
        if case.params.get("ignore_class") is not None:
            raise CaseError("invalid_argument", "ignore_class is not implemented by this port")
        return Result(value=np.asarray(fn(y_true, y_pred, **kwargs)))
