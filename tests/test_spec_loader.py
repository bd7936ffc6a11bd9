"""The case loader: exact numbers, and a clear SpecError for every kind of malformed file."""

from __future__ import annotations

import math
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from xentspec.spec import SpecError, load_cases, load_file
from xentspec.spec.floats import FORMATS, round_fraction

GOOD = """\
- id: t/good
  loss: sparse_categorical_crossentropy
  form: loss
  params: {from_logits: false, reduction: sum_over_batch_size}
  dtype: float32
  inputs:
    y_true: [1, 2]
    y_pred: [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    sample_weight: [0.3, 0.7]
  documented:
    value: "0.8135988"
    source: "Keras 3 R reference, loss_sparse_categorical_crossentropy"
  profiles: [keras3, keras3-tensorflow, tf-keras]
  tags: [documented, sample_weight]
"""


def write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_core_example_loads_with_exact_dtype_values(tmp_path):
    (case,) = load_file(write(tmp_path, GOOD))
    assert case.id == "t/good" and case.form == "loss" and case.profiles == ("keras3", "keras3-tensorflow", "tf-keras")
    # 0.05 means the float32 nearest to 1/20, not the float64 nearest.
    assert case.inputs.y_pred[0, 0] == 0.0500000007450580596923828125
    assert case.inputs.y_pred.dtype == np.float64 and case.inputs.y_true.dtype == np.int64
    assert case.inputs.y_true.tolist() == [1, 2]
    assert case.inputs.sample_weight[0] == float(np.float32(0.3))
    assert case.documented.value == "0.8135988"


def test_numbers_decimal_hex_and_specials(tmp_path):
    text = GOOD.replace('y_pred: [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]',
                        'y_pred: [["0x1.99999ap-4", "nan", "inf"], ["-inf", "1e-7", 0.1]]')
    (case,) = load_file(write(tmp_path, text))
    row0, row1 = case.inputs.y_pred
    assert row0[0] == float.fromhex("0x1.99999ap-4")
    assert math.isnan(row0[1]) and row0[2] == math.inf and row1[0] == -math.inf
    assert row1[1] == float(np.float32(1e-7)) == float.fromhex("0x1.ad7f2ap-24")


