"""The mutant ports: the NumPy kernel with one realistic porting bug each (see :mod:`.patching`).

Every class is an adapter; load one with
``--adapter xentspec.conformance.mutation.mutants:NAME``. :data:`MUTANTS`
lists them all. Each docstring says the bug and cites upstream reports of
the same mistake in Keras, TensorFlow, PyTorch or projects porting them.
A mutant whose ``blind`` is set cannot be seen by any property test by
construction (the reason is given); the spec cases must kill it.
"""

from __future__ import annotations

from typing import Any

from xentspec.adapters.numpy_kernel import binary as _bin
from xentspec.adapters.numpy_kernel import functions as _fn
from xentspec.adapters.numpy_kernel import losses as _losses
from xentspec.adapters.numpy_kernel import metrics as _met
from xentspec.adapters.numpy_kernel import precision as _P
from xentspec.adapters.numpy_kernel import reductions as _red

from . import bugs as B
from .patching import Mutant

__all__ = ["MUTANTS", "CONTROLS", "spec_of"]


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


class MeanByWeightSum(Mutant):
    """sum_over_batch_size divides the weighted sum by the sum of the weights (a weighted mean).

    keras-team/keras#18818 (sum_over_batch_size vs weighted mean),
    keras-team/keras#13329 (sum(score) / sum(weights) expected), keras-team/keras#20410
    (Keras 3 added mean_with_sample_weight for exactly that divisor).
    """

    name = "mutant-mean-divided-by-weight-sum"
    bug = "sum_over_batch_size divided by the sum of the weights"
    sources = (_gh("keras-team/keras/issues/18818"), _gh("keras-team/keras/issues/13329"),
               _gh("keras-team/keras/pull/20410"))

    def patches(self) -> list:
        return [(_red, "reduce_values", B.reduce_values_weight_sum)]


class WeightedMeanByCount(Mutant):
    """mean_with_sample_weight divided by the element count (the weights only scale the sum).

    keras-team/keras#20410 and the request it fixed, keras-team/keras#19740.
    """

    name = "mutant-mean-with-sample-weight-by-count"
    bug = "mean_with_sample_weight divided by the element count"
    sources = (_gh("keras-team/keras/pull/20410"), _gh("keras-team/keras/issues/19740"))

    def patches(self) -> list:
        return [(_red, "reduce_values", B.reduce_values_mwsw_count)]


class IgnoredInDivisor(Mutant):
    """ignore_class masks the loss but the mean still divides by every entry, ignored ones included.

    tensorflow/tensorflow#26784 (SUM_OVER_BATCH_SIZE does not respect masking);
    ethz-asl/background_foreground_segmentation#25 (valid pixels' loss divided by all pixels).
    """

    name = "mutant-ignored-counted-in-divisor"
    bug = "masked mean divides by all entries"
    sources = (_gh("tensorflow/tensorflow/issues/26784"),
               _gh("ethz-asl/background_foreground_segmentation/issues/25"))

    def patches(self) -> list:
        return [(_red, "apply_mask", B.apply_mask_counts_ignored)]


class IgnoredLossKept(Mutant):
    """Ignored entries keep a loss (the final ``where(valid, loss, 0)`` is missing).

    keras-team/keras#19838 (ignore_class handled inconsistently with and without
    a trailing label axis); keras-team/keras-core#599 (review of a masking
    implementation that multiplies instead of selecting).
    """

    name = "mutant-ignored-loss-kept"
    bug = "ignored entries keep the loss of class 0"
    sources = (_gh("keras-team/keras/pull/19838"), _gh("keras-team/keras-core/pull/599"))

    def patches(self) -> list:
        core = staticmethod(B.scce_core_keeps_ignored)
        return [(_fn, "scce_core", B.scce_core_keeps_ignored),
                (_losses.SparseCategoricalCrossentropy, "_core", core),
                (_met.SparseCategoricalCrossentropy, "_core", core)]


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


class SumAsMean(Mutant):
    """Reduction ``sum`` computed as the mean (mapped to a framework's default "mean" reduction).

    keras-team/keras-cv#1505 (SUM vs SUM_OVER_BATCH_SIZE), ai-safety-foundation/sparse_autoencoder#63.
    """

    name = "mutant-sum-is-mean"
    bug = "reduction sum divides by the count"
    sources = (_gh("keras-team/keras-cv/pull/1505"), _gh("ai-safety-foundation/sparse_autoencoder/issues/63"))

    def patches(self) -> list:
        return [(_red, "reduce_values", B.reduce_values_sum_is_mean)]


class EmptyBatchNaN(Mutant):
    """The mean of an empty batch is 0 / 0 = NaN where Keras divides with divide_no_nan (0).

    keras-team/keras#21908 (the masked divisor and divide_no_nan), keras-team/keras#7517.
    """

    name = "mutant-empty-mean-nan"
    bug = "the mean of an empty batch is NaN"
    sources = (_gh("keras-team/keras/pull/21908"), _gh("keras-team/keras/issues/7517"))

    def patches(self) -> list:
        return [(_red, "reduce_values", B.reduce_values_empty_nan)]


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


