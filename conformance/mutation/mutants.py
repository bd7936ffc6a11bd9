"""The mutant ports: the NumPy kernel with one realistic porting bug each (see :mod:`.patching`).

Every class is an adapter; load one with
``--adapter xentspec.conformance.mutation.mutants:NAME``. :data:`MUTANTS`
lists them all. Each docstring says the bug and cites upstream reports of
the same mistake in Keras, TensorFlow, PyTorch or projects porting them.
A mutant whose ``blind`` is set cannot be seen by any property test by
construction (the reason is given); the spec cases must kill it.
"""

from __future__ import annotations

from .accumulation import (EmptyBatchNaN, IgnoredInDivisor, IgnoredLossKept, Keras3ExpandsRank1Weights,
                           MeanByWeightSum, MetricCountsSamples, MetricIgnoresWeights, MetricMeanOfBatchMeans,
                           MetricResetKeepsCount, SumAsMean, TfKerasAllMaskedZero, WeightedMeanByCount)
from .formulas import (AxisIgnored, BCEFullSmoothing, CCEMeanOverClasses, ClipThenRenormSCCE, ConfigDropsAxis,
                       JaxGatherLabels, LossResultFloat64, NaiveLogSigmoid, NaiveLogSoftmax, NoRenormCCE,
                       NoRenormSCCE, OutOfRangeClamped, SmoothingClassesAxis1, SmoothingOverKMinus1,
                       TfKerasSingleEpsilon, UnroundedClipBounds, WrongEpsilon)
from .patching import Mutant

__all__ = ["MUTANTS", "CONTROLS", "spec_of"]


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
