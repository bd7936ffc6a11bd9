"""The built-in ``numpy`` adapter: the project's float32 NumPy kernel (``xentspec.adapters.numpy_kernel``).

The kernel implements every profile (it takes ``profile=``), so this adapter
can be judged under any of them; its own profile is ``keras3``. It runs
in-process by default (``isolate = False``): the kernel is pure NumPy, and a
worker process would only add a pickling round trip per case (see
docs/adapters.md for the measurement); ``--isolate`` still forces a worker.

bfloat16: with ml_dtypes installed, inputs are passed as ml_dtypes bfloat16
arrays; without it, as float32 arrays holding bfloat16 values together with
``dtype="bfloat16"`` (loss and metric classes take it as their ``dtype``; the
functions through the kernel's ``*_core`` functions, which take ``dtype=``). A float32 result of a
bfloat16 computation is declared as bfloat16 (:attr:`Result.dtype`); the
verdict checks that its values are bfloat16 values.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np

from .base import Adapter, Capabilities, ErrorRule, Result, config_round_trip

__all__ = ["NumpyAdapter", "to_dtype", "CLASS_NAMES"]

try:  # optional
    import ml_dtypes as _ml_dtypes  # type: ignore

    _BF16: Any = np.dtype(_ml_dtypes.bfloat16)
except Exception:  # pragma: no cover - environment dependent
    _BF16 = None

CLASS_NAMES = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
}
_CORE_NAMES = {
    "sparse_categorical_crossentropy": "scce_core",
    "categorical_crossentropy": "cce_core",
    "binary_crossentropy": "bce_core",
}


def to_dtype(a: np.ndarray, dtype: str) -> np.ndarray:
    """Convert an exact float64 case array to ``dtype`` (exact: the values are already of that dtype).

    int32/int64 for labels; bfloat16 gives an ml_dtypes array when available,
    else float32 holding the bfloat16 values.
    """
    if dtype in ("int32", "int64"):
        return np.asarray(a, dtype=dtype)
    if dtype == "bfloat16":
        return np.asarray(a, dtype=_BF16 if _BF16 is not None else np.float32)
    return np.asarray(a, dtype=dtype)


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class NumpyAdapter(Adapter):
    """Adapter of the project's NumPy kernel; evaluates every form, loss, dtype and profile."""

    name = "numpy"
    wraps = "xentspec.adapters.numpy_kernel"
    profile = "keras3"
    capabilities = Capabilities(profiles=frozenset({"keras3", "keras3-tensorflow", "keras3-jax", "keras3-torch",
                                                    "keras3-numpy", "tf-keras", "tf1"}))
    # The kernel raises ValueError with the offending argument's name first ("y_true: label 5 ...").
    error_rules = (
        ErrorRule("invalid_argument", (ValueError, TypeError),
                  r"^(axis|reduction|label_smoothing|ignore_class|dtype|profile|from_logits|name)\b"),
        ErrorRule("invalid_label", ValueError, r"^y_true: label"),
        ErrorRule("invalid_shape", ValueError, r"shape|rank|dimension|broadcast|size 0"),
        ErrorRule("invalid_value", ValueError, r"^(y_pred|y_true|sample_weight): .*(nan|finite|value)"),
    )
    isolate = False

    def __init__(self) -> None:
        from xentspec import __version__
        self.version = __version__

    @property
    def kernel(self) -> Any:
        """The kernel module (imported on first use)."""
        return importlib.import_module("xentspec.adapters.numpy_kernel")

    # ------------------------------------------------------------------ inputs

    def _arrays(self, case: Any, inp: Any, compute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        label_dtype = case.label_dtype or ("int64" if case.sparse else case.dtype)
        y_true = to_dtype(inp.y_true, label_dtype)
        y_pred = to_dtype(inp.y_pred, case.dtype)
        sw = None
        if inp.sample_weight is not None:
            wdtype = case.params.get("dtype") or ("float32" if case.form != "function" else case.dtype)
            sw = to_dtype(inp.sample_weight, wdtype)
        return y_true, y_pred, sw

    def _kwargs(self, case: Any, fn: Any, profile: str, *, cls: bool) -> dict[str, Any]:
        p = case.params
        kw: dict[str, Any] = {}
        for key in ("from_logits", "label_smoothing", "ignore_class", "axis"):
            if key in p:
                kw[key] = p[key]
        if cls:
            if "reduction" in p:  # None included: Keras 3 reads it as "none", tf-keras rejects it
                kw["reduction"] = p["reduction"]
            for key in ("name", "dtype"):
                if key in p and p[key] is not None:
                    kw[key] = p[key]
        if _accepts(fn, "profile"):
            kw["profile"] = profile
        return kw

    def _result(self, value: Any, out_dtype: str) -> Result:
        arr = np.asarray(value)
        declared = "bfloat16" if (out_dtype == "bfloat16" and arr.dtype == np.float32) else None
        return Result(value=arr, dtype=declared)

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, case: Any, profile: str) -> Result:
        """Run ``case`` on the kernel under ``profile`` (see :meth:`Adapter.evaluate`)."""
        from xentspec.spec import compute_dtype

        k = self.kernel
        out_dtype = compute_dtype(case, profile)
        if case.form == "function":
            fn = getattr(k, case.loss)
            kw = self._kwargs(case, fn, profile, cls=False)
            y_true, y_pred, _ = self._arrays(case, case.inputs, out_dtype)
            if case.dtype == "bfloat16" and _BF16 is None:
                # Without ml_dtypes a bfloat16 array cannot say what it is: the kernel's
                # core functions take the dtype by name (float32 values + dtype="bfloat16").
                functions = importlib.import_module("xentspec.adapters.numpy_kernel.functions")
                core = getattr(functions, _CORE_NAMES[case.loss])
                return self._result(functions._finish(core(y_true, y_pred, **kw, dtype="bfloat16")), out_dtype)
            return self._result(fn(y_true, y_pred, **kw), out_dtype)
        if case.form == "metric":
            metrics = getattr(k, "metrics")
            cls = getattr(metrics, CLASS_NAMES[case.loss])
            obj = cls(**self._kwargs(case, cls, profile, cls=True))
            results = []
            for step in case.steps:
                if step.kind == "update":
                    y_true, y_pred, sw = self._arrays(case, step.inputs, out_dtype)
                    hint = {"y_pred_dtype": "bfloat16"} if case.dtype == "bfloat16" and _BF16 is None else {}
                    obj.update_state(y_true, y_pred, sample_weight=sw, **hint)
                elif step.kind == "reset":
                    obj.reset_state()
                else:
                    results.append(np.asarray(obj.result()))
            declared = "bfloat16" if out_dtype == "bfloat16" and results and results[0].dtype == np.float32 else None
            return Result(value=results, dtype=declared)
        owner = k.metrics if case.form == "config" and case.config_of == "metric" else k
        cls = getattr(owner, CLASS_NAMES[case.loss])
        kwargs = self._kwargs(case, cls, profile, cls=True)
        if _BF16 is None and out_dtype == "bfloat16" and "dtype" not in kwargs:
            kwargs["dtype"] = "bfloat16"  # a loss class computing in y_pred's dtype cannot see it otherwise
        if case.form == "loss":
            y_true, y_pred, sw = self._arrays(case, case.inputs, out_dtype)
            return self._result(cls(**kwargs)(y_true, y_pred, sample_weight=sw), out_dtype)
        # config: the constructed object's config, the rebuilt one's, and the rebuilt one's value.
        rebuilt, cfg, back = config_round_trip(cls, kwargs)
        value = None
        res = Result(config=cfg, config_roundtrip=back)
        if case.inputs is not None:
            y_true, y_pred, sw = self._arrays(case, case.inputs, out_dtype)
            if case.config_of == "metric":
                hint = {"y_pred_dtype": "bfloat16"} if case.dtype == "bfloat16" and _BF16 is None else {}
                rebuilt.update_state(y_true, y_pred, sample_weight=sw, **hint)
                got = rebuilt.result()
            else:
                got = rebuilt(y_true, y_pred, sample_weight=sw)
            r = self._result(got, out_dtype)
            value, res.dtype = r.value, r.dtype
        res.value = value
        return res
