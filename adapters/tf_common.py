"""What the two TensorFlow-based adapters share: tensors, results, errors, versions, the CPU.

``keras3-tensorflow`` (Keras 3 on ``KERAS_BACKEND=tensorflow``) and
``tf-keras`` (Keras 2 through the ``tf_keras`` package) both hand TensorFlow
eager tensors to the framework and get eager tensors back. Nothing here
imports TensorFlow at module import time: the functions import it when a
case is evaluated, in the adapter's worker process, so the runner (which
constructs every adapter to read its capabilities) never loads TensorFlow.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

import numpy as np

from .base import ErrorRule

__all__ = ["TF_ERROR_RULES", "tf_distribution", "dist_version", "prepare_tensorflow", "tf_tensor",
           "tf_to_numpy", "cpu_only"]

# Where TensorFlow comes from: the full wheel or the CPU-only one (same module, other name).
_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")

# TensorFlow's op errors (tensorflow.errors.*) as the spec's categories. They are named by
# qualified class name, so the runner need not import TensorFlow to classify them.
TF_ERROR_RULES: tuple[ErrorRule, ...] = (
    # tf.nn.sparse_softmax_cross_entropy_with_logits on CPU: "Received a label value of 3 which
    # is outside the valid range of [0, 3)."
    ErrorRule("invalid_label", "tensorflow.python.framework.errors_impl.InvalidArgumentError",
              r"label value of -?\d+ which is outside the valid range"),
    ErrorRule("invalid_shape", "tensorflow.python.framework.errors_impl.InvalidArgumentError",
              r"shape|rank|dimension|broadcast|must be equal|logits and labels"),
    ErrorRule("invalid_argument", "tensorflow.python.framework.errors_impl.InvalidArgumentError",
              r"axis|argument"),
    # tf-keras: ReductionV2.validate -> "Invalid Reduction Key: None. Expected keys are ...".
    ErrorRule("invalid_argument", ValueError, r"invalid reduction key"),
)


def dist_version(name: str) -> str:
    """The installed version of distribution ``name`` (read from metadata, nothing imported)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def tf_distribution() -> tuple[str, str]:
    """(distribution name, version) of the installed TensorFlow, ("tensorflow", "not installed") if none."""
    for name in _TF_DISTRIBUTIONS:
        v = dist_version(name)
        if v != "not installed":
            return name, v
    return "tensorflow", "not installed"


def prepare_tensorflow() -> None:
    """Environment for a TensorFlow import in this (worker) process; call it before importing TF.

    Only quiets TensorFlow's C++ INFO/WARNING lines (which would otherwise fill the
    run's output); a value the user set is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_only() -> None:
    """Hide GPUs from TensorFlow in this process, so results do not depend on the machine.

    Must run before TensorFlow initialises its devices (before the first op);
    a later call is a no-op there (TensorFlow raises RuntimeError, ignored).
    """
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):  # devices already initialised, or no GPU support
        pass


def tf_tensor(a: np.ndarray, dtype: str) -> Any:
    """An eager ``tf.Tensor`` of ``dtype`` holding exactly the values of the float64/int64 array ``a``."""
    import tensorflow as tf

    if dtype == "bfloat16":
        # float32 holds every bfloat16 value exactly; the cast to bfloat16 is then exact too.
        return tf.cast(tf.constant(np.asarray(a, dtype=np.float32)), tf.bfloat16)
    return tf.constant(np.asarray(a, dtype=np.dtype(dtype)))


def tf_to_numpy(value: Any) -> np.ndarray:
    """A TensorFlow result as a NumPy array of the same dtype (no conversion).

    TensorFlow's ``.numpy()`` returns bfloat16 tensors as ml_dtypes bfloat16 arrays (TF 2.14+);
    TF 2.13 and older return a bfloat16 type of their own, which cannot be pickled back to the
    runner: it is reinterpreted as ml_dtypes bfloat16 (the same 16 bits, nothing rounded).
    """
    arr = np.asarray(value.numpy()) if hasattr(value, "numpy") and callable(value.numpy) else np.asarray(value)
    if arr.dtype.name == "bfloat16" and arr.dtype.type.__module__ == "builtins":
        import ml_dtypes

        arr = arr.view(np.uint16).view(ml_dtypes.bfloat16)
    return arr
