"""call_dtypes: the compute / output / accuracy dtypes of a call under each backend's dtype choices.

Measured on Keras 3.15.1 (issue 8): JAX without x64 computes float64 in float32;
the numpy backend demotes float64 in the dense losses and computes bfloat16 with
float32 clip bounds; torch keeps float64 but its means and divide_no_nan are
float32; the sparse function's float32 one_hot promotes half precision on jax
and numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

from xentspec.spec.case import Case, Inputs, Step
from xentspec.spec.dtypes import call_dtypes


def case(loss="categorical_crossentropy", form="function", dtype="float64", params=None, shape=(2, 3)):
    inp = Inputs(y_true=np.zeros(shape[:-1] if loss.startswith("sparse") else shape, dtype=np.int64
                                 if loss.startswith("sparse") else np.float64), y_pred=np.full(shape, 0.5))
    steps = (Step("update", inp), Step("result")) if form == "metric" else None
    return Case(id="t", loss=loss, form=form, dtype=dtype, params=params or {}, profiles=("keras3",),
                inputs=None if form == "metric" else inp, steps=steps)


@pytest.mark.parametrize("profile, want", [
    ("keras3", ("float64", "float64", None)),
    ("keras3-tensorflow", ("float64", "float64", None)),
    ("keras3-jax", ("float32", "float32", None)),
    ("keras3-numpy", ("float32", "float32", None)),
    ("keras3-torch", ("float64", "float64", None)),
])
def test_a_float64_categorical_function(profile, want):
    d = call_dtypes(case(), profile)
    assert (d.compute, d.output, d.elements) == want


def test_the_sparse_function_keeps_float64_on_numpy_but_not_half_precision():
    assert call_dtypes(case("sparse_categorical_crossentropy"), "keras3-numpy").output == "float64"
    half = case("sparse_categorical_crossentropy", dtype="float16")
    assert call_dtypes(half, "keras3-numpy").output == "float32"
    assert call_dtypes(half, "keras3-jax").output == "float32"
    assert call_dtypes(half, "keras3-torch").output == "float16"
    assert call_dtypes(half, "keras3-jax").elements == "float16"


def test_torch_means_of_float64_are_float32_accurate():
    d = call_dtypes(case("binary_crossentropy"), "keras3-torch")
    assert (d.compute, d.output, d.elements) == ("float64", "float64", "float32")
    assert call_dtypes(case("binary_crossentropy"), "keras3").elements is None


@pytest.mark.parametrize("reduction, demoted", [("sum_over_batch_size", True), ("mean", True), ("sum", False),
                                                ("none", False)])
def test_divide_no_nan_demotes_float64_reductions_on_torch_and_numpy(reduction, demoted):
    c = case(form="loss", params={"dtype": "float64", "reduction": reduction})
    for profile in ("keras3-torch", "keras3-numpy"):
        assert call_dtypes(c, profile).output == ("float32" if demoted else "float64")
    assert call_dtypes(c, "keras3-tensorflow").output == "float64"


def test_a_scalar_loss_is_not_divided():
    c = case(form="loss", params={"dtype": "float64"}, shape=(3,))  # per-element loss of shape ()
    assert call_dtypes(c, "keras3-torch").output == "float64"


def test_a_keras3_metric_computes_in_its_inputs_dtype_and_tf_keras_converts():
    m = case(form="metric", dtype="float16")
    assert (call_dtypes(m, "keras3").compute, call_dtypes(m, "keras3").output) == ("float16", "float32")
    assert call_dtypes(m, "keras3").elements == "float16"
    assert (call_dtypes(m, "tf-keras").compute, call_dtypes(m, "tf-keras").elements) == ("float32", None)
    assert call_dtypes(case(form="metric", params={"dtype": "float64"}), "keras3-torch").output == "float32"


def test_numpy_bfloat16_is_clipped_in_float32_with_bfloat16_accuracy():
    d = call_dtypes(case(form="loss", dtype="float32", params={"dtype": "bfloat16"}), "keras3-numpy")
    assert (d.inputs, d.compute, d.output, d.elements) == ("bfloat16", "float32", "bfloat16", None)
    f = call_dtypes(case(dtype="bfloat16"), "keras3-numpy")
    assert (f.compute, f.output, f.elements) == ("float32", "float32", "bfloat16")


@pytest.mark.parametrize("form", ["loss", "function"])
def test_tf1_loss_classes_reduce_float64_in_float32(form):
    # TF 1.x compute_weighted_loss casts the losses to float32 and back (weighted_loss_dtype): a
    # float64 loss class is float32-accurate, reduction none included; the function is not weighed.
    c = case(form=form, params={"reduction": "none"} if form == "loss" else {})
    got = call_dtypes(c, "tf1")
    assert got.output == "float64"
    assert got.elements == ("float32" if form == "loss" else None)
    assert call_dtypes(c, "tf-keras").elements is None
