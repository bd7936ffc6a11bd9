"""Finding adapters: built-in names, ``module:attr``, ``path/to/file.py:attr`` and entry points.

An adapter *spec* is the string a user passes to ``--adapter``:

* a built-in name (``numpy``);
* a name registered by an installed distribution in the entry-point group
  ``xentspec.adapters`` (``[project.entry-points."xentspec.adapters"] mylib = "mylib.xent:Adapter"``);
* ``package.module:attr``;
* ``path/to/file.py:attr`` (the file is imported under a private module name);

each optionally followed by adapter options, ``SPEC?key=value[&key=value]``
(``torch?device=cuda``): they are passed to the adapter class (or factory) as
keyword arguments, so a spec string alone rebuilds the same adapter in a worker
process. An option the adapter does not take, or a value it rejects, is an
:class:`AdapterOptionError` (a kind of :class:`AdapterNotFound`).

``attr`` may name an :class:`~xentspec.adapters.base.Adapter` subclass (it is
instantiated without arguments), an instance, or a function returning one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .base import Adapter

__all__ = ["BUILTIN_ADAPTERS", "ENTRY_POINT_GROUP", "AdapterNotFound", "AdapterOptionError", "available_adapters",
           "load_adapter", "resolve_spec", "split_options"]

ENTRY_POINT_GROUP = "xentspec.adapters"

# name -> "module:attr" of the adapters that ship with xentspec
BUILTIN_ADAPTERS: dict[str, str] = {
    "numpy": "xentspec.adapters.numpy_adapter:NumpyAdapter",
    # Real Keras 3, one backend per worker process (the keras / jax / torch extras).
    "keras3-jax": "xentspec.adapters.keras3_adapter:Keras3JaxAdapter",
    "keras3-numpy": "xentspec.adapters.keras3_adapter:Keras3NumpyAdapter",
    "keras3-torch": "xentspec.adapters.keras3_adapter:Keras3TorchAdapter",
    "keras3-tensorflow": "xentspec.adapters.keras3_tensorflow:Keras3TensorflowAdapter",
    # Keras 2 through tf-keras on TensorFlow 2 (the tf-keras extra).
    "tf-keras": "xentspec.adapters.tf_keras_adapter:TfKerasAdapter",
    # Keras-semantics ports on other frameworks' own primitives (xentspec.adapters.ports);
    # each takes the option device (cpu, cuda): "torch?device=cuda".
    "torch": "xentspec.adapters.ports.torch_port:TorchPortAdapter",
    "jax": "xentspec.adapters.ports.jax_port:JaxPortAdapter",
    "onnxruntime": "xentspec.adapters.ports.onnx_port:OnnxRuntimePortAdapter",
    "mlx": "xentspec.adapters.ports.mlx_port:MlxPortAdapter",
}


class AdapterNotFound(LookupError):
    """The adapter spec names nothing loadable; the message lists the available adapters."""


class AdapterOptionError(AdapterNotFound, ValueError):
    """An adapter option (``SPEC?key=value``) the adapter does not take, or a value it cannot honour."""


def split_options(spec: str) -> tuple[str, dict[str, str]]:
    """``"torch?device=cuda"`` -> ``("torch", {"device": "cuda"})``; a spec without ``?`` has no options."""
    base, sep, query = spec.partition("?")
    if not sep:
        return spec, {}
    opts: dict[str, str] = {}
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not key or not eq or not value:
            raise AdapterOptionError(f"adapter {spec!r}: malformed option {part!r}; "
                                     "write NAME?key=value[&key=value]")
        if key in opts:
            raise AdapterOptionError(f"adapter {spec!r}: option {key!r} given twice")
        opts[key] = value
    return base, opts


def _entry_points() -> dict[str, str]:
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken metadata of some distribution
        return {}
    return {ep.name: ep.value for ep in eps}


def available_adapters() -> dict[str, str]:
    """Every adapter name that can be given alone, with where it is loaded from (built-ins first)."""
    out = dict(BUILTIN_ADAPTERS)
    for name, value in sorted(_entry_points().items()):
        out.setdefault(name, value)
    return out


def resolve_spec(spec: str) -> str:
    """A spec that loads the same adapter from any working directory (relative paths made absolute)."""
    base, sep, query = spec.partition("?")
    target, colon, attr = base.rpartition(":")
    if colon and target.endswith(".py"):
        return f"{Path(target).resolve()}:{attr}{sep}{query}"
    return spec


def _import_file(path: Path) -> Any:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    modname = f"_xentspec_adapter_{path.stem}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise AdapterNotFound(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[modname]
        raise
    return module


def _listing() -> str:
    names = available_adapters()
    return ", ".join(names) if names else "(none)"


def _instantiate(obj: Any, spec: str, options: dict[str, str] | None = None) -> Adapter:
    options = options or {}
    factory = isinstance(obj, type) or (callable(obj) and not hasattr(obj, "evaluate"))
    if options:
        if not factory:
            raise AdapterOptionError(f"adapter {spec!r}: an adapter instance takes no options "
                                     f"({', '.join(sorted(options))})")
        try:
            inspect.signature(obj).bind(**options)
        except TypeError:
            raise AdapterOptionError(f"adapter {spec!r} takes no option(s) {', '.join(sorted(options))}") from None
        except ValueError:  # no signature to check: let the call decide
            pass
    if factory:
        obj = obj(**options)
    if not (hasattr(obj, "evaluate") and hasattr(obj, "name")):
        raise AdapterNotFound(f"{spec!r} is not an adapter (it has no `name` and `evaluate`); "
                              "see xentspec.adapters.Adapter")
    return obj


def load_adapter(spec: str) -> Adapter:
    """The adapter a spec string names (see the module docstring); raises :class:`AdapterNotFound`."""
    whole = spec
    spec, options = split_options(spec)
    value = available_adapters().get(spec)
    target, sep, attr = (value or spec).rpartition(":")
    if not sep or not target or not attr:
        raise AdapterNotFound(f"unknown adapter {spec!r}; available: {_listing()} "
                              "(or give module:attr or path/to/file.py:attr)")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise AdapterNotFound(f"adapter file not found: {target}")
        module = _import_file(path.resolve())
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                raise AdapterNotFound(f"adapter {spec!r}: no module named {exc.name!r}; "
                                      f"available adapters: {_listing()}") from None
            raise
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise AdapterNotFound(f"adapter {spec!r}: {target} has no attribute {attr!r}") from None
    return _instantiate(obj, whole, options)
