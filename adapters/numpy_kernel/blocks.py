"""Row blocking and the thread pool that runs blocks on every core.

A kernel is a function ``work(r0, r1, scratch)`` that fills rows ``r0:r1`` of
its output. Rows are cut into blocks of about ``BLOCK_ELEMENTS`` elements so
each block's temporaries stay in the L2 cache, and the blocks are shared out
in contiguous chunks, one per thread. NumPy releases the GIL inside ufunc
loops, so two threads really use two cores. Small jobs run inline. Floating-point warnings are silenced inside blocks:
NaN and inf are legitimate results of a loss, as in Keras.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

__all__ = ["BLOCK_ELEMENTS", "rows_per_block", "run_blocks", "scratch", "set_num_threads", "get_num_threads"]

# 256 Ki float32 elements = 1 MiB per temporary: measured fastest on the
# 2-core reference machine (smaller blocks pay more per-block Python overhead).
BLOCK_ELEMENTS = 1 << 18
# Below this many elements a job runs on the calling thread only.
PARALLEL_MIN_ELEMENTS = 1 << 18

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = max(1, min(os.cpu_count() or 1, 8))


def set_num_threads(n: int) -> None:
    """Set how many threads the kernel uses (1 disables the pool)."""
    global _threads, _pool
    if n < 1:
        raise ValueError(f"n: expected a positive thread count, got {n}")
    with _lock:
        _threads = int(n)
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None


def get_num_threads() -> int:
    """How many threads the kernel uses."""
    return _threads


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="xentspec-kernel")
        return _pool


_local = threading.local()


def scratch(slot: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A per-thread reusable buffer (uninitialised) of ``shape``; ``slot`` tells buffers apart.

    Reusing buffers avoids a fresh allocation (and its page faults) per block.
    """
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    n = int(np.prod(shape))
    key = (slot, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        buf = bufs[key] = np.empty(max(n, 1), dtype=dtype)
    return buf[:n].reshape(shape)


def rows_per_block(width: int) -> int:
    """Rows per block for rows of ``width`` elements (at least 1, at most 4096)."""
    return int(min(4096, max(1, BLOCK_ELEMENTS // max(1, width))))


def run_blocks(n_rows: int, width: int, work: Callable[[int, int], None]) -> None:
    """Call ``work(r0, r1)`` over consecutive row blocks covering ``range(n_rows)``.

    Blocks run on the thread pool when the job is large enough; ``work`` must
    only write rows ``r0:r1`` of shared outputs (disjoint across calls).
    """
    if n_rows <= 0:
        return
    step = rows_per_block(width)
    nthreads = _threads if n_rows * max(width, 1) >= PARALLEL_MIN_ELEMENTS else 1
    nthreads = min(nthreads, -(-n_rows // step))
    if nthreads <= 1:
        with np.errstate(all="ignore"):
            for r0 in range(0, n_rows, step):
                work(r0, min(n_rows, r0 + step))
        return
    # One contiguous chunk of rows per thread (block-aligned), so each thread
    # streams through memory in order.
    bounds = np.linspace(0, -(-n_rows // step), nthreads + 1).round().astype(int) * step
    bounds[-1] = n_rows

    def chunk(a: int, b: int) -> None:
        # errstate is per thread: NaN/inf are results here, not warnings.
        with np.errstate(all="ignore"):
            for r0 in range(a, b, step):
                work(r0, min(b, r0 + step))

    pool = _get_pool()
    futures = [pool.submit(chunk, int(bounds[i]), int(min(bounds[i + 1], n_rows)))
               for i in range(nthreads) if bounds[i] < min(bounds[i + 1], n_rows)]
    for f in futures:
        f.result()
