"""Every usage error of the xentspec commands is one clean line and exit status 2 (issue 9, item 5).

What and where, never a traceback, never an internal class name
(``LineList``, ``LineDict``) or a raw regular expression; checked before the
run starts, so a bad ``--baseline`` or ``--out`` costs nothing and writes
nothing.
"""

from __future__ import annotations

import pytest

GEN = """\
- id: gen/huge
  loss: binary_crossentropy
  form: function
  dtype: float32
  profiles: [keras3]
  inputs:
    y_true: {shape: [4294967296, 4294967296, 0], fill: 0}
    y_pred: {shape: [4294967296, 4294967296, 0], fill: 0.5}
"""


def clean(proc, *needles: str) -> str:
    """Assert exit status 2, one error line on stderr naming every needle, and no traceback."""
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "Traceback" not in text, text
    for n in needles:
        assert n in proc.stderr, proc.stderr
    for internal in ("LineList", "LineDict", "^[", "$'"):
        assert internal not in text, text
    return proc.stderr


@pytest.mark.parametrize("command", [["cases"], ["truth"], ["run", "--no-html"]])
def test_a_huge_generator_shape_is_a_usage_error_in_every_command(xdir, xtools, command):
    (xdir / "gen.yaml").write_text(GEN)
    proc = xtools.run([*command, "--no-builtin", "--spec", "gen.yaml"], xdir)
    clean(proc, "gen.yaml:7:", "axis 0 of the shape has length 4,294,967,296")


def test_out_naming_a_file_or_an_uncreatable_path(xrun, xdir):
    (xdir / "afile").write_text("x")
    clean(xrun("--adapter", "adapters.py:Perfect", "--out", "afile"), "--out afile: is a file")
    clean(xrun("--adapter", "adapters.py:Perfect", "--out", "afile/sub"), "--out afile/sub: cannot create")


def test_a_bad_baseline_is_reported_before_the_run(xrun, xdir):
    (xdir / "base.json").write_text("{not json")
    proc = xrun("--adapter", "adapters.py:Slow", "--baseline", "base.json", "--out", "out", env={"XSLOW": "30"})
    clean(proc, "--baseline: base.json: line 1 column 2: not valid JSON")
    assert not (xdir / "out" / "report.json").exists() and not (xdir / "slow-started").exists()


def test_adapter_files_that_fail_to_import(xrun, xdir):
    (xdir / "syntax.py").write_text("class A:\n    def f(self)\n        pass\n")
    (xdir / "imports.py").write_text("import no_such_module_xyz\n")
    clean(xrun("--adapter", "syntax.py:A"), "importing syntax.py failed: SyntaxError", "line 2")
    clean(xrun("--adapter", "imports.py:A"),
          "importing imports.py failed: ModuleNotFoundError: No module named 'no_such_module_xyz'", "line 1")


def test_an_adapter_constructor_that_raises(xrun):
    clean(xrun("--adapter", "adapters.py:BadCtor"),
          "constructing it raised RuntimeError: the constructor needs a GPU")


def test_a_file_without_attr_names_what_to_add(xrun):
    err = clean(xrun("--adapter", "adapters.py"), "name the adapter in the file too, as adapters.py:ClassName")
    assert "Perfect" in err and "unknown adapter" not in err


def test_a_bad_profile_is_exit_status_2_in_run_and_truth(xrun, xdir, xtools):
    clean(xrun("--profile", "nope"), "unknown profile 'nope'")
    clean(xtools.run(["truth", "--profile", "nope"], xdir), "unknown profile 'nope'")


def test_case_file_messages_name_kinds_not_internal_classes_or_regexes(xdir, xtools):
    (xdir / "map.yaml").write_text("id: x\n")
    (xdir / "lst.yaml").write_text("- [1, 2]\n")
    (xdir / "pat.yaml").write_text("- id: Bad Id!\n  loss: binary_crossentropy\n  form: function\n"
                                   "  dtype: float32\n  inputs: {y_true: [[0]], y_pred: [[0.5]]}\n")
    (xdir / "tag.yaml").write_text("- id: a/b\n  loss: binary_crossentropy\n  form: function\n  dtype: float32\n"
                                   "  tags: [{a: 1}]\n  inputs: {y_true: [[1]], y_pred: [[0.5]]}\n")
    (xdir / "num.yaml").write_text("- id: a/b\n  loss: binary_crossentropy\n  form: function\n  dtype: float32\n"
                                   "  inputs: {y_true: [[1]], y_pred: [['zero point five']]}\n")
    run = lambda f: xtools.run(["cases", "--no-builtin", "--spec", f], xdir)  # noqa: E731
    clean(run("map.yaml"), "map.yaml:1: a case file is a YAML list of cases, got a mapping")
    clean(run("lst.yaml"), "lst.yaml:1: item 0 is a list, expected a case mapping")
    clean(run("pat.yaml"), "pat.yaml:1: case 'Bad Id!': id:", "letters, digits")
    clean(run("tag.yaml"), "tags[0]: {'a': 1} is a mapping, expected a string")
    clean(run("num.yaml"), "'zero point five' is not a number")


def test_merge_into_an_unwritable_place_and_compare_of_a_missing_file(xrun, xdir, xtools):
    ok = xrun("--adapter", "adapters.py:Perfect", "--out", "out")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (xdir / "afile").write_text("x")
    clean(xtools.run(["merge", "out/report.json", "-o", "afile/all.json"], xdir), "afile/all.json: cannot write")
    clean(xtools.run(["compare", "out/report.json", "missing.json"], xdir), "missing.json: no such file")


def test_the_plugin_reports_a_bad_spec_file_as_a_usage_error(xdir, xtools):
    import subprocess
    import sys

    (xdir / "bad.yaml").write_text("- id: bad/x\n  loss: [unclosed\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "xentspec.conformance", "-p",
                           "no:cacheprovider", "--adapter", "adapters.py:Perfect", "--no-builtin", "--spec",
                           "bad.yaml", "--xentspec-report", "out"], cwd=xdir, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert "bad.yaml:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (xdir / "out").exists()
