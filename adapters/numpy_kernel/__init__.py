"""NumPy float32 kernel: the suite's embedded default implementation of the Keras cross-entropies.

Public API (import from here):

* functions ``sparse_categorical_crossentropy``, ``categorical_crossentropy``,
  ``binary_crossentropy`` (Keras 3 signatures plus keyword-only ``profile``);
* Loss classes ``SparseCategoricalCrossentropy``, ``CategoricalCrossentropy``,
  ``BinaryCrossentropy`` (Keras 3 constructor arguments plus ``profile``);
* the metric classes of the same names in ``xentspec.adapters.numpy_kernel.metrics``;
* ``set_num_threads`` / ``get_num_threads`` for the block thread pool.

See docs/numpy-kernel.md for which step runs in which precision.
"""

from .blocks import get_num_threads, set_num_threads
from . import metrics
from .functions import binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy
from .losses import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy

__all__ = [
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "BinaryCrossentropy",
    "metrics",
    "set_num_threads",
    "get_num_threads",
]