class MetricMeanOfBatchMeans(Mutant):
    """The metric averages the batch means (each update counts 1) instead of weighting by samples.

    tensorflow/tensorflow#38596 (a smaller last batch), catalyst-team/catalyst#799,
    Lightning-AI/pytorch-lightning#2924.
    """

    name = "mutant-metric-mean-of-batch-means"
    bug = "metric averages batch means"
    sources = (_gh("tensorflow/tensorflow/issues/38596"), _gh("catalyst-team/catalyst/issues/799"),
               _gh("Lightning-AI/pytorch-lightning/issues/2924"))

    def patches(self) -> list:
        return [(_met._MeanMetric, "update_state", B.update_mean_of_batch_means)]


class MetricResetKeepsCount(Mutant):
    """reset_state clears the metric's total but not its count.

    freud14/poutyne#72 (resetting epoch metrics), JetBrains-Research/code2seq#112.
    """

    name = "mutant-metric-reset-keeps-count"
    bug = "reset keeps the count"
    sources = (_gh("freud14/poutyne/issues/72"), _gh("JetBrains-Research/code2seq/pull/112"))

    def patches(self) -> list:
        return [(_met._MeanMetric, "reset_state", B.reset_keeps_count)]


class MetricIgnoresWeights(Mutant):
    """The metric's update_state drops sample_weight.

    keras-team/keras#10305 (weighted metrics averaged without their weights).
    """

    name = "mutant-metric-ignores-weights"
    bug = "metric ignores sample_weight"
    sources = (_gh("keras-team/keras/issues/10305"),)

    def patches(self) -> list:
        return [(_met._MeanMetric, "update_state", B.update_ignores_weights)]


class MetricCountsSamples(Mutant):
    """A weighted metric sums w * loss but counts samples instead of the weights.

    keras-team/keras#10305 (the denominator should be the sum of the weights).
    """

    name = "mutant-metric-counts-samples"
    bug = "weighted metric divides by the sample count"
    sources = (_gh("keras-team/keras/issues/10305"),)

    def patches(self) -> list:
        return [(_met._MeanMetric, "_update_keras3", B.update_keras3_counts_samples),
                (_met._MeanMetric, "_update_tf_keras", B.update_tf_keras_counts_samples)]


class Keras3ExpandsRank1Weights(Mutant):
    """A Keras 3 port that expands (B,) weights on rank-2 losses as tf-keras does.

    Keras 3 only squeezes or expands a size-1 last axis (keras-team/keras#23235,
    rank mismatch between losses and sample_weight); keras-team/keras#657 and
    #1537 show how long the shape rules of sequence weights have confused users.
    """

    name = "mutant-keras3-expands-rank1-weights"
    bug = "rank-1 weights expanded on rank-2 losses (tf-keras rule) under Keras 3"
    sources = (_gh("keras-team/keras/pull/23235"), _gh("keras-team/keras/issues/657"),
               _gh("keras-team/keras/issues/1537"))
    choices = {"weight_expand_rank1": True}


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


class TfKerasAllMaskedZero(Mutant):
    """A tf-keras port whose all-ignored batch gives 0 (divide_no_nan) where tf-keras gives NaN.

    tf-keras divides total / valid (inf) and multiplies 0 * inf; Keras 3 changed
    the divisor (keras-team/keras#21908); tensorflow/tensorflow#26784.
    """

    name = "mutant-tf-keras-all-masked-zero"
    profile = "tf-keras"
    bug = "tf-keras all-ignored mean is 0, not NaN"
    sources = (_gh("keras-team/keras/pull/21908"), _gh("tensorflow/tensorflow/issues/26784"))
    choices = {"all_masked": "zero"}


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


class _Control(Mutant):
    """The unmutated kernel, judged under one profile: every verdict must pass."""

    bug = "none (the control)"


class ControlKeras3(_Control):
    """The unmutated kernel under keras3 (leads the shared property runs of keras3 mutants)."""

    name = "control-keras3"


class ControlTfKeras(_Control):
    """The unmutated kernel under tf-keras."""

    name = "control-tf-keras"
    profile = "tf-keras"


class ControlKeras3Jax(_Control):
    """The unmutated kernel under keras3-jax."""

    name = "control-keras3-jax"
    profile = "keras3-jax"


CONTROLS: dict[str, type[Mutant]] = {c.profile: c for c in (ControlKeras3, ControlTfKeras, ControlKeras3Jax)}
"""The control adapter of each profile a mutant is judged under."""


MUTANTS: tuple[type[Mutant], ...] = (
    WrongEpsilon, UnroundedClipBounds, NoRenormCCE, NoRenormSCCE, ClipThenRenormSCCE, MeanByWeightSum,
    WeightedMeanByCount, IgnoredInDivisor, IgnoredLossKept, SmoothingOverKMinus1, SmoothingClassesAxis1,
    BCEFullSmoothing, NaiveLogSoftmax, NaiveLogSigmoid, CCEMeanOverClasses, LossResultFloat64, SumAsMean,
    EmptyBatchNaN, AxisIgnored, OutOfRangeClamped, MetricMeanOfBatchMeans, MetricResetKeepsCount,
    MetricIgnoresWeights, MetricCountsSamples, Keras3ExpandsRank1Weights, TfKerasSingleEpsilon,
    TfKerasAllMaskedZero, JaxGatherLabels, ConfigDropsAxis,
)
"""Every mutant, in the order the mutation run reports them."""


def spec_of(cls: type[Mutant]) -> str:
    """The adapter spec string that loads ``cls`` (``module:attr``)."""
    return f"{__name__}:{cls.__name__}"
