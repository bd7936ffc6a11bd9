"""The in-memory form of a spec case, as the reference, the adapters and the runner see it.

Arrays hold the exact values the case denotes: floating inputs are float64
arrays whose every element is a value of the case's dtype (float16, bfloat16
and float32 values are all exact in float64), so nothing downstream needs to
re-parse or re-round a literal. Sparse labels are int64 arrays unless the case
sets a float ``label_dtype``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["LOSSES", "FORMS", "DTYPES", "ERROR_CATEGORIES", "Documented", "Expect", "Tolerance",
           "Inputs", "Step", "Case", "SourceRef"]

LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
FORMS = ("function", "loss", "metric", "config")
DTYPES = ("float16", "bfloat16", "float32", "float64")
LABEL_DTYPES = ("int32", "int64") + DTYPES
ERROR_CATEGORIES = ("invalid_label", "invalid_shape", "invalid_argument", "invalid_value")


@dataclass(frozen=True)
class SourceRef:
    """Where a case was read from: file name and line of its mapping."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Documented:
    """A value printed by a documentation page, exactly as printed, with its provenance.

    ``value`` is the printed text (a string, or a list of strings for an
    unreduced output). ``erratum`` is set when the printed value is known not
    to be what the documented call computes under ``profile``; it says why and
    what the page would have had to print.
    """

    value: Any
    source: str
    version: str | None = None
    profile: str | None = None
    erratum: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Expect:
    """What a profile yields for a case when the spec states it: an error category or a value."""

    error: str | None = None
    value: Any = None
    reason: str | None = None


@dataclass(frozen=True)
class Tolerance:
    """A per-case error budget override, always with its reason."""

    ulps: float | None
    reason: str


@dataclass(frozen=True)
class Inputs:
    """One call's arrays: y_true, y_pred and an optional sample_weight (exact values)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    sample_weight: np.ndarray | None = None


@dataclass(frozen=True)
class Step:
    """One step of a metric case: ``update`` (with inputs), ``reset`` or ``result``."""

    kind: str
    inputs: Inputs | None = None
    documented: Documented | None = None


@dataclass(frozen=True)
class Case:
    """One specified call of a loss, loss function or metric and what it should give.

    ``params`` holds the constructor / function keywords (from_logits,
    label_smoothing, ignore_class, axis, reduction, dtype, name, ...).
    ``config_of`` says which class a ``config`` case builds (loss or metric).
    ``dtype`` is the dtype of y_pred; ``output_dtype`` the dtype of the result
    under the Keras rules (see :func:`xentspec.spec.output_dtype`).
    """

    id: str
    loss: str
    form: str
    dtype: str
    params: Mapping[str, Any]
    profiles: tuple[str, ...]
    inputs: Inputs | None = None
    steps: tuple[Step, ...] | None = None
    label_dtype: str | None = None
    documented: Documented | None = None
    expect: Mapping[str, Expect] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None
    config_of: str = "loss"
    tolerance: Tolerance | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    source: SourceRef | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def sparse(self) -> bool:
        """True for the sparse categorical loss (integer class labels)."""
        return self.loss == "sparse_categorical_crossentropy"

    def applies_to(self, profile: str) -> bool:
        """Whether one of the case's ``profiles`` selectors covers ``profile`` (``keras3-torch@3.8`` too)."""
        if profile in self.profiles:
            return True
        from .profiles import selects

        return selects(self.profiles, profile)

    def expect_for(self, profile: str) -> "Expect | None":
        """The ``expect`` entry stated for ``profile``: its own key, else the first selector covering it."""
        if profile in self.expect:
            return self.expect[profile]
        from .profiles import selects

        return next((e for key, e in self.expect.items() if selects((key,), profile)), None)
