"""Built-in ports: the Keras 3 cross-entropies written on other frameworks' own primitives.

Adapters ``torch``, ``jax``, ``onnxruntime`` and ``mlx`` (``xentspec run --adapter torch``).
Each port is the Keras 3 glue of :mod:`.keras_semantics` (label handling, masks,
weights, reductions, metrics, configs) over one framework's arithmetic, with the
framework's cross-entropy primitive as its kernel; a difference from the
reference is a finding about that primitive or about porting Keras to it, and
each known one is an entry of ``adapters/expectations/<name>.yaml``. See
adapters/README.md ("Built-in ports") and docs/ports.md.
"""

PORTS = ("torch", "jax", "onnxruntime", "mlx")

__all__ = ["PORTS"]
