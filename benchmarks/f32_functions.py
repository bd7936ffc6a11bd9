"""Accuracy of NumPy's float32 exp/log family on this CPU's dispatch path, next to the kernel's helpers.

Usage::

    python3 benchmarks/f32_functions.py
    NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" python3 benchmarks/f32_functions.py

Prints the dispatch path (the CPU feature groups NumPy uses) and, over
subsampled sweeps of every float32 in each function's range, the largest
error in ulps of the float32 result against NumPy's float64 function of the
same (exact) input, for NumPy's float32 ``exp``, ``log``, ``exp2``,
``log1p`` and for the kernel's ``f32math`` helpers, plus the helpers' time
per element. NumPy's float32 functions differ between paths (AVX2,
AVX-512, baseline); the helpers must not (docs/numpy-kernel.md).
"""

from __future__ import annotations

import time

import numpy as np

from xentspec.adapters.numpy_kernel import f32math


def _sweep(lo: float, hi: float, step: int) -> np.ndarray:
    a, b = np.float32([lo, hi]).view(np.uint32)
    return np.arange(a, b, step, dtype=np.uint32).view(np.float32)


def _ulp32(v: np.ndarray) -> np.ndarray:
    v32 = np.abs(v).astype(np.float32)
    return (np.nextafter(v32, np.float32(np.inf)) - v32).astype(np.float64)


def max_ulp(got: np.ndarray, want: np.ndarray) -> float:
    """Largest |got - want| in ulps of want (float32 ulps), over finite nonzero wants."""
    ok = np.isfinite(want) & (want != 0) & (np.abs(want) >= 2.0 ** -126)
    return float(np.max(np.abs(got.astype(np.float64)[ok] - want[ok]) / _ulp32(want[ok])))


def dispatch_path() -> str:
    """The CPU feature groups NumPy dispatches to here."""
    from numpy._core._multiarray_umath import __cpu_features__

    return " ".join(sorted(k for k, v in __cpu_features__.items() if v and k.startswith("X86"))) or "?"


def per_element_ns(fn, x: np.ndarray) -> float:
    fn(x)
    best = float("inf")
    for _ in range(15):
        t = time.thread_time()
        fn(x)
        best = min(best, time.thread_time() - t)
    return best * 1e9 / x.size


def main() -> None:
    print(f"numpy {np.__version__}, dispatch: {dispatch_path()}")
    pos = _sweep(1e-30, 3e38, 997)
    unit = np.concatenate([_sweep(0.5, 2.0, 61), _sweep(1e-30, 1.0, 997)])
    expx = np.concatenate([_sweep(1e-30, 87.0, 211), -_sweep(1e-30, 87.0, 211)])
    l1p = np.concatenate([_sweep(1e-30, 1e6, 401), -_sweep(1e-30, 0.999999, 401)])
    e2 = np.concatenate([_sweep(1e-30, 126.0, 211), -_sweep(1e-30, 126.0, 211)])
    f64 = np.float64
    rows = [
        ("numpy float32 exp", max_ulp(np.exp(expx), np.exp(expx.astype(f64)))),
        ("numpy float32 log", max_ulp(np.log(pos), np.log(pos.astype(f64)))),
        ("numpy float32 exp2", max_ulp(np.exp2(e2), np.exp2(e2.astype(f64)))),
        ("numpy float32 log1p", max_ulp(np.log1p(l1p), np.log1p(l1p.astype(f64)))),
        ("kernel log1p_f32", max_ulp(f32math.log1p_f32(l1p), np.log1p(l1p.astype(f64)))),
        ("kernel exp_neg", max_ulp(f32math.exp_neg(np.abs(expx)), np.exp(-np.abs(expx).astype(f64)))),
        ("kernel log1p_exp_neg", max_ulp(f32math.log1p_exp_neg(np.abs(expx)),
                                         np.log1p(np.exp(-np.abs(expx).astype(f64))))),
    ]
    h, r = f32math.log_parts(unit)
    want = np.log(unit.astype(f64))
    m = want != 0
    rel = float(np.max(np.abs(h.astype(f64) + r.astype(f64) - want)[m] / np.abs(want[m])))
    for name, u in rows:
        print(f"{name:24s} max {u:.4f} ulp")
    print(f"{'kernel log_parts H + R':24s} max relative {rel / 2.0 ** -24:.4f} * 2**-24")
    x = np.abs(np.random.default_rng(0).standard_normal(1 << 18, dtype=np.float32)) * 4
    for name, fn in (("numpy float32 log1p", np.log1p), ("kernel log1p_f32", f32math.log1p_f32),
                     ("kernel exp_neg", f32math.exp_neg), ("kernel log_parts", f32math.log_parts)):
        print(f"{name:24s} {per_element_ns(fn, x):6.2f} ns per element (one thread, 2**18 elements)")


if __name__ == "__main__":
    main()
