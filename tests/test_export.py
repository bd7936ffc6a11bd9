"""Falsifying examples of failing properties are exported as spec cases that reproduce the failure alone.

* A reference property: a deliberately wrong adapter (results times 1 + 1e-3)
  fails ``matches-reference``; ``xentspec run --export DIR`` writes the
  shrunk case with its provenance, ``xentspec cases --validate`` accepts the
  folder, ``xentspec run --spec DIR`` fails on the wrong adapter with that
  case alone and passes on the correct kernel.
* A metamorphic law: a mutant port whose ``sum`` is a mean fails
  ``sum-is-mean-times-count``; its pair of cases lands in the report folder's
  ``exported/`` by default and at least one of them fails alone.
* A property that passes removes its stale export file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

XENTSPEC = [sys.executable, "-c", "import sys; from xentspec.cli import main; sys.exit(main(sys.argv[1:]))"]

WRONG = '''\
import numpy as np
from xentspec.adapters.numpy_adapter import NumpyAdapter


class Wrong(NumpyAdapter):
    """The numpy kernel with every result multiplied by 1 + 1e-3."""

    name = "wrong"

    def evaluate(self, case, profile):
        r = super().evaluate(case, profile)
        off = lambda a: (np.asarray(a) * np.asarray(1 + 1e-3, dtype=np.asarray(a).dtype)).astype(np.asarray(a).dtype)
        r.value = [off(a) for a in r.value] if case.form == "metric" else off(r.value)
        return r
'''
MUTANT = "xentspec.conformance.mutation.mutants:SumAsMean"


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*XENTSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _report(path: Path) -> dict:
    return json.loads((path / "report.json").read_text(encoding="utf-8"))


def test_reference_property_exports_a_case_that_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "wrong.py").write_text(WRONG, encoding="utf-8")
    proc = _run(tmp_path, "run", "--adapter", "wrong.py:Wrong", "-k", "test_matches_reference and bce and not edges",
                "--out", "out", "--export", "exp", "--no-html", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [path] = sorted((tmp_path / "exp").glob("*.yaml"))
    assert path.name == "wrong--matches-reference-bce.yaml"
    assert "exp" in proc.stdout  # the short terminal report says where the case went
    text = path.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("hypothesis profile: default; seed" in h for h in header) and any("frameworks: numpy" in h for h in header)
    [case] = yaml.safe_load(text)
    assert case["id"] == "exported/wrong/matches-reference/bce/case" and "exported" in case["tags"]
    assert "property/matches-reference/bce" in case["notes"] and "seed" in case["notes"]
    v = next(v for v in _report(tmp_path / "out")["verdicts"] if v["case"] == "property/matches-reference/bce")
    assert v["property"]["exported"] == [str(path)] and v["property"]["falsifying"]
    assert "falsifying example:" in v["message"]  # the report keeps the full case

    valid = _run(tmp_path, "cases", "--validate", "--no-builtin", "--spec", "exp")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    again = _run(tmp_path, "run", "--adapter", "wrong.py:Wrong", "--no-builtin", "--spec", "exp", "--out", "again",
                 "--no-html", "-q")
    assert again.returncode == 1, again.stdout + again.stderr
    [alone] = _report(tmp_path / "again")["verdicts"]
    assert alone["case"] == case["id"] and alone["outcome"] == "failed"
    clean = _run(tmp_path, "run", "--adapter", "numpy", "--no-builtin", "--spec", "exp", "--out", "clean",
                 "--no-html", "-q")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_law_exports_its_pair_into_the_report_folder(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "--adapter", MUTANT, "-k", "test_sum_is_mean_times_count", "--out", "out",
                "--no-html", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [path] = sorted((tmp_path / "out" / "exported").glob("*.yaml"))
    assert path.name == "mutant-sum-is-mean--sum-is-mean-times-count.yaml"
    ids = [c["id"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))]
    assert ids == ["exported/mutant-sum-is-mean/sum-is-mean-times-count/a",
                   "exported/mutant-sum-is-mean/sum-is-mean-times-count/b"]
    assert _run(tmp_path, "cases", "--validate", "--no-builtin", "--spec", str(path)).returncode == 0
    again = _run(tmp_path, "run", "--adapter", MUTANT, "--no-builtin", "--spec", str(path), "--out", "again",
                 "--no-html", "-q")
    assert again.returncode == 1, again.stdout + again.stderr
    outcomes = {v["case"]: v["outcome"] for v in _report(tmp_path / "again")["verdicts"]}
    assert set(outcomes) == set(ids) and "failed" in outcomes.values()
    # On the correct kernel both exported cases pass, and so does the property, whose stale export is removed.
    stale = tmp_path / "out" / "exported" / "numpy--sum-is-mean-times-count.yaml"
    stale.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    ok = _run(tmp_path, "run", "--adapter", "numpy", "--spec", str(path), "-k",
              "exported/ or test_sum_is_mean_times_count", "--out", "out", "--no-html", "-q")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    cases = {v["case"] for v in _report(tmp_path / "out")["verdicts"]}
    assert set(ids) | {"property/sum-is-mean-times-count"} == cases
    assert not stale.exists() and path.exists()
