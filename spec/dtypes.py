"""Which dtypes a call computes and returns in, under a profile's dtype choices.

Keras 3 follows JAX's default on its non-TensorFlow backends: 64-bit result
types become 32-bit (``backend/common/dtypes.py``, ``BIT64_TO_BIT32_DTYPE``),
and where that rule applies differs by backend and by op. A call therefore has
three dtypes, which the reference, the verdict and the budget read from here:

* ``inputs``: the dtype the y_true / y_pred tensors have (a class converts
  them to its dtype; a sparse label is rounded to it before truncation);
* ``compute``: the dtype whose semantics apply (the clip bounds and the
  smoothing factor are its values; inputs are rounded to it where it is
  narrower, as a float64 demoted to float32);
* ``output``: the dtype of the result;
* ``elements``: the dtype the per-element losses are *accurate* to when that is
  not ``output`` (a float16 metric input computed in float16 and returned in
  float32; a float64 mean computed in float32 and cast back), for the budget.

The profile choices that decide them (``spec/profiles.yaml`` explains each):
``loss_dtype``, ``loss_class_dtype``, ``metric_inputs``, ``float64_tensors``, ``float64_dense``,
``bfloat16_compute``, ``sparse_half_result``, ``mean_float64``,
``divide_no_nan_float64``, ``sparse_where_float64`` and ``weighted_loss_dtype``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .profiles import Profile, get_profile

__all__ = ["CallDtypes", "call_dtypes"]

# Reductions that end in divide_no_nan (reduce_values): their float64 result can be demoted.
_DIVIDING = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "auto")


@dataclass(frozen=True)
class CallDtypes:
    """The compute, output and element-accuracy dtypes of one call (see the module docstring)."""

    compute: str
    output: str
    elements: str | None = None
    weights: str | None = None  # the dtype sample weights are converted to (classes and metrics)
    inputs: str | None = None  # the dtype y_true / y_pred tensors have (default: compute)


def _tensor(dtype: str, prof: Profile) -> str:
    """The dtype a tensor of ``dtype`` gets on this backend (JAX without x64 has no float64)."""
    return "float32" if dtype == "float64" and prof.float64_tensors == "float32" else dtype


def _is_metric(case: Any) -> bool:
    return case.form == "metric" or (case.form == "config" and case.config_of == "metric")


def _first_pred_shape(case: Any) -> tuple[int, ...] | None:
    if case.inputs is not None:
        return tuple(case.inputs.y_pred.shape)
    for s in case.steps or ():
        if s.inputs is not None:
            return tuple(s.inputs.y_pred.shape)
    return None


def _reduction_divides(case: Any, prof: Profile) -> bool:
    """Whether a loss-class call ends in divide_no_nan (a mean-like reduction of a non-passthrough shape)."""
    red = case.params.get("reduction", prof.default_reduction)
    if red is None or red not in _DIVIDING:
        return False
    shape = _first_pred_shape(case)
    if shape is None or not shape:
        return True
    axis = case.params.get("axis", -1)
    try:
        k = shape[axis]
    except IndexError:
        return True
    rank, size = len(shape) - 1, math.prod(shape)
    # reduce_values returns a loss of shape () or (0,) unreduced (empty_rank1_passthrough).
    if prof.empty_rank1_passthrough and (rank == 0 or (rank == 1 and (size == 0 or k == 0))):
        return False
    return True


def call_dtypes(case: Any, profile: str | Profile | None) -> CallDtypes:
    """The dtypes of ``case``'s call under ``profile`` (None: the default keras3 choices, float32 classes)."""
    prof = get_profile(profile or "keras3") if not isinstance(profile, Profile) else profile
    metric = _is_metric(case)
    cls_dtype = case.params.get("dtype") or prof.loss_dtype
    if not case.params.get("dtype") and not metric and case.form != "function" \
            and prof.loss_class_dtype == "y_pred":
        cls_dtype = case.dtype  # tf-keras: a Loss class computes in y_pred's dtype
    cls_dtype = _tensor(cls_dtype, prof)
    if case.form == "function":
        src = case.dtype
    elif metric and prof.metric_inputs == "as_given":
        src = case.dtype  # the metric calls the loss function on its inputs as given
    else:
        src = cls_dtype  # Loss.__call__ (and tf-keras metrics) convert the inputs first
    compute = inputs = _tensor(src, prof)
    if compute == "float64" and not case.sparse and prof.float64_dense == "float32":
        compute = "float32"  # the dense functions' convert_to_tensor(y_pred) demotes 64-bit
    if compute == "bfloat16" and prof.bfloat16_compute == "float32":
        compute = "float32"
    if case.form == "function":
        output, weights = compute, None
        if case.sparse and compute in ("float16", "bfloat16") and prof.sparse_half_result == "float32":
            output = "float32"  # -sum(one_hot * log_prob) with a float32 one_hot promotes
    else:
        output, weights = cls_dtype, cls_dtype
        if output == "float64" and prof.divide_no_nan_float64 == "float32" \
                and (metric or _reduction_divides(case, prof)):
            output = "float32"  # divide_no_nan(float64, float64) takes result_type(..., float) = float32
    elements = compute
    if compute == "float64" and case.sparse and case.params.get("ignore_class") is not None \
            and prof.sparse_where_float64 == "float32":
        elements = "float32"  # where(valid, res, 0.0): result_type(float64, float) = float32 (numpy)
        if case.form == "function":
            output = "float32"
    if inputs == "bfloat16" and compute == "float32":
        elements = "bfloat16"  # the ops before the clip still round to bfloat16 (ml_dtypes arithmetic)
    shape = _first_pred_shape(case) or ()
    mean_in_loss = case.loss == "binary_crossentropy" or (metric and len(shape) > 2)
    if compute == "float64" and prof.mean_float64 == "float32" and mean_in_loss:
        elements = "float32"  # ops.mean of 64-bit values computes in float32 and casts back
    if compute == "float64" and prof.weighted_loss_dtype == "float32" and not metric and case.form != "function":
        elements = "float32"  # TF 1.x compute_weighted_loss: to_float(losses), reduced, cast back
    return CallDtypes(compute, output, elements if elements != output else None, weights, inputs)
