"""The adapter side of the built-in ports: availability, the device option, capabilities and the four forms.

Every port adapter is a :class:`PortAdapter`: it names the framework package it
needs and the pip command that installs it, the devices it knows, what it
declares it can run, and the :class:`~.keras_semantics.Backend` that carries
the framework's arithmetic. :meth:`PortAdapter.evaluate` is the same for all
ports: it converts the case's exact inputs to the framework's tensors, calls
the Keras 3 function, loss class or metric of :mod:`.keras_semantics` on them,
and hands back the framework's result unconverted.

A port whose framework is not installed stays loadable (the runner can list
it): :meth:`unavailable` says why, and every case is skipped with the install
command. The device is an adapter option, given in the adapter spec
(``--adapter torch?device=cuda``, see adapters/README.md); a device the machine
does not have is an :class:`~xentspec.adapters.registry.AdapterOptionError`
when the adapter is loaded, never a silent run on the CPU.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from typing import Any

import numpy as np

from ..base import Adapter, Capabilities, ErrorRule, Result
from ..registry import AdapterOptionError
from . import keras_semantics as ks

__all__ = ["PortAdapter", "ALL_PARAMS", "ALL_REDUCTIONS", "ALL_FORMS", "ALL_LOSSES", "GLUE_ERROR_RULES",
           "dist_version", "importable", "bfloat16_dtype"]

ALL_PARAMS = frozenset({"from_logits", "label_smoothing", "ignore_class", "axis", "sample_weight", "dtype", "name",
                        "float_labels"})
# The Keras 3 reductions, and "auto", which a port accepts in order to reject it as Keras 3 does.
ALL_REDUCTIONS = frozenset({"sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight", "auto"})
ALL_FORMS = frozenset({"function", "loss", "metric", "config"})
ALL_LOSSES = frozenset({"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"})

# Errors the Keras glue raises (keras_semantics), before any framework rule.
GLUE_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule("invalid_argument", ks.PortArgumentError),
    ErrorRule("invalid_shape", ks.PortShapeError),
)


def dist_version(name: str) -> str:
    """The installed version of distribution ``name``, or "not installed" (read without importing it)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def importable(module: str) -> bool:
    """Whether the top-level package of ``module`` can be found (without importing it)."""
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):  # a broken or half-installed package counts as missing
        return False


def bfloat16_dtype() -> Any:
    """NumPy's bfloat16 dtype (ml_dtypes, installed with jax, torch's bfloat16 conversions need it too)."""
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


