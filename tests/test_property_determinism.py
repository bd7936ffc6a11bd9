"""Property verdicts depend on the seed only: not on the reference cache, not on the imported modules.

* In-process: hypothesis draws the literals of imported local modules ("local
  constants"); inside :func:`independent_draws` a module full of unusual
  floats imported mid-way changes no draw (and none of its floats is drawn),
  while outside it those floats do get drawn.
* End to end: the property tests run three times in fresh processes, with a
  cold reference cache, the same cache warm, and warm with an extra module
  of float constants imported first; every property verdict (outcome,
  examples, worst ULP error, smallest margin) is the same.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from xentspec.conformance.determinism import independent_draws, local_constants_hook

CONSTANTS = [f"{i}.{i}123456789e{(-1) ** i * (i % 17)}" for i in range(1, 60)]
MODULE = "VALUES = [" + ", ".join(CONSTANTS) + "]\n"


def _draws() -> list[float]:
    out: list[float] = []

    @seed(20240229)
    @settings(max_examples=300, database=None, derandomize=True, deadline=None)
    @given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=4))
    def collect(xs: list[float]) -> None:
        out.extend(xs)

    collect()
    return out


def test_independent_draws_ignore_imported_literals(tmp_path: Path, monkeypatch) -> None:
    """A module of unusual floats imported between two runs changes nothing inside independent_draws."""
    assert local_constants_hook() is not None, "this hypothesis has no local constants: update the module"
    with independent_draws():
        before = _draws()
    (tmp_path / "xentspec_float_literals.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("xentspec_float_literals")
    try:
        values = set(module.VALUES)
        with independent_draws():
            after = _draws()
        assert after == before
        assert not values & set(after)
        leaked = _draws()  # without the guard hypothesis does draw the module's literals
        assert values & set(leaked)
    finally:
        sys.modules.pop("xentspec_float_literals", None)


SUBSET = "test_matches_reference and scce and not edges or test_class_permutation or test_weight_scaling"


def _verdicts(tmp: Path, cache: Path, out: str, *extra: str) -> dict:
    env = {"XENTSPEC_CACHE": str(cache), "PYTHONPATH": str(tmp), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                           *extra, "--pyargs", "xentspec.conformance", "--import-mode=importlib", "-q",
                           "--adapter", "numpy", "-k", SUBSET, "--xentspec-report", str(tmp / out),
                           "--xentspec-no-html"], cwd=tmp, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp / out / "report.json").read_text(encoding="utf-8"))
    return {v["case"]: (v["outcome"], (v.get("property") or {}).get("examples"), v["max_ulp_error"],
                        v["min_margin"], v["n_elements"] if "n_elements" in v else None)
            for v in report["verdicts"]}


def test_property_verdicts_same_cold_warm_and_with_more_imports(tmp_path: Path) -> None:
    """Cold cache, warm cache, warm cache plus an imported module of float literals: identical verdicts."""
    (tmp_path / "xentspec_float_literals.py").write_text(MODULE, encoding="utf-8")
    cache = tmp_path / "cache"
    cold = _verdicts(tmp_path, cache, "cold")
    assert any(cache.rglob("*.json")), "the cold run wrote no reference cache"
    warm = _verdicts(tmp_path, cache, "warm")
    more = _verdicts(tmp_path, cache, "imports", "-p", "xentspec_float_literals")
    assert len(cold) == 3 and all(v[0] == "passed" and v[1] for v in cold.values()), cold
    assert cold == warm == more
