"""Built-in adapter ``keras3-tensorflow``: real Keras 3 on the TensorFlow backend.

The design is :class:`~xentspec.adapters.keras3_adapter.Keras3Adapter`'s (one
backend per worker process, ``KERAS_BACKEND`` set in the worker right before
``import keras``, nothing imported when the adapter is constructed, results
never cast, versions from package metadata); this module adds only what is
TensorFlow's: eager ``tf.Tensor`` inputs of the case dtypes, TensorFlow's op
errors in the error table, and a CPU-only TensorFlow (GPUs hidden before the
first op, so results do not depend on the machine).

Unlike the jax and torch backends, Keras 3 on TensorFlow keeps 64-bit types
(``BIT64_TO_BIT32_DTYPE`` applies to the other backends only), so float64
cases run in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .keras3_adapter import Keras3Adapter
from .tf_common import TF_ERROR_RULES, cpu_only, dist_version, prepare_tensorflow, tf_distribution, tf_tensor, \
    tf_to_numpy

__all__ = ["Keras3TensorflowAdapter"]


class Keras3TensorflowAdapter(Keras3Adapter):
    """Keras 3 on the TensorFlow backend (profile ``keras3-tensorflow``), CPU only."""

    name = "keras3-tensorflow"
    backend = "tensorflow"
    profile = "keras3-tensorflow"
    timeout = 180.0  # the first case of a worker imports TensorFlow (5-10 s, more on a loaded machine)
    error_rules = TF_ERROR_RULES + Keras3Adapter.error_rules

    def backend_distribution(self) -> str:
        """The installed TensorFlow distribution (``tensorflow`` or ``tensorflow-cpu``)."""
        return tf_distribution()[0]

    def frameworks(self) -> dict[str, str]:
        """Versions of keras, TensorFlow, numpy and ml_dtypes, from package metadata."""
        dist, version = tf_distribution()
        return {"keras": dist_version("keras"), "keras-backend": self.backend, dist: version,
                "numpy": np.__version__, "ml_dtypes": dist_version("ml_dtypes")}

    def _configure_backend(self) -> None:
        """Quiet TensorFlow's C++ log and hide GPUs before Keras imports TensorFlow."""
        prepare_tensorflow()
        cpu_only()

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """An eager ``tf.Tensor`` of ``dtype`` (bfloat16 through an exact float32 cast)."""
        return tf_tensor(a, dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        """``.numpy()`` of a TensorFlow result (bfloat16 comes back as ml_dtypes bfloat16)."""
        return tf_to_numpy(value)
