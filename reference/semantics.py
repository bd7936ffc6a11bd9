"""The Keras loss functions under a profile, each semantic choice implemented once and picked by profile.

:func:`loss_function` is the Keras loss *function* (``keras.losses.
sparse_categorical_crossentropy`` etc.): it maps exact inputs to an array of
exact per-element values (:class:`~xentspec.reference.values.Elem`) and, for
the sparse loss with ``ignore_class``, the validity mask. The loss classes and
metrics (:mod:`.reductions`, :mod:`.metric`) build on it.

The work is split by job: :mod:`.terms` holds the exact per-element terms,
:mod:`.sparse` the sparse loss (labels, shapes, masks), :mod:`.dense` the
categorical and binary losses, :mod:`.errors` the error a profile raises. This
module checks the arguments and dispatches; it re-exports the names its callers
have always imported from here.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from xentspec.spec.profiles import Profile

from .dense import binary_loss, categorical_loss
from .errors import RefError
from .sparse import LabelPolicy, sparse_loss
from .terms import Bounds, clip_bounds

__all__ = ["RefError", "Bounds", "clip_bounds", "loss_function", "check_arguments", "LabelPolicy"]


# --------------------------------------------------------------------------- arguments

def check_arguments(case: Any, profile: Profile, form: str) -> None:
    """Raise RefError(invalid_argument) for parameters the profile does not accept."""
    params: Mapping[str, Any] = case.params
    if case.sparse and "label_smoothing" in params:
        raise RefError("invalid_argument", "sparse categorical crossentropy takes no label_smoothing")
    if case.sparse and params.get("ignore_class") is not None:
        allowed = profile.metric_ignore_class if form == "metric" else profile.ignore_class
        if not allowed:
            raise RefError("invalid_argument", f"profile {profile.name} has no ignore_class here")
    if case.sparse and form == "loss" and "axis" in params and not profile.scce_class_axis:
        raise RefError("invalid_argument", f"profile {profile.name}: the SparseCategoricalCrossentropy "
                                           "loss class takes no axis")
    if not case.sparse and "axis" in params and not profile.dense_axis_argument \
            and not (case.loss == "binary_crossentropy" and form == "metric"):
        # dense_axis_argument: false (TF 1.14): no axis on the dense functions, classes, CCE metric.
        raise RefError("invalid_argument", f"profile {profile.name}: the {case.loss} {form} takes no axis")
    if form == "loss" and params.get("dtype") is not None and not profile.loss_dtype_argument:
        # loss_dtype_argument: false (Keras 3.0-3.3): the constructor has no `dtype` (a TypeError).
        raise RefError("invalid_argument", f"profile {profile.name}: the loss classes take no dtype")
    if case.loss == "binary_crossentropy" and form == "metric" and "axis" in params:
        pass  # the BCE metric has no axis argument in Keras 3; the spec decides via expect
    ls = params.get("label_smoothing")
    if ls is not None and not case.sparse and not (0 <= float(ls) <= 1):
        raise RefError("invalid_argument", f"label_smoothing {ls} outside [0, 1]")


# --------------------------------------------------------------------------- the loss functions

def loss_function(case: Any, inputs: Any, profile: Profile, dtype: str, *, cast_labels: bool,
                  label_dtype: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-element exact losses of the Keras loss function, and the ignore mask (or None).

    ``dtype`` is the compute dtype (clip bounds, smoothing); ``cast_labels``
    says whether sparse labels are first rounded to ``label_dtype`` (default
    ``dtype``); the caller decides by profile: ``label_cast`` for the Loss class,
    ``metric_inputs`` for metrics.
    """
    bounds = clip_bounds(dtype, profile)
    params = case.params
    y_true, y_pred = inputs.y_true, inputs.y_pred
    from_logits = bool(params.get("from_logits", False))
    axis = params.get("axis", -1)
    if case.sparse:
        return sparse_loss(y_true, y_pred, axis, from_logits, params.get("ignore_class"), profile, bounds,
                       cast_labels, label_dtype or dtype)
    if case.loss == "categorical_crossentropy":
        return categorical_loss(y_true, y_pred, axis, from_logits, params.get("label_smoothing"), profile,
                            bounds), None
    return binary_loss(y_true, y_pred, axis, from_logits, params.get("label_smoothing"), profile, bounds), None
