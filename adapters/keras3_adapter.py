"""Built-in adapters that run real Keras 3: ``keras3-jax``, ``keras3-numpy`` and ``keras3-torch``.

Each adapter calls the Keras 3 public API (``keras.losses.*`` functions and
classes, ``keras.metrics.*Crossentropy``) on one backend and is judged under
that backend's profile. Why one process per backend: Keras reads
``KERAS_BACKEND`` once, when ``keras`` is first imported, and a process can
hold only one backend. These adapters therefore run isolated (the protocol's
default worker subprocess) and set ``KERAS_BACKEND`` themselves, in that
worker, right before they import Keras on their first case; no adapter object
imports Keras or the backend when it is constructed, so the runner (which
instantiates every adapter to read its capabilities) never imports them. In
one process (``--no-isolate``) the first Keras adapter to evaluate a case
fixes the backend; an adapter of another backend then refuses every case with
a message saying so.

Inputs are handed to Keras as the backend's own tensors of the case dtype
(``jax.Array``, ``torch.Tensor``, ``numpy.ndarray``), built exactly from the
case's float64 arrays (bfloat16 through ml_dtypes, which JAX installs).
Results come back as NumPy arrays of the framework's own result dtype: they
are never cast (a float32 result of a float64 case is a finding, not
something to paper over); a torch bfloat16 tensor is returned as an
ml_dtypes bfloat16 array, bit for bit.

JAX runs with its default configuration, in which float64 and int64 arrays
do not exist (``jax_enable_x64`` off). Inputs of those dtypes are then handed
to Keras as NumPy float64 / int64 arrays, as a user of the documented
examples does (``np.array([...])``), and Keras converts them: a loss class
computes in its own dtype anyway, and a float64 loss *function* call comes
back float32, which the verdict reports. Set ``JAX_ENABLE_X64=1`` (the worker
inherits the environment) to run JAX with 64-bit types instead.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Any

import numpy as np

from .base import Adapter, Capabilities, ErrorRule, Result, config_round_trip
from .numpy_adapter import CLASS_NAMES

__all__ = ["Keras3Adapter", "Keras3JaxAdapter", "Keras3NumpyAdapter", "Keras3TorchAdapter", "BackendMismatch"]

_ALL_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})


class BackendMismatch(RuntimeError):
    """Keras is already imported in this process with another backend than the adapter's."""


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _bf16() -> Any:
    import ml_dtypes  # installed with jax and with keras' backends; required for bfloat16 cases

    return np.dtype(ml_dtypes.bfloat16)


def _np_dtype(dtype: str) -> Any:
    return _bf16() if dtype == "bfloat16" else np.dtype(dtype)


