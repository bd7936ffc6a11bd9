"""An example port of the Keras 3 cross-entropies to plain NumPy float32 (functions and loss classes).

``losses`` is "the library"; ``adapter`` is the small class that lets xentspec
run its conformance suite against it (registered as the ``example-port``
entry point in pyproject.toml).
"""

__version__ = "0.1.0"
