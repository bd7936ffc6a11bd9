"""Benchmark of the NumPy kernel: SCCE from logits, float32, mean reduction, vs PyTorch CPU.

Usage::

    python3 benchmarks/kernel.py            # (4096, 1000) and (65536, 1000)
    python3 benchmarks/kernel.py --quick    # small shapes, few repetitions

Prints, per shape: median wall time of the kernel's
``SparseCategoricalCrossentropy(from_logits=True)`` and of
``torch.nn.functional.cross_entropy`` (same inputs, same run), the throughput
ratio torch_time / kernel_time (> 1: the kernel is faster), and the kernel's
peak extra memory measured with tracemalloc (NumPy reports its allocations
to it). Then the largest ULP error of both against ground truth on a smaller
input: the project's reference (``xentspec.reference``) when it can be used,
else mpmath at 50 digits on the exact float32 inputs. Runs without torch
(prints that it is missing and skips the ratios).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from xentspec.adapters import numpy_kernel as nk

try:
    import torch
    import torch.nn.functional as F
except Exception:  # torch is optional
    torch = None


def median_time(fn, reps: int) -> float:
    fn()  # warm up (thread pool, page faults of the inputs)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_extra_mib(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def make_inputs(n: int, k: int, confident: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k), dtype=np.float32)
    y = rng.integers(0, k, n)
    if confident:  # a trained model: the label's logit well ahead (losses ~1e-3)
        x[np.arange(n), y] += np.float32(12.0)
    return x, y


def bench_shape(n: int, k: int, reps: int, confident: bool) -> None:
    x, y = make_inputs(n, k, confident)
    loss = nk.SparseCategoricalCrossentropy(from_logits=True)
    t_kernel = median_time(lambda: loss(y, x), reps)
    mem = peak_extra_mib(lambda: loss(y, x))
    label = f"({n}, {k}){' confident' if confident else ''}"
    line = f"{label:24s} kernel {t_kernel * 1e3:9.2f} ms  peak extra {mem:6.2f} MiB"
    if torch is not None:
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        t_torch = median_time(lambda: F.cross_entropy(xt, yt), reps)
        line += f"  torch {t_torch * 1e3:9.2f} ms  ratio {t_torch / t_kernel:5.2f}x"
        diff = abs(float(loss(y, x)) - float(F.cross_entropy(xt, yt)))
        line += f"  |mean diff| {diff:.2e}"
    print(line, flush=True)


def scratch_mib() -> float:
    """Per-thread scratch buffers kept between calls (not seen by tracemalloc after warm-up)."""
    from xentspec.adapters.numpy_kernel import blocks

    return blocks.BLOCK_ELEMENTS * 4 * nk.get_num_threads() / 2**20


def _truth_mpmath(x: np.ndarray, y: np.ndarray) -> list[float]:
    import mpmath

    from xentspec.spec.floats import get_format, round_dyadic

    f32 = get_format("float32")
    out = []
    with mpmath.workdps(50):
        for row, t in zip(x, y):
            r = [mpmath.mpf(float(v)) for v in row]
            m = max(r)
            v = m + mpmath.log(mpmath.fsum(mpmath.exp(a - m) for a in r)) - r[int(t)]
            man, exp = v.man_exp
            out.append(round_dyadic(man < 0, abs(int(man)), int(exp), f32))
    return out


def _truth_reference(x: np.ndarray, y: np.ndarray) -> list[float] | None:
    """Per-element truth from xentspec.reference when its API can build this case, else None."""
    try:
        from xentspec.reference import truth  # noqa: F401
        from xentspec.spec import make_case  # type: ignore[attr-defined]
    except Exception:
        return None
    try:
        case = make_case(loss="sparse_categorical_crossentropy", form="function",
                         y_true=y.tolist(), y_pred=x, from_logits=True, dtype="float32")
        t = truth(case, "keras3")
        return [float(v) for v in np.ravel(t.values)]
    except Exception:
        return None


def accuracy(n: int, k: int) -> None:
    from xentspec.spec.floats import get_format, ulp_distance

    f32 = get_format("float32")
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((n, k)) * rng.choice([0.5, 3.0, 15.0], (n, 1))).astype(np.float32)
    y = rng.integers(0, k, n)
    x[np.arange(0, n, 3), y[::3]] += np.float32(10.0)  # some confident rows (tiny losses)
    want = _truth_reference(x, y)
    source = "xentspec.reference"
    if want is None:
        source = "mpmath 50 digits (xentspec.reference not usable here)"
        want = _truth_mpmath(x, y)
    got = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    worst_k = max(ulp_distance(float(g), w, f32) for g, w in zip(got, want) if abs(w) >= 2.0**-126)
    msg = f"max ULP error on ({n}, {k}) vs {source}: kernel {worst_k}"
    if torch is not None:
        tt = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction="none").numpy()
        worst_t = max(ulp_distance(float(g), w, f32) for g, w in zip(tt, want) if abs(w) >= 2.0**-126)
        msg += f", torch F.cross_entropy {worst_t}"
    print(msg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes and few repetitions")
    ap.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    args = ap.parse_args()
    if args.threads:
        nk.set_num_threads(args.threads)
    print(f"numpy {np.__version__}, kernel threads {nk.get_num_threads()}", end="")
    if torch is None:
        print(", torch missing: ratios skipped")
    else:
        print(f", torch {torch.__version__} threads {torch.get_num_threads()}")
    if args.quick:
        shapes, reps, acc = [(1024, 1000), (4096, 1000)], 5, (200, 50)
    else:
        shapes, reps, acc = [(4096, 1000), (65536, 1000)], 15, (2000, 100)
    print(f"persistent scratch buffers: {scratch_mib():.1f} MiB (one float32 block per thread)")
    for n, k in shapes:
        bench_shape(n, k, reps if n < 65536 else max(5, reps // 3), confident=False)
    n, k = shapes[-1]
    bench_shape(n, k, max(3, reps // 3), confident=True)
    accuracy(*acc)


if __name__ == "__main__":
    main()
