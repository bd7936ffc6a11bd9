"""Built-in adapter ``tf-keras``: Keras 2 through the ``tf_keras`` package, on TensorFlow 2.

It calls the tf-keras public API (``tf_keras.losses.*`` functions and
classes, ``tf_keras.metrics.*Crossentropy``) exactly as a user of Keras 2
does, and is judged under the installed release's ``tf-keras`` profile
(``tf-keras@2.16`` for tf-keras 2.16.0). Where no ``tf_keras`` is installed
but a Keras 2 ``keras`` package is (TensorFlow 2.12-2.15 install keras 2.x
and expose it as ``tf.keras``), it calls that ``keras`` instead: the same
code base before the split into tf-keras. It shares the form logic of
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

import dataclasses
import importlib
import importlib.util
import sys
from typing import Any

import numpy as np

from .base import Capabilities
from .keras3_adapter import Keras3Adapter
from .tf_common import TF_ERROR_RULES, cpu_only, dist_version, prepare_tensorflow, tf_distribution, tf_tensor, \
    tf_to_numpy

__all__ = ["TfKerasAdapter", "keras2_module"]


def keras2_module() -> tuple[str, str]:
    """(module, distribution) of the Keras 2 installed here, read from package metadata.

    ``tf_keras`` when the tf-keras distribution is installed (or when no Keras 2
    is: the adapter then reports it missing); ``keras`` when the installed keras
    is a 2.x release (TensorFlow 2.12-2.15 depend on keras 2.x, the code base
    tf-keras was split from).
    """
    if dist_version("tf-keras") == "not installed" and dist_version("keras").startswith("2."):
        return "keras", "keras"
    return "tf_keras", "tf-keras"


class TfKerasAdapter(Keras3Adapter):
    """tf-keras 2 (``tf_keras``) on TensorFlow 2 (profile ``tf-keras``), CPU only."""

    name = "tf-keras"
    wraps = "tf-keras"
    backend = "tensorflow"
    profile = "tf-keras"
    install = 'pip install "xentspec[tf-keras]"'
    timeout = 180.0  # the first case of a worker imports TensorFlow and tf_keras
    error_rules = TF_ERROR_RULES + Keras3Adapter.error_rules

    def __init__(self) -> None:
        from xentspec.spec.profiles import profile_for_release

        self.module, self.distribution = keras2_module()
        # TF 2.13 and older bring no ml_dtypes: located once, nothing imported.
        self.has_ml_dtypes = importlib.util.find_spec("ml_dtypes") is not None
        self.version = dist_version(self.distribution)
        self.profile, self.profile_reason = profile_for_release(type(self).profile, self.distribution,
                                                                self.version)

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        """Modules this adapter needs: the Keras 2 module (``tf_keras``, or a Keras 2 ``keras``) and TensorFlow."""
        return (self.module, "tensorflow")

    def dtypes(self) -> frozenset[str]:
        """The four float dtypes; without ml_dtypes (keras 2.x on TF <= 2.13) no bfloat16 result can be judged."""
        return super().dtypes() if self.has_ml_dtypes else super().dtypes() - {"bfloat16"}

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """Keras 3's, with the reason bfloat16 is missing when it is."""
        caps = super().capabilities
        if self.has_ml_dtypes:
            return caps
        return dataclasses.replace(caps, notes={"dtype bfloat16": "ml_dtypes is not installed: TensorFlow 2.13 and "
                                                "older return a bfloat16 of their own; pip install ml-dtypes"})

    def frameworks(self) -> dict[str, str]:
        """Versions of Keras 2 (tf-keras, or keras 2.x), TensorFlow, numpy and ml_dtypes, from package metadata."""
        dist, version = tf_distribution()
        return {self.distribution: self.version, dist: version, "numpy": np.__version__,
                "ml_dtypes": dist_version("ml_dtypes")}

    def keras(self) -> Any:
        """The Keras 2 module (``tf_keras`` or ``keras`` 2.x), imported on first use (after hiding GPUs from TensorFlow)."""
        mod = sys.modules.get(self.module)
        if mod is None:
            prepare_tensorflow()
            cpu_only()
            mod = importlib.import_module(self.module)  # deliberately late: worker process only
        return mod

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """An eager ``tf.Tensor`` of ``dtype`` (bfloat16 through an exact float32 cast)."""
        return tf_tensor(a, dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        """``.numpy()`` of a TensorFlow result (bfloat16 comes back as ml_dtypes bfloat16)."""
        return tf_to_numpy(value)