class Keras3Adapter(Adapter):
    """Keras 3 on one backend (``backend``), called through its public loss and metric API.

    Subclasses only set ``backend``, ``name``, ``profile`` and the dtypes the
    backend can hold; everything else (input conversion, the four forms, the
    error table) is shared.
    """

    backend: str = "jax"
    wraps = "keras"
    isolate = True
    timeout = 120.0  # the first case of a worker imports Keras and its backend
    # Keras 3 raises plain ValueError / TypeError / IndexError; the defaults of the protocol
    # classify most of them. These lines catch the wordings the defaults miss or misfile.
    error_rules = (
        # keras.losses: "Invalid value for argument `reduction`" / "`axis` must be ...".
        ErrorRule("invalid_argument", ValueError, r"argument `?(reduction|axis|from_logits|label_smoothing)"),
        ErrorRule("invalid_argument", ValueError, r"only axis=-1|axis.*(not|must)"),
        # Out-of-range class indices: torch's nll_loss / cross_entropy and NumPy fancy indexing.
        ErrorRule("invalid_label", (IndexError, RuntimeError), r"target -?\d+ is out of bounds|out of bounds"),
        # torch's F.one_hot (the sparse loss of the torch backend before Keras 3.14) on a label >= K.
        ErrorRule("invalid_label", RuntimeError, r"Class values must be smaller than num_classes"),
        # torch's F.binary_cross_entropy refuses NaN (and values outside [0, 1]) in probabilities or targets.
        ErrorRule("invalid_value", RuntimeError, r"elements of (input|target) should be between 0 and 1"),
        # Shape checks of the backends' crossentropy ops ("Arguments `target` and `output` must
        # have the same shape", "... must have the same shape up until the last dimension").
        ErrorRule("invalid_shape", ValueError, r"must have the same (shape|rank)|shape|rank|broadcast"),
        ErrorRule("invalid_shape", RuntimeError, r"size of tensor|shape|dimension|expand"),
        ErrorRule("invalid_shape", TypeError, r"shape|broadcast|incompatible"),
    )

    def __init__(self) -> None:
        from xentspec.spec.profiles import profile_for_release

        self.version = _dist_version("keras")
        # The class names the profile's base; an instance is judged under the installed release's.
        self.profile, self.profile_reason = profile_for_release(type(self).profile, "keras", self.version)

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        """Modules this adapter needs: keras and the backend's module (named like the backend)."""
        return ("keras", self.backend)

    @property
    def install(self) -> str:  # type: ignore[override]
        """The pip command that installs keras and this backend (the extras of pyproject.toml)."""
        return 'pip install "xentspec[keras]"' if self.backend == "numpy" else \
            f'pip install "xentspec[keras,{self.backend}]"'

    # ------------------------------------------------------------------ declarations

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """What this backend can run: every form, loss and parameter; its expressible dtypes."""
        return Capabilities(dtypes=self.dtypes(), profiles=frozenset({self.profile}))

    def dtypes(self) -> frozenset[str]:
        """The float dtypes this backend can hold (all four unless a subclass says otherwise)."""
        return _ALL_DTYPES

    def backend_distribution(self) -> str:
        """The distribution that provides the backend (for the report), or "" for none."""
        return ""

    def frameworks(self) -> dict[str, str]:
        """Versions of keras, the backend library, numpy and ml_dtypes, read without importing them."""
        out = {"keras": _dist_version("keras"), "keras-backend": self.backend}
        dist = self.backend_distribution()
        if dist:
            out[dist] = _dist_version(dist)
        out["numpy"] = np.__version__
        out["ml_dtypes"] = _dist_version("ml_dtypes")
        return out

    # ------------------------------------------------------------------ keras

    def keras(self) -> Any:
        """The ``keras`` module on this adapter's backend, imported on first use (see the module docstring)."""
        mod = sys.modules.get("keras")
        if mod is None:
            os.environ["KERAS_BACKEND"] = self.backend
            self._configure_backend()
            import keras as mod  # noqa: PLC0415 - deliberately late: the backend is chosen here
        got = mod.backend.backend()
        if got != self.backend:
            raise BackendMismatch(f"adapter {self.name} needs Keras on the {self.backend} backend, but keras "
                                  f"was already imported in this process with the {got} backend; run the "
                                  "adapters isolated (the default) or one backend per process")
        return mod

    def _configure_backend(self) -> None:
        """Hook run before ``import keras`` (nothing by default)."""

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """The backend tensor of dtype ``dtype`` holding exactly the values of the float64/int64 array ``a``."""
        raise NotImplementedError

    def to_numpy(self, value: Any) -> np.ndarray:
        """A backend result as a NumPy array of the same dtype (no value or dtype conversion)."""
        return np.asarray(value)

    # ------------------------------------------------------------------ evaluate

    def _inputs(self, case: Any, inp: Any) -> tuple[Any, Any, Any]:
        """y_true, y_pred and sample_weight of one call, as backend tensors of the case dtypes."""
        label_dtype = case.label_dtype or ("int64" if case.sparse else case.dtype)
        y_true = self.tensor(inp.y_true, label_dtype)
        y_pred = self.tensor(inp.y_pred, case.dtype)
        sw = None
        if inp.sample_weight is not None:
            # The function form takes no weight; loss and metric weights are of the class dtype.
            wdtype = case.params.get("dtype") or ("float32" if case.form != "function" else case.dtype)
            sw = self.tensor(inp.sample_weight, wdtype)
        return y_true, y_pred, sw

    def evaluate(self, case: Any, profile: str) -> Result:
        """Run ``case`` on Keras 3 (see :meth:`Adapter.evaluate` and adapters/README.md for the forms)."""
        keras = self.keras()
        params = dict(case.params)
        if case.form == "function":
            fn = getattr(keras.losses, case.loss)
            y_true, y_pred, _ = self._inputs(case, case.inputs)
            return Result(value=self.to_numpy(fn(y_true, y_pred, **params)))
        if case.form == "metric":
            obj = getattr(keras.metrics, CLASS_NAMES[case.loss])(**params)
            results = []
            for step in case.steps:
                if step.kind == "update":
                    y_true, y_pred, sw = self._inputs(case, step.inputs)
                    obj.update_state(y_true, y_pred, sample_weight=sw)
                elif step.kind == "reset":
                    obj.reset_state()
                else:
                    results.append(self.to_numpy(obj.result()))
            return Result(value=results)
        owner = keras.metrics if case.form == "config" and case.config_of == "metric" else keras.losses
        cls = getattr(owner, CLASS_NAMES[case.loss])
        if case.form == "loss":
            y_true, y_pred, sw = self._inputs(case, case.inputs)
            return Result(value=self.to_numpy(cls(**params)(y_true, y_pred, sample_weight=sw)))
        # config: what get_config says, what the rebuilt object says, and what the rebuilt object computes.
        rebuilt, cfg, back = config_round_trip(cls, params)
        res = Result(config=cfg, config_roundtrip=back)
        if case.inputs is not None:
            y_true, y_pred, sw = self._inputs(case, case.inputs)
            if case.config_of == "metric":
                rebuilt.update_state(y_true, y_pred, sample_weight=sw)
                res.value = self.to_numpy(rebuilt.result())
            else:
                res.value = self.to_numpy(rebuilt(y_true, y_pred, sample_weight=sw))
        return res


