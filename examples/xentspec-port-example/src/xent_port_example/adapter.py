"""The xentspec adapter of the port: what it can run, how its errors map to the spec's, and one call per case.

xentspec finds it through the entry point ``example-port`` (pyproject.toml);
``xentspec run --adapter example-port`` runs the whole conformance suite on it.
"""

from __future__ import annotations

import numpy as np

from xentspec.adapters import Adapter, Capabilities, ErrorRule, Result

from . import __version__, losses


class ExamplePortAdapter(Adapter):
    """The port's functions and loss classes, float32 only, without label smoothing or ignore_class."""

    name = "example-port"
    wraps = "xent_port_example.losses"
    version = __version__
    profile = "keras3"
    capabilities = Capabilities(
        dtypes=frozenset({"float32"}),
        forms=frozenset({"function", "loss"}),
        params=frozenset({"from_logits", "sample_weight", "axis"}),
        reductions=frozenset({"sum_over_batch_size", "sum", "none"}),
    )
    error_rules = (
        ErrorRule("invalid_label", IndexError, "label out of range"),
        ErrorRule("invalid_shape", ValueError, "shape"),
        ErrorRule("invalid_argument", ValueError, "reduction"),
    )
    isolate = False  # pure NumPy: it raises, it does not crash

    def frameworks(self) -> dict[str, str]:
        """The versions the results depend on."""
        return {"xent-port-example": __version__, "numpy": np.__version__}

    def evaluate(self, case, profile):
        """Convert the case's exact inputs to float32 (labels stay integers) and call the port."""
        inputs = case.inputs
        y_pred = inputs.y_pred.astype(np.float32)
        y_true = inputs.y_true if case.sparse else inputs.y_true.astype(np.float32)
        params = case.params
        if case.form == "function":
            kwargs = {k: params[k] for k in ("from_logits", "axis") if k in params}
            return Result(value=losses.FUNCTIONS[case.loss](y_true, y_pred, **kwargs))
        reduction = params.get("reduction", "sum_over_batch_size") or "none"  # Keras reads None as "none"
        loss = losses.Loss(case.loss, from_logits=params.get("from_logits", False), reduction=reduction,
                           axis=params.get("axis", -1))
        sw = None if inputs.sample_weight is None else inputs.sample_weight.astype(np.float32)
        return Result(value=loss(y_true, y_pred, sample_weight=sw))
