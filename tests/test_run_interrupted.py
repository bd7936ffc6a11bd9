"""A run that does not finish never replaces the last complete report; a run of nothing is an error.

Issue 9, items 1 and 2: Ctrl-C, an adapter raising KeyboardInterrupt, a spec
syntax error, an expectation-file error and a ``-k`` that matches nothing
each leave ``<out>/report.json`` as the last complete run wrote it, write
their partial report (if any) to ``<out>/interrupted/`` with a top-level
``interrupted`` field, and exit non-zero. Zero cases, or nothing judged
because every case was skipped, is an error too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def _complete(xrun, xdir: Path, real: bool = False) -> str:
    """The report of a complete run in out/ (a stand-in unless ``real``); returns its report.json text."""
    if real:
        ok = xrun("--adapter", "adapters.py:Perfect", "--out", "out")
        assert ok.returncode == 0, ok.stdout + ok.stderr
    else:  # any content will do: the point is that nothing writes over it
        (xdir / "out").mkdir()
        for name in ("report.json", "report.md", "junit.xml"):
            (xdir / "out" / name).write_text(f"the last complete run's {name}\n")
    return (xdir / "out" / "report.json").read_text()


def _intact(xdir: Path, before: str) -> None:
    assert (xdir / "out" / "report.json").read_text() == before, "the last complete report was replaced"
    assert (xdir / "out" / "junit.xml").read_text() == "the last complete run's junit.xml\n" or "<?xml" in \
        (xdir / "out" / "junit.xml").read_text()


def test_sigint_leaves_the_last_complete_report_and_writes_a_marked_partial_one(xrun, xdir, xtools):
    before = _complete(xrun, xdir)
    proc = subprocess.Popen([*xtools.cmd, "run", "--no-builtin", "--no-html", "--spec", "cases.yaml",
                             "--adapter", "adapters.py:Slow", "--out", "out"], cwd=xdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "XSLOW": "3"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (xdir / "slow-started").exists():
        time.sleep(0.05)
    assert (xdir / "slow-started").exists(), "the run never started a case"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    _intact(xdir, before)
    partial = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert partial is not None, out + err
    assert partial["interrupted"]["kind"] == "keyboard_interrupt"
    assert "KeyboardInterrupt" in partial["interrupted"]["reason"]
    assert partial["interrupted"]["ran"] < 3
    assert "INTERRUPTED" in (xdir / "out" / "interrupted" / "report.md").read_text()
    assert "interrupted" in (out + err).lower() and "out/interrupted/" in out + err


def test_an_adapter_raising_keyboardinterrupt_interrupts_the_run_without_replacing_the_report(xrun, xdir, xtools):
    before = _complete(xrun, xdir)
    proc = xrun("--adapter", "adapters.py:Interrupting", "--out", "out")
    assert proc.returncode == 130, proc.stdout + proc.stderr
    _intact(xdir, before)
    partial = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert partial["interrupted"]["kind"] == "keyboard_interrupt"
    assert "small/bce-loss" in partial["interrupted"]["reason"]
    # junit.xml of the complete run is kept too; the partial one sits beside the partial report
    assert (xdir / "out" / "interrupted" / "junit.xml").exists()


def test_a_spec_syntax_error_is_a_usage_error_and_writes_nothing(xrun, xdir):
    before = _complete(xrun, xdir)
    (xdir / "bad.yaml").write_text("- id: bad/x\n  loss: [unclosed\n")
    proc = xrun("--adapter", "adapters.py:Perfect", "--spec", "bad.yaml", "--out", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bad.yaml:" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    _intact(xdir, before)


def test_an_expectations_error_is_a_usage_error_naming_file_and_line_once(xrun, xdir):
    before = _complete(xrun, xdir)
    (xdir / "exp.yaml").write_text("- case: small/*\n  reason: x\n- case: [\n")
    proc = xrun("--adapter", "adapters.py:Perfect", "--expectations", "exp.yaml", "--out", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert "exp.yaml:3" in text or "exp.yaml:4" in text, text
    assert text.count("exp.yaml") == 1, text
    assert "Traceback" not in text
    _intact(xdir, before)


def test_k_matching_nothing_is_an_error_that_keeps_the_report(xrun, xdir, xtools):
    before = _complete(xrun, xdir)
    proc = xrun("--adapter", "adapters.py:Perfect", "-k", "no_such_case", "--out", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "-k 'no_such_case' matched none of the 3 cases" in proc.stderr
    _intact(xdir, before)
    partial = xtools.read_report(xdir / "out" / "interrupted" / "report.json")
    assert partial["interrupted"]["kind"] == "no_cases"


def test_a_complete_run_removes_a_stale_partial_report(xrun, xdir):
    xrun("--adapter", "adapters.py:Interrupting", "--out", "out")
    assert (xdir / "out" / "interrupted" / "report.json").exists()
    _complete(xrun, xdir, real=True)
    assert not (xdir / "out" / "interrupted").exists()


def test_zero_cases_is_an_error_saying_why(xrun, xdir):
    (xdir / "empty.yaml").write_text("# nothing here yet\n")
    (xdir / "nofiles").mkdir()
    (xdir / "nofiles" / "README.txt").write_text("no yaml\n")
    empty = xrun("--adapter", "adapters.py:Perfect", "--spec", "empty.yaml", spec=False)
    assert empty.returncode == 2, empty.stdout + empty.stderr
    assert "empty.yaml: holds no cases" in empty.stderr
    folder = xrun("--adapter", "adapters.py:Perfect", "--spec", "nofiles", spec=False)
    assert folder.returncode == 2
    assert "nofiles: no .yaml or .yml files in this folder" in folder.stderr


def test_a_run_whose_every_case_is_skipped_fails_and_says_so(xrun, xdir):
    (xdir / "tf.yaml").write_text((xdir / "cases.yaml").read_text().replace("profiles: [keras3]",
                                                                               "profiles: [tf-keras]"))
    proc = xrun("--adapter", "adapters.py:Perfect", "--spec", "tf.yaml", spec=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing was judged: all 3 cases were skipped" in proc.stdout + proc.stderr
