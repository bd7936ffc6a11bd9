"""Run the xentspec conformance suite on this port and compare it with the committed baseline.

The suite runs in a subprocess (``python -m xentspec run``): it is a pytest session of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def xentspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xentspec", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_port_conforms_and_matches_its_baseline(tmp_path):
    out = tmp_path / "report"
    run = xentspec("run", "--adapter", "example-port", "--expectations", "expectations.yaml", "--no-html",
                   "--quiet", "--out", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    counts = report["summary"]["example-port"]
    assert counts["passed"] > 100 and counts["failed"] == counts["error"] == 0
    compare = xentspec("compare", "baseline/report.json", str(out / "report.json"))
    assert compare.returncode == 0, compare.stdout[-3000:]
