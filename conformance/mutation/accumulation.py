"""Mutant ports with a bug in how losses are reduced: divisors, masks, metric accumulation, weight
shapes, all-masked means (see :mod:`.mutants`)."""

from __future__ import annotations

from xentspec.adapters.numpy_kernel import functions as _fn
from xentspec.adapters.numpy_kernel import losses as _losses
from xentspec.adapters.numpy_kernel import metrics as _met
from xentspec.adapters.numpy_kernel import reductions as _red

from . import bugs as B
from .patching import Mutant


def _gh(path: str) -> str:
    return f"https://github.com/{path}"


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
