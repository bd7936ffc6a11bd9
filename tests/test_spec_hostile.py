"""Hostile and huge case files are rejected early, with file and line, never expanded (issue 9, item 4).

A YAML alias bomb is a few hundred bytes whose anchors repeat one another
until millions of elements appear; a huge literal file is megabytes of
numbers. Each must be rejected by a limit of the loader (spec/yamlio.py) in
a fraction of the time it takes to expand or parse it: the checks run on the
file size and on the node graph PyYAML composes, before anything is
constructed or validated. The files are generated here, in tmp_path.
Each rejection runs in a fresh interpreter with a timeout that only a hang
reaches (before the limits, the bomb took 37 s and 495 MB).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xentspec.spec import load_cases
from xentspec.spec.errors import SpecError
from xentspec.spec.yamlio import MAX_ALIASES, MAX_FILE_BYTES, MAX_NODES

HEAD = """\
- id: hostile/x
  loss: binary_crossentropy
  form: function
  dtype: float32
  profiles: [keras3]
"""


def bomb(levels: int, width: int = 10, field: str = "inputs") -> str:
    """Anchors that each repeat the previous one ``width`` times: width**levels elements."""
    inner = "&l0 [" + ", ".join(["0.5"] * width) + "]"
    for i in range(1, levels):
        inner = f"&l{i} [{inner}" + f", *l{i - 1}" * (width - 1) + "]"
    if field == "tags":
        return HEAD + f"  tags: {inner}\n  inputs: {{y_true: [[0.5]], y_pred: [[0.5]]}}\n"
    return HEAD + f"  inputs:\n    y_true: {inner}\n    y_pred: *l{levels - 1}\n"


def load_in_subprocess(path: Path, timeout: float = 20) -> subprocess.CompletedProcess:
    code = ("import sys; from xentspec.spec import load_cases; from xentspec.spec.errors import SpecError\n"
            "try:\n    load_cases([sys.argv[1]], builtin=False)\nexcept SpecError as e:\n"
            "    print(e); sys.exit(2)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          timeout=timeout)


def test_a_641_byte_alias_bomb_is_rejected_with_file_and_line(tmp_path):
    f = tmp_path / "bomb.yaml"
    text = bomb(6, 13)  # 13**6 = 4.8 M elements per array, in well under a kilobyte
    f.write_text(text)
    assert len(text.encode()) < 1000
    proc = load_in_subprocess(f)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bomb.yaml:7:" in proc.stdout, proc.stdout
    assert "expands to more than" in proc.stdout and "aliases" in proc.stdout


def test_an_alias_bomb_inside_tags_is_rejected(tmp_path):
    f = tmp_path / "tags.yaml"
    f.write_text(bomb(7, 10, field="tags"))
    proc = load_in_subprocess(f)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "tags.yaml:6:" in proc.stdout


def test_too_many_aliases_are_rejected_even_when_they_expand_little(tmp_path):
    refs = ", ".join(["*a"] * (MAX_ALIASES + 1))
    f = tmp_path / "aliases.yaml"
    f.write_text(HEAD + f"  notes: &a x\n  tags: [{refs}]\n  inputs: {{y_true: [[0.5]], y_pred: [[0.5]]}}\n")
    with pytest.raises(SpecError, match=r"aliases\.yaml:7: .*more than 1,000 aliases"):
        load_cases([f], builtin=False)


def test_a_13_mb_literal_file_is_rejected_by_its_size_naming_the_line(tmp_path):
    f = tmp_path / "big.yaml"
    row = "[" + ", ".join(["0.123456789"] * 100) + "],\n"
    n_rows = 13_000_000 // len(row) + 1
    f.write_text(HEAD + "  inputs:\n    y_true: [\n" + row * n_rows + "]\n    y_pred: [[0.5]]\n")
    assert f.stat().st_size > 13_000_000
    proc = load_in_subprocess(f)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    limit_line = 8 + MAX_FILE_BYTES // len(row)
    assert f"big.yaml:{limit_line}:" in proc.stdout or f"big.yaml:{limit_line + 1}:" in proc.stdout, proc.stdout
    assert "larger than the 4 MiB limit" in proc.stdout


def test_a_200_mb_file_is_rejected_without_reading_it(tmp_path):
    f = tmp_path / "huge.yaml"
    with f.open("wb") as fh:  # sparse: costs no disk and no time
        fh.write(HEAD.encode())
        fh.truncate(200 * 2**20)
    proc = load_in_subprocess(f)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "huge.yaml" in proc.stdout and "200.0 MiB" in proc.stdout


def test_a_literal_array_over_the_node_limit_is_rejected(tmp_path, monkeypatch):
    # The limit counts literal elements like any node; checked here with a small limit (the real
    # one, 1,000,000, takes a second of parsing to reach).
    import xentspec.spec.yamlio as yamlio

    monkeypatch.setattr(yamlio, "MAX_NODES", 1000)
    rows = ",\n".join("[" + ",".join(["0"] * 100) + "]" for _ in range(11))
    f = tmp_path / "many.yaml"
    f.write_text(HEAD + "  inputs:\n    y_true: [" + rows + "]\n    y_pred: [[0.5]]\n")
    with pytest.raises(SpecError, match=r"many\.yaml:7: YAML expands to more than 1,000 YAML nodes"):
        load_cases([f], builtin=False)
    assert MAX_NODES == 1_000_000


def test_deep_nesting_is_a_spec_error_not_a_recursion_error(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text(HEAD + "  notes: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match=r"deep\.yaml:\d+: .*(nesting|nested)"):
        load_cases([f], builtin=False)


def test_the_builtin_cases_are_far_inside_the_limits():
    from xentspec.spec.loader import builtin_case_files
    from xentspec.spec.yamlio import check_limits

    for f in builtin_case_files():
        assert f.stat().st_size < MAX_FILE_BYTES / 10
        check_limits(f.read_text(encoding="utf-8"), f.name)
