"""Behaviour of the NumPy kernel: shapes, dtypes, errors, reductions, profiles, configs, metrics.

Expected numbers are Keras' documented values (keras-semantics.md section 7)
or algebraic relations between kernel outputs, never a float64 re-derivation.
"""

from __future__ import annotations

import numpy as np
import pytest

from xentspec.adapters import numpy_kernel as nk
from xentspec.adapters.numpy_kernel import metrics as km
from xentspec.adapters.numpy_kernel.precision import round_to_bfloat16

P3 = np.float32([[.9, .05, .05], [.5, .89, .6], [.05, .01, .94]])
Q2 = np.float32([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
LOGITS = np.float32([[8, 1, 1], [0, 9, 1], [2, 3, 5]])


def close(a, b, rel=2e-7):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), b, rtol=rel, atol=0)


# ---- documented values -------------------------------------------------------------------

def test_documented_keras3_values():
    close(nk.SparseCategoricalCrossentropy()([0, 1, 2], P3), 0.32396812)
    close(nk.CategoricalCrossentropy()(np.eye(3), P3), 0.32396812)
    close(nk.SparseCategoricalCrossentropy()([0, 1, 2], P3, sample_weight=[[1.2], [3.4], [5.6]]), 1.06960254)
    close(nk.SparseCategoricalCrossentropy(from_logits=True)([0, 1, 2], LOGITS, sample_weight=[[1], [2], [3]][:3]),
          nk.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(
              [0, 1, 2], LOGITS, sample_weight=[[1], [2], [3]]) / 3)
    close(nk.CategoricalCrossentropy()(np.eye(3)[[1, 2]], Q2, sample_weight=[0.3, 0.7]), 0.81359878)
    bce = nk.BinaryCrossentropy(from_logits=True)
    y, x = [[0, 1], [0, 0]], np.float32([[-18.6, 0.51], [2.94, -12.8]])
    close(bce(y, x), 0.86545795)
    close(bce(y, x, sample_weight=[0.8, 0.2]), 0.24363859)
    close(nk.BinaryCrossentropy(from_logits=True, reduction=None)(y, x), [0.23515666, 1.49575924])
    close(nk.BinaryCrossentropy()([[1, 0], [1, 0]], np.float32([[1, 1], [1, 0]])), 23 * np.log(2) / 4)
    close(nk.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        [[1, 0, 0]], np.float32([[100, -100, -100]])), 40 / 3)


def test_profiles_change_the_documented_numbers():
    close(nk.sparse_categorical_crossentropy([0], np.float32([[5, 0.5]])), 0.09531018)
    close(nk.sparse_categorical_crossentropy([0], np.float32([[5, 0.5]]), profile="keras3-tensorflow"), 0.40546514)
    close(nk.binary_crossentropy([0., 0., 1., 1.], np.float32([1, 1, 1, 0]), profile="tf-keras"), 11.522857)
    close(nk.binary_crossentropy([[0.]], np.float32([[100.]]), from_logits=True), 100.0)
    close(nk.binary_crossentropy([[0.]], np.float32([[100.]]), from_logits=True, profile="keras3-numpy"),
          23 * np.log(2))


# ---- functions: shapes, dtypes, invariances ----------------------------------------------

def test_function_shapes_and_dtypes():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    assert nk.sparse_categorical_crossentropy(np.zeros((2, 3)), x, from_logits=True).shape == (2, 3)
    assert nk.sparse_categorical_crossentropy(np.zeros((2, 3, 1)), x, from_logits=True).shape == (2, 3)
    assert nk.categorical_crossentropy(np.ones_like(x) / 4, x, from_logits=True).shape == (2, 3)
    assert nk.binary_crossentropy(np.zeros_like(x), x, from_logits=True).shape == (2, 3)
    assert nk.binary_crossentropy(np.zeros(4), x[0, 0], from_logits=True).shape == ()
    assert nk.sparse_categorical_crossentropy([1], x[0, :1], from_logits=True).dtype == np.float32
    assert nk.sparse_categorical_crossentropy([1], x[0, :1].astype(np.float16), from_logits=True).dtype == np.float16
    assert nk.sparse_categorical_crossentropy([1], x[0, :1].astype(np.float64), from_logits=True).dtype == np.float64


