"""Mutant ports with a bug in the per-element formula: clipping, renormalisation, label smoothing,
logits, the result dtype, the class axis, labels, the configuration (see :mod:`.mutants`)."""

from __future__ import annotations

from typing import Any

from xentspec.adapters.numpy_kernel import binary as _bin
from xentspec.adapters.numpy_kernel import functions as _fn
from xentspec.adapters.numpy_kernel import losses as _losses
from xentspec.adapters.numpy_kernel import precision as _P

from . import bugs as B
from .patching import Mutant


def _gh(path: str) -> str:
    return f"https://github.com/{path}"


class WrongEpsilon(Mutant):
    """Probabilities clipped with epsilon 1e-8 instead of Keras's fuzz factor 1e-7.

    keras-team/keras#377 (the epsilon of binary crossentropy, 1e-9 vs 1e-7);
    maxvfischer/keras-image-segmentation-loss-functions#1 (an extra 1e-5).
    """

    name = "mutant-epsilon-1e-8"
    bug = "clips probabilities to [1e-8, 1 - 1e-8]"
    sources = (_gh("keras-team/keras/issues/377"),
               _gh("maxvfischer/keras-image-segmentation-loss-functions/pull/1"))

    def patches(self) -> list:
        return [(_P, "clip_bounds", B.clip_bounds_1e8)]


class UnroundedClipBounds(Mutant):
    """The clip bounds kept as Python floats 1e-7 and 1 - 1e-7 instead of their compute-dtype values.

    Frameworks evaluate clip(p, eps, 1 - eps) in the tensor's dtype: in float16
    eps is 2**-23 and 1 - eps is exactly 1; keras-team/keras#377 discusses how
    the bound's dtype decides whether 1 is clipped at all.
    """

    name = "mutant-clip-bounds-unrounded"
    bug = "clip bounds not rounded to the compute dtype"
    sources = (_gh("keras-team/keras/issues/377"),)

    def patches(self) -> list:
        return [(_P, "clip_bounds", B.clip_bounds_unrounded)]


class NoRenormCCE(Mutant):
    """CategoricalCrossentropy from probabilities without dividing them by their sum.

    keras-team/keras#8910 (a custom objective needed Keras's ``output /= sum``
    to match); tensorflow/tensorflow#34343 (unnormalised example probabilities).
    """

    name = "mutant-cce-no-renormalisation"
    bug = "categorical probabilities are not renormalised"
    sources = (_gh("keras-team/keras/issues/8910"), _gh("tensorflow/tensorflow/pull/34343"))

    def patches(self) -> list:
        return [(_fn, "dense_prob_loss", B.dense_prob_no_renorm)]


class NoRenormSCCE(Mutant):
    """SparseCategoricalCrossentropy from probabilities without the renormalisation (keras3 renormalises).

    keras-team/keras#8910; tensorflow/tensorflow#34343.
    """

    name = "mutant-scce-no-renormalisation"
    bug = "sparse probabilities are not renormalised"
    sources = (_gh("keras-team/keras/issues/8910"), _gh("tensorflow/tensorflow/pull/34343"))

    def patches(self) -> list:
        return [(_fn, "sparse_prob_loss", B.sparse_prob_no_renorm)]


class ClipThenRenormSCCE(Mutant):
    """The sparse loss clips before it renormalises (TF's order) under Keras 3's jax/torch/numpy semantics.

    The profile choice scce_probabilities (spec/profiles.yaml): Keras 3's TF
    backend clips then lets sparse_softmax_cross_entropy_with_logits
    renormalise, its other backends divide first; keras-team/keras#8910.
    """

    name = "mutant-scce-clip-then-renormalise"
    bug = "sparse probabilities clipped before the renormalisation"
    sources = (_gh("keras-team/keras/issues/8910"),)
    choices = {"scce_probabilities": "clip_then_renormalize"}