def test_decimal_rounds_once_to_the_dtype_not_through_float64(tmp_path):
    # 1 + 2**-24 + 2**-60 rounds to 1 + 2**-23 in float32, but to the tie 1 + 2**-24
    # in float64, which would then round to 1.0.
    exact = Fraction(1) + Fraction(1, 2**24) + Fraction(1, 2**60)
    literal = f"{exact.numerator / exact.denominator!r}"
    decimal = str(exact.numerator * 10**60 // exact.denominator)
    decimal = decimal[0] + "." + decimal[1:]
    assert Fraction(decimal) != Fraction(float(literal))
    text = GOOD.replace("[0.1, 0.8, 0.1]]", f'[0.1, 0.8, "{decimal}"]]')
    (case,) = load_file(write(tmp_path, text))
    assert case.inputs.y_pred[1, 2] == round_fraction(Fraction(decimal), FORMATS["float32"])
    assert case.inputs.y_pred[1, 2] == 1 + 2.0**-23


def test_generators_are_deterministic(tmp_path):
    text = GOOD.replace('y_true: [1, 2]', 'y_true: {shape: [2], integers: [0, 1000], seed: 3}').replace(
        'y_pred: [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]', 'y_pred: {shape: [2, 1000], normal: [0, 3], seed: 7}')
    a = load_file(write(tmp_path, text))[0].inputs
    b = load_file(write(tmp_path, text, "again.yaml"))[0].inputs
    assert a.y_pred.shape == (2, 1000) and np.array_equal(a.y_pred, b.y_pred)
    assert np.array_equal(a.y_pred, a.y_pred.astype(np.float32).astype(np.float64))
    assert a.y_true.dtype == np.int64 and 0 <= a.y_true.min() and a.y_true.max() < 1000


def test_metric_steps(tmp_path):
    text = """\
    - id: m/steps
      loss: categorical_crossentropy
      form: metric
      dtype: float32
      steps:
        - update: {y_true: [[0, 1]], y_pred: [[0.5, 0.5]]}
        - result
        - reset
        - update: {y_true: [[0, 1]], y_pred: [[0.5, 0.5]], sample_weight: [2]}
        - result: {documented: {value: "0.6931472", source: "made up for the test"}}
    """
    (case,) = load_file(write(tmp_path, text))
    assert [s.kind for s in case.steps] == ["update", "result", "reset", "update", "result"]
    assert case.steps[-1].documented.value == "0.6931472"
    assert case.profiles  # defaults to every profile


def test_builtin_spec_is_valid_and_large_enough():
    cases = load_cases()
    assert len(cases) >= 150
    assert len({c.id for c in cases}) == len(cases)


# Each malformation: (name, text, words the message must contain, expected line or None)
MALFORMED = [
    ("bad-yaml", "- id: x\n  loss: [unclosed\n", ["expected"], 3),
    ("unknown-key", GOOD.replace("  tags:", "  colour: red\n  tags:"), ["unknown key", "colour", "t/good"], 14),
    ("wrong-type", GOOD.replace("from_logits: false", "from_logits: 3"), ["params.from_logits", "t/good"], 4),
    ("ragged", GOOD.replace("[0.1, 0.8, 0.1]]", "[0.1, 0.8]]"), ["ragged", "inputs.y_pred", "t/good"], 8),
    ("duplicate-id", GOOD + GOOD.replace("documented, sample_weight", "other"), ["duplicate id", "t/good"], 15),
    ("unknown-profile", GOOD.replace("tf-keras]", "tf-kerass]"), ["unknown profile", "tf-kerass", "profiles"], 13),
    ("unknown-loss", GOOD.replace("loss: sparse_categorical_crossentropy", "loss: hinge"), ["loss", "hinge"], 2),
    ("non-numeric", GOOD.replace("[0.3, 0.7]", "[0.3, seven]"), ["sample_weight", "seven"], 9),
    ("fractional-label", GOOD.replace("y_true: [1, 2]", "y_true: [1, 1.5]"),
     ["label", "1.5", "not an integer", "inputs.y_true", "label_dtype"], 7),
    ("unsafe-tag", GOOD.replace('value: "0.8135988"', "value: !!python/object:os.system {}"),
     ["not allowed", "python/object"], 11),
    ("duplicate-key", GOOD.replace("  form: loss\n", "  form: loss\n  form: function\n"), ["duplicate key", "form"], 4),
    ("shape-mismatch", GOOD.replace("y_true: [1, 2]", "y_true: [1, 2, 0]"),
     ["y_true shape [3]", "y_pred shape [2, 3]", "invalid_shape"], 7),
    ("missing-field", GOOD.replace("  dtype: float32\n", ""), ["dtype", "required"], 1),
    ("bad-dtype", GOOD.replace("  dtype: float32\n", "  dtype: float8\n"), ["dtype", "float8"], 5),
    ("not-a-list", "id: x\nloss: y\n", ["YAML list of cases"], 1),
    ("metric-without-result", GOOD.replace("form: loss", "form: metric").replace(
        "  inputs:\n    y_true: [1, 2]\n    y_pred: [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]\n    sample_weight: [0.3, 0.7]\n",
        "  steps:\n    - update: {y_true: [1], y_pred: [[0.5, 0.5]]}\n"), ["result", "steps"], None),
    ("bad-error-category", GOOD.replace("  tags:", "  expect: {keras3: {error: boom}}\n  tags:"),
     ["expect", "boom"], 14),
    ("bad-hex", GOOD.replace("[0.3, 0.7]", '[0.3, "0x1.zzp-3"]'), ["sample_weight"], 9),
    ("label-smoothing-on-sparse", GOOD.replace("from_logits: false,", "from_logits: false, label_smoothing: 0.1,"),
     ["label_smoothing", "sparse"], 4),
]


@pytest.mark.parametrize("name,text,words,line", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_raise_specerror_naming_where(tmp_path, name, text, words, line):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_cases([path], builtin=False)
    message = str(info.value)
    assert str(path) in message or path.name in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    if line is not None:
        assert info.value.line == line, message


def test_cli_reports_malformed_file_without_traceback(tmp_path, capsys):
    from xentspec.cli import main

    path = write(tmp_path, GOOD.replace("[0.1, 0.8, 0.1]]", "[0.1, 0.8]]"))
    assert main(["cases", "--spec", str(path), "--validate"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}:8" in err and "inputs.y_pred" in err and "ragged" in err


def test_cli_lists_validates_and_shows(tmp_path, capsys):
    import json

    from xentspec.cli import main

    path = write(tmp_path, GOOD)
    assert main(["cases", "--no-builtin", "--spec", str(tmp_path), "--json", "--validate"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == ["t/good"]
    assert listed[0]["documented"]["value"] == "0.8135988"
    assert main(["cases", "--no-builtin", "--spec", str(path), "--show", "t/good", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)[0]
    assert shown["inputs"]["y_pred"][0][0] == 0.05000000074505806
    assert main(["cases", "--no-builtin", "--spec", str(path), "--show", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_missing_spec_path_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="no such file or folder"):
        load_cases([tmp_path / "absent.yaml"], builtin=False)