def test_axis_argument_moves_the_class_axis():
    x = np.random.default_rng(1).standard_normal((3, 5, 2)).astype(np.float32)
    y = np.array([[0, 2], [4, 1], [3, 3]])
    a = nk.sparse_categorical_crossentropy(y, x, from_logits=True, axis=1)
    b = nk.sparse_categorical_crossentropy(y, np.moveaxis(x, 1, -1), from_logits=True)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="axis"):
        nk.sparse_categorical_crossentropy(y, x, from_logits=True, axis=1, profile="keras3-jax")
    t = np.eye(5, dtype=np.float32)[y]
    np.testing.assert_array_equal(nk.categorical_crossentropy(np.moveaxis(t, -1, 1), x, from_logits=True, axis=1),
                                  nk.categorical_crossentropy(t, np.moveaxis(x, 1, -1), from_logits=True))


def test_logit_shift_invariance_and_sparse_dense_agreement():
    rng = np.random.default_rng(2)
    # Logits on a 2**-10 grid so that adding 64 (or 200) is exact in float32.
    x = (np.round(rng.standard_normal((50, 7)) * 1024) / 1024).astype(np.float32)
    y = rng.integers(0, 7, 50)
    a = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    b = nk.sparse_categorical_crossentropy(y, x + np.float32(64), from_logits=True)  # exact shift
    np.testing.assert_allclose(a, b, rtol=3e-7)
    np.testing.assert_allclose(a, nk.sparse_categorical_crossentropy(y, x - np.float32(200), from_logits=True),
                               rtol=3e-7)
    c = nk.categorical_crossentropy(np.eye(7, dtype=np.float32)[y], x, from_logits=True)
    np.testing.assert_allclose(a, c, rtol=3e-7)
    p = rng.random((50, 7)).astype(np.float32)
    np.testing.assert_allclose(nk.sparse_categorical_crossentropy(y, p),
                               nk.categorical_crossentropy(np.eye(7)[y], p), rtol=3e-7)


def test_large_batch_uses_blocks_and_threads_consistently():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 100)).astype(np.float32)
    y = rng.integers(0, 100, 3000)
    whole = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    parts = np.concatenate([nk.sparse_categorical_crossentropy(y[i:i + 7], x[i:i + 7], from_logits=True)
                            for i in range(0, 3000, 7)])
    np.testing.assert_array_equal(whole, parts)


# ---- NaN / inf ---------------------------------------------------------------------------

def test_nan_and_inf_propagate():
    x = np.float32([[0, 1, np.nan], [0, -np.inf, 1], [0, np.inf, 1], [-np.inf, 0, 1]])
    out = nk.sparse_categorical_crossentropy([0, 0, 0, 0], x, from_logits=True)
    assert np.isnan(out[0]) and np.isfinite(out[1]) and np.isnan(out[2]) and out[3] == np.inf
    p = np.float32([[0.5, np.nan, 0.5], [0, 0, 0]])
    assert np.all(np.isnan(nk.sparse_categorical_crossentropy([0, 0], p)))
    assert np.isnan(nk.binary_crossentropy([[1.0]], np.float32([[np.nan]])))
    assert nk.binary_crossentropy([[0.0]], np.float16([[1.0]]))[0] == np.inf  # float16: 1 - eps == 1


# ---- errors ------------------------------------------------------------------------------

