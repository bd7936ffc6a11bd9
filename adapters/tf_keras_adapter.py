"""Built-in adapter ``tf-keras``: Keras 2 through the ``tf_keras`` package, on TensorFlow 2.

It calls the tf-keras public API (``tf_keras.losses.*`` functions and
classes, ``tf_keras.metrics.*Crossentropy``) exactly as a user of Keras 2
does, and is judged under profile ``tf-keras``. It shares the form logic of
:class:`~xentspec.adapters.keras3_adapter.Keras3Adapter` (the module it
calls is ``tf_keras`` instead of ``keras``) and the TensorFlow tensors of
:mod:`.tf_common`. Like the Keras 3 adapters it runs isolated, imports
nothing when constructed (TensorFlow is imported on the worker's first case),
reads versions from package metadata and never casts a result.

Parameters are passed as the case gives them, including ``reduction=None``
(which tf-keras rejects: ``ReductionV2.validate`` raises "Invalid Reduction
Key: None"), because the spec's question is what the API does with them.
Config cases go through :func:`~xentspec.adapters.base.config_round_trip`, which
hands ``from_config`` a copy: tf-keras pops ``fn`` out of the dict it is given
(``LossFunctionWrapper.from_config``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .keras3_adapter import Keras3Adapter
from .tf_common import TF_ERROR_RULES, cpu_only, dist_version, prepare_tensorflow, tf_distribution, tf_tensor, \
    tf_to_numpy

__all__ = ["TfKerasAdapter"]


class TfKerasAdapter(Keras3Adapter):
    """tf-keras 2 (``tf_keras``) on TensorFlow 2 (profile ``tf-keras``), CPU only."""

    name = "tf-keras"
    wraps = "tf-keras"
    backend = "tensorflow"
    profile = "tf-keras"
    requires = ("tf_keras", "tensorflow")
    install = 'pip install "xentspec[tf-keras]"'
    timeout = 180.0  # the first case of a worker imports TensorFlow and tf_keras
    error_rules = TF_ERROR_RULES + Keras3Adapter.error_rules

    def __init__(self) -> None:
        from xentspec.spec.profiles import profile_for_release

        self.version = dist_version("tf-keras")
        self.profile, self.profile_reason = profile_for_release(type(self).profile, "tf-keras", self.version)

    def frameworks(self) -> dict[str, str]:
        """Versions of tf-keras, TensorFlow, numpy and ml_dtypes, from package metadata."""
        dist, version = tf_distribution()
        return {"tf-keras": dist_version("tf-keras"), dist: version, "numpy": np.__version__,
                "ml_dtypes": dist_version("ml_dtypes")}

    def keras(self) -> Any:
        """The ``tf_keras`` module, imported on first use (after hiding GPUs from TensorFlow)."""
        mod = sys.modules.get("tf_keras")
        if mod is None:
            prepare_tensorflow()
            cpu_only()
            import tf_keras as mod  # noqa: PLC0415 - deliberately late: worker process only
        return mod

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """An eager ``tf.Tensor`` of ``dtype`` (bfloat16 through an exact float32 cast)."""
        return tf_tensor(a, dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        """``.numpy()`` of a TensorFlow result (bfloat16 comes back as ml_dtypes bfloat16)."""
        return tf_to_numpy(value)