class Keras3JaxAdapter(Keras3Adapter):
    """Keras 3 on the JAX backend (profile ``keras3-jax``), JAX's default configuration (x64 off)."""

    name = "keras3-jax"
    backend = "jax"
    profile = "keras3-jax"

    def backend_distribution(self) -> str:
        """``jax``."""
        return "jax"

    def _configure_backend(self) -> None:
        """Turn on JAX's persistent compilation cache (unless the user configured one).

        JAX compiles every op for every new shape; the spec's cases cost about 27 s
        of CPU cold and 9 s with the cache warm (measured on 2 cores). The cache holds
        the compiled executables only, so results do not depend on it. It lives in
        ``$XENTSPEC_CACHE/jax-compilation`` (default ``~/.cache/xentspec``);
        ``XENTSPEC_JAX_CACHE=0`` turns it off.
        """
        if os.environ.get("XENTSPEC_JAX_CACHE", "1") == "0" or "JAX_COMPILATION_CACHE_DIR" in os.environ:
            return
        root = os.environ.get("XENTSPEC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xentspec")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(root, "jax-compilation")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """A ``jax.Array`` of ``dtype``, or a NumPy array when JAX cannot hold ``dtype`` (x64 off)."""
        import jax
        import jax.numpy as jnp

        arr = np.asarray(a, dtype=_np_dtype(dtype))
        if dtype in ("float64", "int64") and not jax.config.read("jax_enable_x64"):
            return arr  # jnp.asarray would round it to 32 bits here; let Keras convert it as for any user
        return jnp.asarray(arr)

    def to_numpy(self, value: Any) -> np.ndarray:
        """``np.asarray`` of a jax.Array (bfloat16 comes back as ml_dtypes bfloat16)."""
        return np.asarray(value)


class Keras3NumpyAdapter(Keras3Adapter):
    """Keras 3 on the NumPy backend (profile ``keras3-numpy``)."""

    name = "keras3-numpy"
    backend = "numpy"
    profile = "keras3-numpy"

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """A NumPy array of ``dtype`` (ml_dtypes for bfloat16): the NumPy backend's own tensor type."""
        return np.asarray(a, dtype=_np_dtype(dtype))


class Keras3TorchAdapter(Keras3Adapter):
    """Keras 3 on the PyTorch backend (profile ``keras3-torch``), CPU tensors."""

    name = "keras3-torch"
    backend = "torch"
    profile = "keras3-torch"

    def backend_distribution(self) -> str:
        """``torch``."""
        return "torch"

    def _configure_backend(self) -> None:
        """Keep Keras on the CPU even where a GPU exists: results must not depend on the machine."""
        os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

    def tensor(self, a: np.ndarray, dtype: str) -> Any:
        """A CPU ``torch.Tensor`` of ``dtype`` (bfloat16 through float32, which holds its values exactly)."""
        import torch

        if dtype == "bfloat16":
            return torch.from_numpy(np.array(a, dtype=np.float32)).to(torch.bfloat16)
        # np.array, not np.ascontiguousarray: that one makes a 0-d weight (1,), which changes
        # how Keras broadcasts a scalar sample_weight (issue 8 item 6).
        return torch.from_numpy(np.array(a, dtype=np.dtype(dtype)))

    def to_numpy(self, value: Any) -> np.ndarray:
        """A torch result as NumPy; a bfloat16 tensor is reinterpreted bit for bit as ml_dtypes bfloat16."""
        import torch

        if not isinstance(value, torch.Tensor):
            return np.asarray(value)
        t = value.detach().cpu()
        if t.dtype == torch.bfloat16:
            return t.contiguous().view(torch.int16).numpy().view(_bf16())
        return t.numpy()