class SmoothingOverKMinus1(Mutant):
    """Categorical label smoothing adds ls / (K - 1) instead of ls / K.

    pytorch/pytorch#7455 (smooth_one_hot with smoothing / (classes - 1));
    fastai/fastai#1814; MuQiuJun-AI/bert4pytorch#4.
    """

    name = "mutant-smoothing-k-minus-1"
    bug = "label smoothing uses ls / (K - 1)"
    sources = (_gh("pytorch/pytorch/issues/7455"), _gh("fastai/fastai/pull/1814"),
               _gh("MuQiuJun-AI/bert4pytorch/issues/4"))

    def patches(self) -> list:
        return [(_fn, "_smoothing_classes", B.smoothing_k_minus_1)]


class SmoothingClassesAxis1(Mutant):
    """Categorical label smoothing reads K from y_true.shape[1] (wrong for rank-3 labels).

    tensorflow/tensorflow#39329 and its fix tensorflow/tensorflow#36990; Keras 3's
    keras-team/keras#23451 (K from the last axis whatever ``axis`` is).
    """

    name = "mutant-smoothing-classes-axis-1"
    bug = "label smoothing K taken from axis 1"
    sources = (_gh("tensorflow/tensorflow/issues/39329"), _gh("tensorflow/tensorflow/pull/36990"),
               _gh("keras-team/keras/issues/23451"))

    def patches(self) -> list:
        return [(_fn, "_smoothing_classes", B.smoothing_axis_1)]


class BCEFullSmoothing(Mutant):
    """Binary label smoothing as y (1 - ls) + ls instead of y (1 - ls) + ls / 2.

    TimDettmers/ConvE#55 (the additive smoothing constant wrong);
    tensorflow/tensorflow#45215 (the smoothing formulas were undocumented).
    """

    name = "mutant-bce-smoothing-constant"
    bug = "binary label smoothing adds ls, not ls / 2"
    sources = (_gh("TimDettmers/ConvE/issues/55"), _gh("tensorflow/tensorflow/pull/45215"))

    def patches(self) -> list:
        return [(_fn, "binary_loss", B.binary_loss_full_smoothing)]


class NaiveLogSoftmax(Mutant):
    """Cross-entropy from logits as log(softmax(x)) in float32 without subtracting the row maximum.

    pytorch/pytorch#11752 (wrong loss for big logits), keras-team/keras#17634
    (from_logits vs softmax disagree for large logits), tensorflow/models#181.
    """

    name = "mutant-naive-log-softmax"
    bug = "log(softmax(x)) without max subtraction"
    sources = (_gh("pytorch/pytorch/issues/11752"), _gh("keras-team/keras/issues/17634"),
               _gh("tensorflow/models/pull/181"))

    def patches(self) -> list:
        return [(_fn, "sparse_logits_loss", B.sparse_logits_naive),
                (_fn, "dense_logits_loss", B.dense_logits_naive)]


class NaiveLogSigmoid(Mutant):
    """Binary cross-entropy from logits as log(sigmoid(x)) and log(1 - sigmoid(x)), unclipped.

    keras-team/keras-core#196 (BCE through sigmoid then log), huggingface/candle#2561,
    pytorch/pytorch#2211 (a stable logsigmoid).
    """

    name = "mutant-naive-log-sigmoid"
    bug = "BCE from logits through sigmoid then log"
    sources = (_gh("keras-team/keras-core/issues/196"), _gh("huggingface/candle/issues/2561"),
               _gh("pytorch/pytorch/pull/2211"))

    def patches(self) -> list:
        return [(_bin, "_logit_terms32", B.logit_terms_naive), (_bin, "_terms64", B.terms64_naive)]


class CCEMeanOverClasses(Mutant):
    """The categorical loss averaged over the classes instead of summed (a mean-reduced ``-t log q``).

    lasagne/Lasagne#308 and huggingface/candle#2561 discuss hand-written
    cross-entropies; openchat (imoneoi/openchat#99) a mean where a sum belongs.
    """

    name = "mutant-cce-mean-over-classes"
    bug = "categorical loss is a mean over the classes"
    sources = (_gh("imoneoi/openchat/issues/99"), _gh("Lasagne/Lasagne/pull/308"))

    def patches(self) -> list:
        return [(_fn, "dense_prob_loss", B.dense_prob_mean_over_classes),
                (_fn, "dense_logits_loss", B.dense_logits_mean_over_classes)]


