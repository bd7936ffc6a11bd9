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

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import os
import signal
import sys
import threading
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from .base import Adapter

__all__ = ["BUILTIN_ADAPTERS", "ENTRY_POINT_GROUP", "AdapterNotFound", "AdapterLoadError", "AdapterOptionError",
           "available_adapters", "load_adapter", "resolve_spec", "split_options", "DEFAULT_LOAD_TIMEOUT"]

DEFAULT_LOAD_TIMEOUT = 120.0
"""Seconds an adapter may take to import and construct before loading it is abandoned."""

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


class AdapterLoadError(AdapterNotFound):
    """The adapter exists but could not be loaded: its module failed to import, its constructor
    raised, or loading took longer than the load timeout. The message says which and where."""


class _LoadTimeout(BaseException):
    """Raised by the load timer inside a hanging import (a BaseException: adapter code must not swallow it)."""


@contextlib.contextmanager
def _deadline(seconds: float | None, spec: str) -> Iterator[None]:
    """Abandon the block after ``seconds`` (main thread on POSIX only; elsewhere no limit)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _LoadTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    except _LoadTimeout:
        raise AdapterLoadError(f"adapter {spec!r}: loading took longer than {seconds:g} s (it hangs while "
                               "importing or constructing; see --load-timeout)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _short(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return rel if not rel.startswith("..") else path


def _describe_exception(exc: BaseException) -> str:
    """``Type: message (file, line N)`` of an exception raised by adapter code."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"SyntaxError: {exc.msg} ({_short(exc.filename)}, line {exc.lineno})"
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "importlib" not in f.filename and not f.filename.endswith("registry.py")]
    if frames:
        f = frames[-1]
        text += f" ({_short(f.filename)}, line {f.lineno})"
    return text


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
    try:
        if factory:
            obj = obj(**options)
    except (_LoadTimeout, AdapterNotFound):
        raise  # AdapterOptionError: a value the adapter refuses (an unknown device, ...)
    except Exception as exc:  # noqa: BLE001 - the adapter's own code failed
        raise AdapterLoadError(f"adapter {spec!r}: constructing it raised {_describe_exception(exc)}") from None
    if not (hasattr(obj, "evaluate") and hasattr(obj, "name")):
        raise AdapterNotFound(f"{spec!r} is not an adapter (it has no `name` and `evaluate`); "
                              "see xentspec.adapters.Adapter")
    return obj


def _adapter_names(module: Any) -> list[str]:
    """The names of the Adapter subclasses a module defines (for "did you mean" messages)."""
    return sorted(n for n, v in vars(module).items()
                  if isinstance(v, type) and issubclass(v, Adapter) and v is not Adapter
                  and v.__module__ == module.__name__)


def load_adapter(spec: str, timeout: float | None = None) -> Adapter:
    """The adapter a spec string names (see the module docstring); raises :class:`AdapterNotFound`.

    :class:`AdapterLoadError` (a subclass) says that the adapter was found but
    failed: its module raised while importing, its constructor raised, or,
    with ``timeout`` (seconds), loading took longer than that.
    """
    with _deadline(timeout, spec):
        return _load(spec)


def _load(spec: str) -> Adapter:
    whole = spec
    spec, options = split_options(spec)
    value = available_adapters().get(spec)
    target, sep, attr = (value or spec).rpartition(":")
    if not sep and spec.endswith(".py"):
        hint = ""
        if Path(spec).is_file():
            try:
                names = _adapter_names(_import_file(Path(spec).resolve()))
            except Exception:  # noqa: BLE001 - only for the hint
                names = []
            if names:
                hint = f" (it defines {', '.join(names)})"
        raise AdapterNotFound(f"adapter {spec!r}: name the adapter in the file too, as "
                              f"{spec}:ClassName{hint}")
    if not sep or not target or not attr:
        raise AdapterNotFound(f"unknown adapter {spec!r}; available: {_listing()} "
                              "(or give module:attr or path/to/file.py:attr)")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise AdapterNotFound(f"adapter file not found: {target}")
        try:
            module = _import_file(path.resolve())
        except (_LoadTimeout, AdapterNotFound):
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit / KeyboardInterrupt at import too
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise AdapterLoadError(f"adapter {spec!r}: importing {_short(target)} failed: "
                                   f"{_describe_exception(exc)}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                raise AdapterNotFound(f"adapter {spec!r}: no module named {exc.name!r}; "
                                      f"available adapters: {_listing()}") from None
            raise AdapterLoadError(f"adapter {spec!r}: importing {target} failed: "
                                   f"{_describe_exception(exc)}") from None
        except _LoadTimeout:
            raise
        except Exception as exc:  # noqa: BLE001
            raise AdapterLoadError(f"adapter {spec!r}: importing {target} failed: "
                                   f"{_describe_exception(exc)}") from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        names = _adapter_names(module)
        raise AdapterNotFound(f"adapter {spec!r}: {target} has no attribute {attr!r}"
                              + (f"; it defines {', '.join(names)}" if names else "")) from None
    return _instantiate(obj, whole, options)
