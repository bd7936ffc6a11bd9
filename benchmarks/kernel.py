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
input, (2000, 100) (``--quick``: (200, 50)), against the project's certified
reference ``xentspec.reference.truth`` on a ``Case`` built from the exact
float32 inputs (the reference's float32 fast path makes this cheap). Also
times BCE (probabilities, logits) and CCE (probabilities) on one thread as
the least thread CPU time, which a busy machine disturbs less than wall
time. Runs without torch (prints that it is missing and skips the ratios).
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


def reference_truth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correctly rounded float32 losses from ``xentspec.reference.truth`` (float32 fast path)."""
    from xentspec.reference import truth
    from xentspec.spec.case import Case, Inputs

    case = Case(id=f"benchmark/scce-logits-{x.shape[0]}x{x.shape[1]}", loss="sparse_categorical_crossentropy",
                form="function", dtype="float32", params={"from_logits": True}, profiles=("keras3",),
                inputs=Inputs(y_true=y.astype(np.int64), y_pred=x.astype(np.float64)))
    t = truth(case, "keras3")
    if t.error is not None:
        raise RuntimeError(f"reference refused the benchmark case: {t.error}")
    return t.value


def max_ulp(got: np.ndarray, want: np.ndarray) -> int:
    """Largest ULP distance over the elements whose truth is a normal float32."""
    from xentspec.spec.floats import get_format, ulp_distance

    f32 = get_format("float32")
    return max(ulp_distance(float(g), float(w), f32)
               for g, w in zip(np.ravel(got), np.ravel(want)) if abs(w) >= 2.0**-126)


def accuracy(n: int, k: int) -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((n, k)) * rng.choice([0.5, 3.0, 15.0], (n, 1))).astype(np.float32)
    y = rng.integers(0, k, n)
    x[np.arange(0, n, 3), y[::3]] += np.float32(10.0)  # some confident rows (tiny losses)
    want = reference_truth(x, y)
    got = nk.sparse_categorical_crossentropy(y, x, from_logits=True)
    big = want >= 2.0**-10  # torch loses relative accuracy on tiny losses: also show the rest
    msg = (f"max ULP error on ({n}, {k}) vs xentspec.reference: kernel {max_ulp(got, want)} "
           f"(losses >= 2**-10: {max_ulp(got[big], want[big])})")
    if torch is not None:
        tt = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction="none").numpy()
        msg += f", torch F.cross_entropy {max_ulp(tt, want)} (losses >= 2**-10: {max_ulp(tt[big], want[big])})"
    print(msg)


def cpu_ms(fn, reps: int) -> float:
    """The least thread CPU time of ``reps`` calls, in ms (steadier than wall time on a busy machine)."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best * 1e3


def other_paths(n: int, k: int, reps: int) -> None:
    """BCE and CCE from probabilities / logits: one kernel thread, least CPU time (no torch ratio)."""
    threads = nk.get_num_threads()
    nk.set_num_threads(1)
    try:
        rng = np.random.default_rng(2)
        p = rng.random((n, k), dtype=np.float32)
        t = (rng.random((n, k)) < 0.5).astype(np.float32)
        x = rng.standard_normal((n, k), dtype=np.float32) * 4
        onehot = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
        pn = p / p.sum(axis=1, keepdims=True)
        rows = {"bce probabilities": lambda: nk.binary_crossentropy(t, p),
                "bce logits": lambda: nk.binary_crossentropy(t, x, from_logits=True),
                "cce probabilities": lambda: nk.categorical_crossentropy(onehot, pn)}
        print(f"({n}, {k}), one thread, least CPU time: "
              + ", ".join(f"{name} {cpu_ms(fn, reps):.1f} ms" for name, fn in rows.items()), flush=True)
    finally:
        nk.set_num_threads(threads)


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
    other_paths(*((4096, 100) if args.quick else (65536, 100)), reps=max(3, reps // 2))
    accuracy(*acc)


if __name__ == "__main__":
    main()
