"""Every property (and so every metamorphic law) passes on the NumPy kernel, a correct implementation, under
every profile: a law that fails a correct implementation of the profile is a bug in the law.

One pytest run in a subprocess, with the NumPy kernel under each profile as
its own adapter (``kernel-<profile>``) and the ``smoke`` hypothesis profile;
the CI's conformance runs repeat this with ``default`` for every profile, and
the mutation run with ``ci`` for keras3, tf-keras and keras3-jax. Besides
passing, each law must have run examples (a law whose conditions reject every
draw would pass vacuously) or be skipped for its stated reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xentspec.spec.profiles import load_profiles

PROFILES = list(load_profiles())

# Laws that do not hold under a profile, and why (the test asserts the skip names the reason).
SKIPPED = {("keras3-numpy", "property/bce-logit-symmetry"): "not symmetric",
           ("tf1", "property/ignore-class-drops-entries"): "no ignore_class"}

ADAPTERS = "from xentspec.adapters.numpy_adapter import NumpyAdapter\n" + "".join(
    f"\n\nclass K{i}(NumpyAdapter):\n    name = 'kernel-{p}'\n    profile = '{p}'\n" for i, p in enumerate(PROFILES))


def test_every_property_passes_on_the_kernel_under_every_profile(tmp_path: Path) -> None:
    """All properties pass with examples run (or skip with their reason) under every profile."""
    (tmp_path / "kernels.py").write_text(ADAPTERS, encoding="utf-8")
    out = tmp_path / "report"
    adapters = [a for i in range(len(PROFILES)) for a in ("--adapter", f"kernels.py:K{i}")]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                           "--pyargs", "xentspec.conformance", "--import-mode=importlib", "-q", "-k",
                           "test_properties", *adapters, "--xentspec-hypothesis-profile", "smoke",
                           "--xentspec-report", str(out), "--xentspec-no-html"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    verdicts = json.loads((out / "report.json").read_text(encoding="utf-8"))["verdicts"]
    assert len(verdicts) == 18 * len(PROFILES)
    for v in verdicts:
        assert v["adapter"] == f"kernel-{v['profile']}"
        why = SKIPPED.get((v["profile"], v["case"]))
        if why:
            assert v["outcome"] == "skipped" and why in (v["reason"] or ""), v
        else:
            assert v["outcome"] == "passed" and v["property"]["examples"] >= 5, v
