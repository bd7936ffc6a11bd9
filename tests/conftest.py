"""Shared helpers of the command-line tests: a small case file, test adapters, ``xentspec`` in a subprocess.

``xrun(*args)`` runs the ``xentspec`` command in a fresh interpreter inside a
temporary folder holding ``cases.yaml`` (three cases) and ``adapters.py``
(adapters that answer with the reference's truth and misbehave in one
deliberate way each), so that every test sees what a user would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

XENTSPEC = [sys.executable, "-c", "import sys; from xentspec.cli import main; sys.exit(main(sys.argv[1:]))"]

SMALL_CASES = """\
- id: small/scce-fn
  loss: sparse_categorical_crossentropy
  form: function
  dtype: float32
  profiles: [keras3]
  inputs: {y_true: [0, 1], y_pred: [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]}
- id: small/bce-loss
  loss: binary_crossentropy
  form: loss
  dtype: float32
  profiles: [keras3]
  inputs: {y_true: [[0, 1]], y_pred: [[0.25, 0.75]]}
- id: small/scce-metric
  loss: sparse_categorical_crossentropy
  form: metric
  dtype: float32
  profiles: [keras3]
  steps:
    - update: {y_true: [1], y_pred: [[0.05, 0.95, 0]]}
    - result
"""

SMALL_ADAPTERS = '''\
import os
import time

import numpy as np

from xentspec.adapters import Adapter, Capabilities, CaseError, Result
from xentspec.reference import truth

STATE = {"broken": False}


class Perfect(Adapter):
    """The correctly rounded truth, in the output dtype."""

    name = "perfect"
    wraps = "the reference"
    version = "1"
    isolate = False

    def evaluate(self, case, profile):
        t = truth(case, profile)
        if t.error:
            raise CaseError(t.error, "rejected")
        v = t.value.astype(t.dtype)
        if case.form == "metric":
            return Result(value=[v[i] for i in range(v.shape[0])])
        return Result(value=v)


class Slow(Perfect):
    """Takes XSLOW seconds per case; touches slow-started when the first case begins."""

    name = "slow"

    def evaluate(self, case, profile):
        open("slow-started", "w").close()
        time.sleep(float(os.environ.get("XSLOW", "0.5")))
        return super().evaluate(case, profile)


class Interrupting(Perfect):
    """Raises KeyboardInterrupt on the loss case."""

    name = "interrupting"

    def evaluate(self, case, profile):
        if case.form == "loss":
            raise KeyboardInterrupt
        return super().evaluate(case, profile)


class Hanging(Perfect):
    """In-process; hangs on the loss case."""

    name = "hanging"

    def evaluate(self, case, profile):
        if case.form == "loss":
            time.sleep(300)
        return super().evaluate(case, profile)


class HangingAll(Perfect):
    """Isolated; hangs on every case."""

    name = "hangingall"
    isolate = True

    def evaluate(self, case, profile):
        time.sleep(300)


class OutOfMemory(Perfect):
    """Isolated; runs out of memory on the function case and is broken for good afterwards."""

    name = "oom"
    isolate = True

    def evaluate(self, case, profile):
        if STATE["broken"]:
            raise RuntimeError("still broken after the MemoryError")
        if case.form == "function":
            STATE["broken"] = True
            raise MemoryError("cannot allocate")
        return super().evaluate(case, profile)


class Mutating(Perfect):
    """Overwrites its inputs in place and answers wrongly on the function case."""

    name = "mutating"

    def evaluate(self, case, profile):
        r = super().evaluate(case, profile)
        if case.form == "function":
            case.inputs.y_pred[...] = 0.125
            r.value = (r.value * 2).astype(r.value.dtype)
        return r


class Junk(Perfect):
    """Returns an object() from its metric and a string from the function."""

    name = "junk"

    def evaluate(self, case, profile):
        if case.form == "metric":
            return Result(value=[object()])
        if case.form == "function":
            return "not an array"
        return super().evaluate(case, profile)


class Raising(Perfect):
    """Raises an exception no rule classifies on the function case."""

    name = "raising"

    def evaluate(self, case, profile):
        if case.form == "function":
            helper_that_fails()
        return super().evaluate(case, profile)


def helper_that_fails():
    raise RuntimeError("boom in helper_that_fails")


class BadCtor(Perfect):
    name = "badctor"

    def __init__(self):
        raise RuntimeError("the constructor needs a GPU")


class Loud(Perfect):
    """A name and wraps string that would break a Markdown table or inject HTML."""

    name = "loud|<img src=x onerror=alert(1)>"
    wraps = "wraps|<b>bold</b>"
'''


def run_xentspec(args: list[str], cwd: Path, timeout: float = 180, env: dict | None = None,
                 ) -> subprocess.CompletedProcess:
    """``xentspec ARGS`` in a fresh interpreter (text output captured)."""
    full_env = dict(os.environ)
    full_env.pop("XENTSPEC_TRUTH", None)
    full_env.update(env or {})
    return subprocess.run([*XENTSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


@pytest.fixture
def xdir(tmp_path: Path) -> Path:
    """A folder with cases.yaml (three small cases) and adapters.py (the test adapters)."""
    (tmp_path / "cases.yaml").write_text(SMALL_CASES)
    (tmp_path / "adapters.py").write_text(SMALL_ADAPTERS)
    return tmp_path


@pytest.fixture
def xrun(xdir: Path):
    """Run ``xentspec run --no-builtin --spec cases.yaml --no-html ARGS`` in ``xdir``."""
    def run(*args: str, timeout: float = 180, env: dict | None = None, spec: bool = True
            ) -> subprocess.CompletedProcess:
        base = ["run", "--no-builtin", "--no-html"] + (["--spec", "cases.yaml"] if spec else [])
        return run_xentspec(base + list(args), xdir, timeout=timeout, env=env)
    return run


def read_report(path: Path) -> dict[str, Any] | None:
    """The JSON report at ``path``, or None when there is none."""
    return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def xtools() -> SimpleNamespace:
    """The helpers as one object (test modules cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(cmd=list(XENTSPEC), read_report=read_report, run=run_xentspec,
                           cases=SMALL_CASES, adapters=SMALL_ADAPTERS)


# --------------------------------------------------------------------------- a NumPy with worse float32 functions

PERTURB_ENV = "XENTSPEC_TEST_PERTURB_F32_ULPS"
"""Set to N (e.g. 2): the NumPy kernel's float32 exp, log, exp2, log1p, expm1, log2 err by N ulps more."""


def _perturbed_ufunc(np_mod: Any, fn: Any, ulps: int) -> Any:
    """``fn`` on float32 arrays answering ``ulps`` ulps off its float64 value (direction from the input bits)."""
    def call(x: Any, *args: Any, out: Any = None, **kw: Any) -> Any:
        a = np_mod.asarray(x)
        if a.dtype != np_mod.float32 or args or kw:
            return fn(x, *args, **kw) if out is None else fn(x, *args, out=out, **kw)
        with np_mod.errstate(all="ignore"):
            y = fn(a.astype(np_mod.float64)).astype(np_mod.float32)
        toward = np_mod.where((a.view(np_mod.uint32) * np_mod.uint32(2654435761)) >> np_mod.uint32(31),
                              np_mod.float32(np_mod.inf), np_mod.float32(-np_mod.inf))
        move = np_mod.isfinite(y) & (y != 0)
        for _ in range(ulps):
            y = np_mod.where(move, np_mod.nextafter(y, toward), y)
        if out is None:
            return y
        out[...] = y
        return out
    return call


@pytest.fixture(autouse=True)
def _perturbed_numpy_in_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """With XENTSPEC_TEST_PERTURB_F32_ULPS=N, the kernel's modules see a NumPy whose float32
    transcendental functions are N ulps worse than correctly rounded (as on another CPU dispatch path)."""
    ulps = int(os.environ.get(PERTURB_ENV, "0") or 0)
    if not ulps:
        return
    import importlib
    import types

    import numpy as real_np

    proxy = types.ModuleType("numpy_perturbed")
    proxy.__getattr__ = lambda name: getattr(real_np, name)  # type: ignore[attr-defined]
    for name in ("exp", "log", "exp2", "log1p", "expm1", "log2", "log10"):
        setattr(proxy, name, _perturbed_ufunc(real_np, getattr(real_np, name), ulps))
    pkg = importlib.import_module("xentspec.adapters.numpy_kernel")
    for modname in ("f32math", "binary", "prob_xent", "softmax_xent", "functions", "reductions", "metrics",
                    "losses", "blocks", "precision", "validate"):
        mod = importlib.import_module(f"{pkg.__name__}.{modname}")
        if getattr(mod, "np", None) is real_np:
            monkeypatch.setattr(mod, "np", proxy)