class LossResultFloat64(Mutant):
    """The loss classes return float64 (computed in float64, never cast back to the loss dtype).

    keras-team/keras-core#922 (the Loss base class and its dtype), tensorflow/tensorflow#44643
    (a loss whose result dtype did not follow its inputs).
    """

    name = "mutant-loss-result-float64"
    bug = "loss classes return float64"
    sources = (_gh("keras-team/keras-core/issues/922"), _gh("tensorflow/tensorflow/pull/44643"))

    def patches(self) -> list:
        import numpy as np

        original = _losses.Loss.__call__

        def call(obj: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            out = original(obj, y_true, y_pred, sample_weight)
            return np.asarray(out, dtype=np.float64) if out.dtype in (np.float32, np.float16) else out
        return [(_losses.Loss, "__call__", call)]


class AxisIgnored(Mutant):
    """The ``axis`` argument is checked but ignored: the class axis is always the last one.

    keras-team/keras#21097 (sparse crossentropy ignores axis), tensorflow/tensorflow#39230,
    keras-team/keras#9715 (channels_first crossentropy).
    """

    name = "mutant-axis-ignored"
    bug = "the class axis is always the last"
    sources = (_gh("keras-team/keras/issues/21097"), _gh("tensorflow/tensorflow/issues/39230"),
               _gh("keras-team/keras/pull/9715"))

    def patches(self) -> list:
        return [(_fn, "normalize_axis", B.normalize_axis_last)]


class OutOfRangeClamped(Mutant):
    """Sparse labels outside [0, K) are clamped into range instead of raising (keras3's strict choice).

    tensorflow/tensorflow#8484 and #10268 (NaN instead of an error on GPU),
    keras-team/keras#23669 (torch checks label values on CPU only).
    """

    name = "mutant-out-of-range-labels-clamped"
    bug = "out-of-range labels clamped into range"
    sources = (_gh("tensorflow/tensorflow/issues/8484"), _gh("tensorflow/tensorflow/issues/10268"),
               _gh("keras-team/keras/pull/23669"))

    def patches(self) -> list:
        return [(_fn, "sparse_labels", B.sparse_labels_clamped)]


class TfKerasSingleEpsilon(Mutant):
    """A tf-keras port without tf-keras's second epsilon in binary crossentropy.

    keras-team/keras#15249 and tensorflow/tensorflow#41595: tf-keras computes
    log(q + eps) after clipping q to [eps, 1 - eps].
    """

    name = "mutant-tf-keras-single-epsilon"
    profile = "tf-keras"
    bug = "tf-keras BCE without the double epsilon"
    sources = (_gh("keras-team/keras/issues/15249"), _gh("tensorflow/tensorflow/pull/41595"))
    choices = {"bce_probabilities": "clip"}


class JaxGatherLabels(Mutant):
    """A Keras-3-on-JAX port that gathers the label's log-probability instead of the one-hot product.

    The JAX and NumPy backends compute -sum(one_hot * log_softmax), so a -inf logit
    elsewhere gives 0 * inf = NaN (spec/profiles.yaml, scce_logits_label);
    pytorch/xla#2553 and candle-org/MindAct#1633 show cross-entropies that
    differ exactly there.
    """

    name = "mutant-jax-gathers-labels"
    profile = "keras3-jax"
    bug = "keras3-jax sparse loss gathers instead of the one-hot product"
    sources = (_gh("pytorch/xla/issues/2553"), _gh("candle-org/MindAct/pull/1633"))
    choices = {"scce_logits_label": "gather"}


class ConfigDropsAxis(Mutant):
    """SparseCategoricalCrossentropy.get_config() leaves out ``axis`` (from_config rebuilds axis=-1).

    Real Keras 3 has this bug (keras-team/keras#21104; adapters/expectations).
    """

    name = "mutant-config-drops-axis"
    bug = "get_config() lacks axis"
    sources = (_gh("keras-team/keras/pull/21104"),)
    blind = ("no property draws config cases (get_config / from_config round trips): only the spec's "
             "config cases can see a configuration bug")

    def patches(self) -> list:
        original = _losses.SparseCategoricalCrossentropy.get_config

        def get_config(obj: Any) -> dict:
            cfg = original(obj)
            cfg.pop("axis", None)
            return cfg
        return [(_losses.SparseCategoricalCrossentropy, "get_config", get_config)]
