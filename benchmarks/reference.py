"""Benchmark of the reference's certified float32 truth (not a timed test).

A 1024 x 1000 batch of N(0, 3^2) float32 logits, sparse categorical
crossentropy from logits, mean reduction:

* mpmath deciding every element (``fast_truth(use_filter=False)``),
* the float64 pre-filter, handing undecided rows to mpmath (``use_filter=True``),
* arb (python-flint) on the same rows, where installed,
* and the whole built-in spec, cold (no cache), through ``truth``.

Run: ``python3 benchmarks/reference.py [--skip-spec]``. Prints elements per second for each path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def _case(B: int, C: int, seed: int = 0):
    from xentspec.spec.case import Case, Inputs

    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, size=(B, C)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, C, size=B).astype(np.int64)
    return Case(id="bench", loss="sparse_categorical_crossentropy", form="loss", dtype="float32",
                params={"from_logits": True, "reduction": "mean"}, profiles=("keras3",),
                inputs=Inputs(y_true=y, y_pred=x))


def _time(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-spec", action="store_true", help="skip the whole-spec run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from xentspec.reference.fastpath import fast_truth, filter64

    B, C = 1024, 1000
    case = _case(B, C)
    n = B * C
    print(f"SCCE from logits, float32, {B}x{C}, mean reduction ({n} elements)")

    t_f, got_f = _time(lambda: fast_truth(case, "keras3", "float32", "mpmath", use_filter=True), args.repeat)
    rows = case.inputs.y_pred
    _, _, _, ok = filter64(rows, case.inputs.y_true)
    print(f"  float64 filter + mpmath fallback: {t_f:8.3f} s  {n / t_f:12.0f} elem/s  "
          f"value {got_f[0][()]!r} ({int((~ok).sum())} rows to mpmath)")

    t_m, got_m = _time(lambda: fast_truth(case, "keras3", "float32", "mpmath", use_filter=False), 1)
    print(f"  mpmath decides every element:     {t_m:8.3f} s  {n / t_m:12.0f} elem/s  value {got_m[0][()]!r}")
    assert got_m[0][()] == got_f[0][()], "the two paths disagree"

    from xentspec.reference.fastpath import mp_rows

    sub = 64
    t_r, _ = _time(lambda: mp_rows(rows[:sub], case.inputs.y_true[:sub]), 1)
    print(f"  mpmath libmp per element (mp_rows, {sub} rows): {t_r:8.3f} s  {sub * C / t_r:12.0f} elem/s")

    try:
        import flint  # noqa: F401
    except ImportError:
        print("  arb: python-flint not installed (pip install python-flint)")
    else:
        from xentspec.reference.certify import certify_all
        from xentspec.reference.sparse import sparse_logits
        from xentspec.spec.floats import get_format

        sub = 64
        elems = [sparse_logits(rows[i], int(case.inputs.y_true[i])) for i in range(sub)]
        t_a, _ = _time(lambda: certify_all(elems, get_format("float32"), "arb", want_digits=False), 1)
        print(f"  arb, generic element path ({sub} rows): {t_a:8.3f} s  {sub * C / t_a:12.0f} elem/s")
        t_g, _ = _time(lambda: certify_all(elems, get_format("float32"), "mpmath", want_digits=False), 1)
        print(f"  mpmath, generic element path ({sub} rows): {t_g:8.3f} s  {sub * C / t_g:12.0f} elem/s")

    if not args.skip_spec:
        from xentspec.reference import truth
        from xentspec.spec import load_cases

        cases = load_cases()
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["XENTSPEC_CACHE"] = tmp
            t0 = time.perf_counter()
            count = elems_total = 0
            for c in cases:
                for p in c.profiles:
                    t = truth(c, p, cache=False)
                    count += 1
                    elems_total += 0 if t.value is None else t.value.size
            dt = time.perf_counter() - t0
        print(f"whole built-in spec, cold: {len(cases)} cases, {count} (case, profile) truths, "
              f"{elems_total} outputs in {dt:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
