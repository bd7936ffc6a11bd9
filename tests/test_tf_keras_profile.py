"""The tf-keras profile choices found by running tf-keras 2.21.0 and Keras 3.15.1 on TensorFlow 2.21.0.

Each test pins one choice in the reference and in the NumPy kernel (which
implement it independently): ``loss_class_dtype``, ``reduction_null``,
``scce_class_axis``, ``rank_match``, ``scce_label_shape``,
``metric_inputs`` (its label part), ``bce_logits_form`` and ``bce_shapes``. The
expected numbers are what the bare framework calls returned (quoted in each
test) and what the exact arithmetic gives; Keras 3 profiles are checked
alongside to show that the choice is profile-specific.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from xentspec.adapters import numpy_kernel as nk
from xentspec.adapters.numpy_kernel import metrics as km
from xentspec.reference import truth
from xentspec.spec.case import Case, Inputs, Step
from xentspec.spec.loader import compute_dtype

F32 = np.float32


def _case(loss="sparse_categorical_crossentropy", form="loss", dtype="float32", params=None, y_true=(),
          y_pred=(), steps=None, cid="t/tf-keras"):
    sparse = loss == "sparse_categorical_crossentropy"
    inputs = None
    if steps is None and y_pred is not None:
        inputs = Inputs(y_true=np.asarray(y_true, dtype=np.int64 if sparse else np.float64),
                        y_pred=np.asarray(y_pred, dtype=np.float64))
    return Case(id=cid, loss=loss, form=form, dtype=dtype, params=params or {}, profiles=("keras3", "tf-keras"),
                inputs=inputs, steps=steps)


def T(case, profile):
    return truth(case, profile, cache=False)


DOC_T, DOC_P = [1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]


def test_loss_class_keeps_y_pred_dtype_under_tf_keras():
    """tf-keras SparseCategoricalCrossentropy()(float16 y_pred) is float16 1.177; float64 gives 1.1769392436907955."""
    p16 = np.asarray(DOC_P, dtype=np.float16).astype(np.float64)
    case16 = _case(dtype="float16", y_true=DOC_T, y_pred=p16)
    assert compute_dtype(case16, "tf-keras") == "float16" and compute_dtype(case16, "keras3") == "float32"
    assert T(case16, "tf-keras").dtype == "float16"
    assert float(T(case16, "tf-keras").value) == float(np.float16(1.177))
    case64 = _case(dtype="float64", y_true=DOC_T, y_pred=DOC_P)
    assert abs(float(T(case64, "tf-keras").value) - 1.1769392436907955) < 4e-16
    got = nk.SparseCategoricalCrossentropy(profile="tf-keras")(np.array(DOC_T), np.asarray(DOC_P, np.float16))
    assert got.dtype == np.float16 and float(got) == float(np.float16(1.177))
    got = nk.SparseCategoricalCrossentropy(profile="keras3")(np.array(DOC_T), np.asarray(DOC_P, np.float16))
    assert got.dtype == np.float32
    # Metrics convert to their dtype in both.
    m = _case(form="metric", dtype="float64", y_pred=None,
              steps=(Step("update", Inputs(np.array(DOC_T), np.asarray(DOC_P))), Step("result")))
    assert compute_dtype(m, "tf-keras") == "float32"


def test_reduction_none_is_rejected_by_tf_keras():
    """tf-keras: ValueError "Invalid Reduction Key: None"; Keras 3 reads None as "none"."""
    case = _case(params={"reduction": None}, y_true=DOC_T, y_pred=DOC_P)
    assert T(case, "tf-keras").error == "invalid_argument"
    assert T(case, "keras3").value.shape == (2,)
    with pytest.raises(ValueError, match="reduction"):
        nk.SparseCategoricalCrossentropy(reduction=None, profile="tf-keras")
    assert nk.SparseCategoricalCrossentropy(reduction=None, profile="keras3")(
        np.array(DOC_T), np.asarray(DOC_P, F32)).shape == (2,)


def test_sparse_loss_class_takes_no_axis_under_tf_keras():
    """tf-keras: TypeError "unexpected keyword argument 'axis'"; the function does take axis."""
    yt, yp = [[0, 1], [2, 0]], [[[0.6, 0.2], [0.3, 0.7], [0.1, 0.1]], [[0.1, 0.5], [0.1, 0.3], [0.8, 0.2]]]
    assert T(_case(params={"axis": 1}, y_true=yt, y_pred=yp), "tf-keras").error == "invalid_argument"
    cfg = _case(form="config", params={"axis": 0}, y_pred=None)
    assert T(cfg, "tf-keras").error == "invalid_argument"  # checked without inputs too
    assert T(cfg, "keras3").error is None
    fn = T(_case(form="function", params={"axis": 1}, y_true=yt, y_pred=yp), "tf-keras")
    # tf_keras.losses.sparse_categorical_crossentropy(..., axis=1) gave [[0.5108256, 0.35667497], [0.22314355, 0.6931471]]
    assert np.allclose(fn.value, [[0.5108256, 0.35667497], [0.22314355, 0.6931471]], rtol=1e-6)
    with pytest.raises(ValueError, match="^axis"):
        nk.SparseCategoricalCrossentropy(axis=1, profile="tf-keras")
    assert "axis" not in nk.SparseCategoricalCrossentropy(profile="tf-keras").get_config()


def test_rank_matching_squeezes_under_tf_keras():
    """BCE labels (3,) against predictions (3, 1) with reduction sum: tf-keras 0.2797764 (the mean), Keras 3 the sum."""
    case = _case(loss="binary_crossentropy", params={"reduction": "sum"}, y_true=[1, 0, 1],
                 y_pred=[[0.9], [0.2], [0.6]])
    tfk, k3 = T(case, "tf-keras"), T(case, "keras3")
    assert float(tfk.value) == float(F32(0.2797764241695404))
    assert abs(float(k3.value) - 3 * 0.27977642) < 1e-6
    none = T(_case(loss="binary_crossentropy", params={"reduction": "none"}, y_true=[1, 0, 1],
                   y_pred=[[0.9], [0.2], [0.6]]), "tf-keras")
    assert none.value.shape == ()
    got = nk.BinaryCrossentropy(reduction="sum", profile="tf-keras")(np.array([1.0, 0, 1]),
                                                                      np.array([[0.9], [0.2], [0.6]], F32))
    assert float(got) == float(tfk.value)


def test_one_class_sparse_loss_under_tf_keras():
    """One class: the tf-keras loss class squeezes y_pred (N, 1) to (N,), then reshapes it to one row of N classes.

    tf-keras 2.21.0: batch 2 raises "labels.shape must equal logits.shape except for the last dimension";
    batch 1 gives [0.]; the function gives zeros; the metric raises for batch 2.
    """
    two = _case(params={"from_logits": True}, y_true=[0, 0], y_pred=[[3.5], [-2.0]])
    assert T(two, "tf-keras").error == "invalid_shape" and float(T(two, "keras3").value) == 0.0
    one = _case(params={"from_logits": True, "reduction": "none"}, y_true=[0], y_pred=[[3.5]])
    t = T(one, "tf-keras")
    assert t.error is None and t.value.shape == (1,) and float(t.value[0]) == 0.0
    fn = T(_case(form="function", params={"from_logits": True}, y_true=[0, 0], y_pred=[[3.5], [-2.0]]), "tf-keras")
    assert list(fn.value) == [0.0, 0.0]
    metric = _case(form="metric", y_pred=None, steps=(
        Step("update", Inputs(np.array([0, 0]), np.array([[0.25], [0.75]]))), Step("result")))
    assert T(metric, "tf-keras").error == "invalid_shape" and T(metric, "keras3").error is None
    with pytest.raises(ValueError, match="incompatible"):
        nk.SparseCategoricalCrossentropy(from_logits=True, profile="tf-keras")(np.array([0, 0]),
                                                                               np.array([[3.5], [-2.0]], F32))
    m = km.SparseCategoricalCrossentropy(profile="tf-keras")
    with pytest.raises(ValueError, match="incompatible"):
        m.update_state(np.array([0, 0]), np.array([[0.25], [0.75]], F32))


def test_metric_casts_labels_to_its_dtype_under_tf_keras():
    """A bfloat16 tf-keras metric turns label 257 into 256 (tf-keras 2.21.0 gave 6.0, the loss of class 256)."""
    rng = np.random.Generator(np.random.PCG64(11))
    yp = rng.uniform(0.5, 1.5, size=(1, 300)).astype(F32).astype(np.float64)
    steps = (Step("update", Inputs(np.array([257]), yp)), Step("result"))
    case = _case(form="metric", params={"dtype": "bfloat16"}, y_pred=None, steps=steps)
    as_256 = _case(form="metric", params={"dtype": "bfloat16"}, y_pred=None,
                   steps=(Step("update", Inputs(np.array([256]), yp)), Step("result")))
    assert float(T(case, "tf-keras").value[0]) == float(T(as_256, "tf-keras").value[0])
    assert float(T(case, "keras3").value[0]) != float(T(as_256, "keras3").value[0])
    m = km.SparseCategoricalCrossentropy(dtype="bfloat16", profile="tf-keras")
    m.update_state(np.array([257]), yp.astype(F32))
    assert float(m.result()) == float(T(as_256, "tf-keras").value[0])


def test_plus_inf_logit_is_nan_under_tf():
    """tf.nn.sigmoid_cross_entropy_with_logits(labels=0 or 0.5, logits=inf) is NaN (relu(x) - x t = inf - inf t)."""
    case = _case(loss="binary_crossentropy", params={"from_logits": True, "reduction": "none"},
                 y_true=[[0.0], [0.5]], y_pred=[[math.inf], [math.inf]])
    for profile in ("keras3-tensorflow", "tf-keras", "tf1"):
        assert np.isnan(T(case, profile).value).all(), profile
    assert np.isinf(T(case, "keras3").value).all()
    got = nk.binary_crossentropy(np.array([[0.0], [0.5]]), np.array([[np.inf], [np.inf]], F32),
                                 from_logits=True, profile="keras3-tensorflow")
    assert np.isnan(got).all()
    minus = nk.binary_crossentropy(np.array([[1.0]]), np.array([[-np.inf]], F32), from_logits=True,
                                   profile="tf-keras")
    assert float(minus[0]) == math.inf  # tf-keras 2.21.0: [inf]


def test_bce_shapes_broadcast_under_tf_keras():
    """tf-keras BinaryCrossentropy()(labels (3, 1), predictions (3, 3)) broadcasts: 1.2653824; Keras 3 raises."""
    case = _case(loss="binary_crossentropy", y_true=[[0], [1], [1]],
                 y_pred=[[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]])
    assert float(T(case, "tf-keras").value) == float(F32(1.2653824090957642))
    assert T(case, "keras3").error == "invalid_shape"
    got = nk.BinaryCrossentropy(profile="tf-keras")(np.array([[0.0], [1], [1]]),
                                                    np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6],
                                                              [0.05, 0.01, 0.94]], F32))
    assert abs(float(got) - 1.2653824) < 1e-6