class PortAdapter(Adapter):
    """Base of the built-in port adapters (``torch``, ``jax``, ``onnxruntime``, ``mlx``).

    Subclasses set ``base_name``, ``wraps``, ``module`` (the import that must
    succeed), ``distributions`` (whose versions the report records), ``install``
    (the command that installs them), ``devices``, ``declared`` (their
    :class:`Capabilities`) and implement :meth:`make_backend` and, for devices
    other than the CPU, :meth:`check_device`.
    """

    base_name = "port"
    module = ""
    distributions: tuple[str, ...] = ()
    install = ""
    devices: tuple[str, ...] = ("cpu",)
    declared = Capabilities()
    profile = "keras3"
    isolate = False
    error_rules: tuple[ErrorRule, ...] = GLUE_ERROR_RULES

    def __init__(self, device: str = "cpu") -> None:
        if device not in self.devices:
            raise AdapterOptionError(f"adapter {self.base_name}: unknown device {device!r}; "
                                     f"this port knows: {', '.join(self.devices)}")
        self.device = device
        self.name = self.base_name if device == "cpu" else f"{self.base_name}-{device}"
        self.version = dist_version(self.distributions[0]) if self.distributions else "?"
        self._backend: ks.Backend | None = None
        if device != "cpu" and self.unavailable() is None:
            problem = self.check_device(device)
            if problem:
                raise AdapterOptionError(f"adapter {self.base_name}: device {device!r} requested, but {problem}; "
                                         "a run on another device than the one asked for would be mislabelled")

    # ------------------------------------------------------------------ declarations

    def modules(self) -> tuple[str, ...]:
        """The modules the port imports (all must be installed); by default ``module``."""
        return (self.module,)

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        """The modules :meth:`Adapter.unavailable` checks: :meth:`modules`."""
        return self.modules()

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The declared capabilities, or none at all when the framework is missing (so everything skips)."""
        if self.unavailable() is not None:
            return Capabilities(dtypes=frozenset(), forms=frozenset(), losses=frozenset(), params=frozenset(),
                                reductions=frozenset())
        return self.declared

    def check_device(self, device: str) -> str | None:
        """Why ``device`` cannot be used on this machine, or None (called only when the framework imports)."""
        return f"this port has no device {device}"

    def frameworks(self) -> dict[str, str]:
        """Versions of the framework's distributions and of NumPy, from package metadata."""
        out = {d: dist_version(d) for d in self.distributions}
        out["numpy"] = np.__version__
        return out

    def describe(self) -> dict[str, Any]:
        """The report entry: the base fields, the device, the install command and the declared capabilities."""
        d = super().describe()
        d["options"] = {"device": self.device}
        d["install"] = self.install
        d["capabilities"] = self.declared.to_dict(self.profile)
        return d

    # ------------------------------------------------------------------ the backend

    def make_backend(self) -> ks.Backend:
        """A new backend of this framework on ``self.device``."""
        raise NotImplementedError

    def framework_backend(self) -> ks.Backend:
        """The backend (created on first use; a lazy backend is created anew for every case)."""
        if self._backend is None or getattr(self._backend, "per_case", False):
            self._backend = self.make_backend()
        return self._backend

    # ------------------------------------------------------------------ evaluate

    def _inputs(self, B: ks.Backend, case: Any, inp: Any) -> tuple[Any, Any, Any]:
        label_dtype = case.label_dtype or ("int64" if case.sparse else case.dtype)
        y_true = B.tensor(inp.y_true, label_dtype)
        y_pred = B.tensor(inp.y_pred, case.dtype)
        sw = None
        if inp.sample_weight is not None:
            wdtype = case.params.get("dtype") or ("float32" if case.form != "function" else case.dtype)
            sw = B.tensor(inp.sample_weight, wdtype)
        return y_true, y_pred, sw

    def _value(self, B: ks.Backend, t: Any) -> np.ndarray:
        return B.to_numpy(B.evaluate(t)[0])

    def evaluate(self, case: Any, profile: str) -> Result:
        """Run ``case`` through the port (see :meth:`Adapter.evaluate` and adapters/README.md)."""
        B = self.framework_backend()
        params = dict(case.params)
        if case.form == "function":
            kw = {k: params[k] for k in ("from_logits", "label_smoothing", "ignore_class", "axis") if k in params}
            y_true, y_pred, _ = self._inputs(B, case, case.inputs)
            return Result(value=self._value(B, ks.loss_function(B, case.loss, y_true, y_pred, **kw)))
        if case.form == "metric":
            metric = ks.METRIC_CLASSES[case.loss](B, **params)
            results = []
            for step in case.steps:
                if step.kind == "update":
                    y_true, y_pred, sw = self._inputs(B, case, step.inputs)
                    metric.update_state(y_true, y_pred, sample_weight=sw)
                elif step.kind == "reset":
                    metric.reset_state()
                else:
                    results.append(B.to_numpy(metric.result()))
            return Result(value=results)
        metric_cfg = case.form == "config" and case.config_of == "metric"
        cls = ks.METRIC_CLASSES[case.loss] if metric_cfg else ks.LOSS_CLASSES[case.loss]
        obj = cls(B, **params)
        if case.form == "loss":
            y_true, y_pred, sw = self._inputs(B, case, case.inputs)
            return Result(value=self._value(B, obj(y_true, y_pred, sample_weight=sw)))
        cfg = obj.get_config()
        rebuilt = cls.from_config(B, cfg)
        res = Result(config=dict(cfg), config_roundtrip=dict(rebuilt.get_config()))
        if case.inputs is not None:
            y_true, y_pred, sw = self._inputs(B, case, case.inputs)
            if metric_cfg:
                rebuilt.update_state(y_true, y_pred, sample_weight=sw)
                res.value = B.to_numpy(rebuilt.result())
            else:
                res.value = self._value(B, rebuilt(y_true, y_pred, sample_weight=sw))
        return res