def test_out_of_range_labels_per_profile():
    with pytest.raises(ValueError, match=r"label 3 at position \(1,\)"):
        nk.sparse_categorical_crossentropy([0, 3], P3[:2])
    with pytest.raises(ValueError, match=r"label -1 at position \(0, 1\)"):
        nk.sparse_categorical_crossentropy([[0, -1]], P3[None, :2], profile="tf-keras")
    np.testing.assert_array_equal(nk.sparse_categorical_crossentropy([-1, 3], P3[:2], profile="keras3-jax"), [0, 0])
    assert nk.sparse_categorical_crossentropy([-1], P3[:1], profile="keras3-numpy")[0] == 0
    with pytest.raises(ValueError, match="label 3"):
        nk.sparse_categorical_crossentropy([3], P3[:1], profile="keras3-numpy")
    assert nk.sparse_categorical_crossentropy([-100], P3[:1], profile="keras3-torch")[0] == 0
    with pytest.raises(ValueError, match="label -1"):
        nk.sparse_categorical_crossentropy([-1], P3[:1], profile="keras3-torch")
    close(nk.sparse_categorical_crossentropy([1.7], P3[1:2]), -np.log(0.89 / 1.99), rel=1e-6)  # truncation


def test_shape_reduction_and_axis_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)|\(3, 3\).*\(2, 3\)"):
        nk.categorical_crossentropy(np.zeros((2, 3)), P3)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 3\)"):
        nk.sparse_categorical_crossentropy([0, 1], P3)
    with pytest.raises(ValueError, match="reduction"):
        nk.SparseCategoricalCrossentropy(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nk.SparseCategoricalCrossentropy(reduction="auto")  # not a Keras 3 reduction
    nk.SparseCategoricalCrossentropy(reduction="auto", profile="tf-keras")
    with pytest.raises(ValueError, match="axis"):
        nk.sparse_categorical_crossentropy([0, 1, 2], P3, axis=2)
    with pytest.raises(ValueError, match="axis"):
        nk.categorical_crossentropy(np.eye(3), P3, axis=True)
    with pytest.raises(ValueError, match="ignore_class"):
        nk.SparseCategoricalCrossentropy(ignore_class=0, profile="tf1")
    with pytest.raises(ValueError, match="profile"):
        nk.sparse_categorical_crossentropy([0], P3[:1], profile="keras9")


# ---- reductions --------------------------------------------------------------------------

def test_reduction_algebra():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    w = rng.random(6).astype(np.float32)
    per = nk.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(y, x, sample_weight=w)
    s = nk.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(y, x, sample_weight=w)
    m = nk.SparseCategoricalCrossentropy(from_logits=True)(y, x, sample_weight=w)
    mean = nk.SparseCategoricalCrossentropy(from_logits=True, reduction="mean")(y, x, sample_weight=w)
    mw = nk.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")(y, x, sample_weight=w)
    close(s, per.astype(np.float64).sum(), rel=1e-6)
    close(m, float(s) / 6, rel=1e-6)
    assert m == mean
    close(mw, float(s) / w.astype(np.float64).sum(), rel=1e-6)
    assert s.dtype == np.float32 and s.shape == ()


def test_ignore_class_masks_the_mean_and_all_ignored_batches():
    loss = nk.SparseCategoricalCrossentropy(ignore_class=0)
    p = np.float32([[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    close(loss([0, 1, 2], p), 1.17693919, rel=1e-6)
    assert loss([0, 0], p[:2]) == 0
    assert np.isnan(nk.SparseCategoricalCrossentropy(ignore_class=0, profile="tf-keras")([0, 0], p[:2]))
    close(nk.SparseCategoricalCrossentropy(ignore_class=0, reduction="sum")([0, 1, 2], p), 2 * 1.17693919, rel=1e-6)
    none = nk.SparseCategoricalCrossentropy(ignore_class=-1, from_logits=True, reduction=None)(
        [[-1, 2]], np.float32([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]]))
    close(none, [[0.0, 1.480129]], rel=1e-6)


def test_passthrough_and_weight_rank_rules():
    empty = nk.SparseCategoricalCrossentropy()(np.zeros(0), np.zeros((0, 3), np.float32))
    assert empty.shape == (0,)
    assert nk.SparseCategoricalCrossentropy(profile="tf-keras")(np.zeros(0), np.zeros((0, 3), np.float32)) == 0
    y = np.array([[0, 1], [2, 0]])
    p = np.float32([[[.7, .2, .1], [.2, .7, .1]], [[.1, .1, .8], [.3, .3, .4]]])
    per = nk.SparseCategoricalCrossentropy(reduction=None)(y, p).astype(np.float64)
    # Keras 3 does not expand (B,) weights: they weight the trailing (time) axis.
    close(nk.SparseCategoricalCrossentropy()(y, p, sample_weight=[1, 0]), (per[0, 0] + per[1, 0]) / 4, rel=1e-6)
    # tf-keras expands (B,) to (B, 1): they weight samples.
    close(nk.SparseCategoricalCrossentropy(profile="tf-keras")(y, p, sample_weight=[1, 0]),
          (per[0, 0] + per[0, 1]) / 4, rel=1e-6)


def test_loss_dtype_rules():
    x = np.float16([[1, 2, 3]])
    assert nk.SparseCategoricalCrossentropy(from_logits=True)([0], x).dtype == np.float32
    assert nk.SparseCategoricalCrossentropy(from_logits=True, dtype="float16")([0], x).dtype == np.float16
    assert nk.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")([0], x).dtype == np.float64
    # bfloat16 labels: 257 rounds to 256 before truncation (label_cast: loss_dtype).
    p = np.zeros((1, 300), np.float32)
    p[0, 256] = 1
    p[0, 257] = 1
    out = nk.SparseCategoricalCrossentropy(dtype="bfloat16")([257], p)
    assert float(out) == float(round_to_bfloat16(np.float32([np.log(2)]))[0])


def test_bfloat16_rounding_is_nearest_even():
    vals = np.float32([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -(1 + 2**-8), 3.4e38, np.nan])
    got = round_to_bfloat16(vals)
    assert got[0] == 1.0 and got[1] == 1 + 4 * 2**-8 and got[2] == 1 + 2**-7 and got[3] == -1.0
    assert got[4] == np.inf and np.isnan(got[5])


# ---- configs -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls,kw,keys", [
    (nk.SparseCategoricalCrossentropy, {"ignore_class": 3, "from_logits": True},
     {"name", "reduction", "dtype", "from_logits", "ignore_class", "axis"}),
    (nk.CategoricalCrossentropy, {"label_smoothing": 0.2}, {"name", "reduction", "dtype", "from_logits",
                                                             "label_smoothing", "axis"}),
    (nk.BinaryCrossentropy, {"axis": 1, "reduction": "sum"}, {"name", "reduction", "dtype", "from_logits",
                                                              "label_smoothing", "axis"}),
])
def test_loss_config_round_trip(cls, kw, keys):
    cfg = cls(**kw).get_config()
    assert set(cfg) == keys
    again = cls.from_config(cfg)
    assert again.get_config() == cfg
    other = cls(**kw, profile="tf-keras").get_config()
    assert other["profile"] == "tf-keras" and cls.from_config(other).profile.name == "tf-keras"


def test_metric_config_round_trip():
    for cls, keys in [(km.SparseCategoricalCrossentropy, {"name", "dtype", "from_logits", "ignore_class", "axis"}),
                      (km.CategoricalCrossentropy, {"name", "dtype", "from_logits", "label_smoothing", "axis"}),
                      (km.BinaryCrossentropy, {"name", "dtype", "from_logits", "label_smoothing"})]:
        cfg = cls(name="m").get_config()
        assert set(cfg) == keys and cls.from_config(cfg).get_config() == cfg


# ---- metrics -----------------------------------------------------------------------------

def test_metric_weighted_mean_and_ignore_class_asymmetry():
    p = np.float32([[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    m = km.SparseCategoricalCrossentropy(ignore_class=0)
    m.update_state([0, 1, 2], p)
    close(m.result(), 0.78462613, rel=1e-6)  # Keras 3 counts the ignored entry
    m.reset_state()
    assert m.result() == 0
    m.update_state([0, 1, 2], p, sample_weight=[0.5, 1.5, 2.0])
    close(m.result(), 1.33774646, rel=1e-6)
    t = km.SparseCategoricalCrossentropy(ignore_class=0, profile="tf-keras")
    t.update_state([0, 1, 2], p)
    close(t.result(), 1.1769392, rel=1e-6)
    c = km.CategoricalCrossentropy()
    c.update_state(np.eye(3)[[1, 2]], Q2, sample_weight=[0.3, 0.7])
    close(c.result(), 1.62719755, rel=1e-6)


def test_metric_accumulates_across_batches():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((10, 5)).astype(np.float32)
    y = rng.integers(0, 5, 10)
    m = km.SparseCategoricalCrossentropy(from_logits=True)
    m.update_state(y[:4], x[:4])
    m.update_state(y[4:], x[4:])
    close(m.result(), nk.sparse_categorical_crossentropy(y, x, from_logits=True).astype(np.float64).mean(), rel=1e-6)
    b = km.BinaryCrossentropy()
    b.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    close(b.result(), 0.81492445, rel=1e-6)


# --- profile corners found by running every profile over the spec ----------------------------

def test_one_hot_product_profiles_turn_nonfinite_logits_into_nan():
    """jax and numpy backends take -sum(one_hot * log_softmax): 0 * -inf is NaN; TF/torch pick."""
    x = np.array([[-np.inf, 0.0, 0.0]], dtype=np.float32)
    picked = nk.sparse_categorical_crossentropy([1], x, from_logits=True, profile="keras3")
    assert picked[0] == np.float32(np.log(2.0))
    for profile in ("keras3-jax", "keras3-numpy"):
        got = nk.sparse_categorical_crossentropy([1], x, from_logits=True, profile=profile)
        assert np.isnan(got[0]), profile


def test_nan_label_counts_as_negative_under_zero_if_negative():
    p = np.array([[0.2, 0.3, 0.5]], dtype=np.float32)
    got = nk.sparse_categorical_crossentropy(np.array([np.nan], dtype=np.float32), p, profile="keras3-numpy")
    assert got[0] == 0.0
    with pytest.raises(ValueError, match="out of range"):
        nk.sparse_categorical_crossentropy(np.array([np.nan], dtype=np.float32), p, profile="keras3")


def test_tf_keras_cannot_squeeze_a_weight_axis_larger_than_one():
    bce = nk.BinaryCrossentropy(profile="tf-keras")
    y = np.array([1, 0, 1, 0], dtype=np.float32)
    p = np.array([0.9, 0.2, 0.7, 0.4], dtype=np.float32)
    with pytest.raises(ValueError, match="cannot be squeezed"):
        bce(y, p, sample_weight=np.array([1, 0, 0, 0], dtype=np.float32))
    assert np.isfinite(nk.BinaryCrossentropy()(y, p, sample_weight=np.array([1, 0, 0, 0], dtype=np.float32)))


def test_jax_and_numpy_profiles_check_labels_against_the_leading_shape():
    """scce_axis labels_checked_as_last: a square y_pred honours axis=1, another shape is a shape error."""
    square = np.array([[[0.6, 0.2], [0.4, 0.8]], [[0.1, 0.5], [0.9, 0.5]]], dtype=np.float32)
    labels = np.array([[0, 1], [1, 0]])
    want = nk.sparse_categorical_crossentropy(labels, square, axis=1)
    for profile in ("keras3-jax", "keras3-numpy"):
        got = nk.sparse_categorical_crossentropy(labels, square, axis=1, profile=profile)
        assert np.array_equal(got, want), profile
        tall = np.concatenate([square, square[:, :1]], axis=1)  # (2, 3, 2): classes on axis 1
        with pytest.raises(ValueError, match=r"shape\[:-1\]"):
            nk.sparse_categorical_crossentropy(labels, tall, axis=1, profile=profile)
    with pytest.raises(ValueError, match="axis"):
        nk.sparse_categorical_crossentropy(labels, square, axis=1, profile="keras3-tensorflow")


def test_nan_label_is_class_zero_under_jax():
    p = np.array([[0.2, 0.5, 0.3]], dtype=np.float32)
    got = nk.sparse_categorical_crossentropy(np.array([np.nan], dtype=np.float32), p, profile="keras3-jax")
    assert got[0] == nk.sparse_categorical_crossentropy([0], p, profile="keras3-jax")[0]
