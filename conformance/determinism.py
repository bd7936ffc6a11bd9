"""Hypothesis draws that depend on nothing but the strategy and the seed.

Hypothesis (6.13x and later) mixes "local constants" into its draws: the
integer, float and string literals of every module it considers local code
(any imported module outside site-packages and the standard library), read
from their source when they are first imported. A property run therefore
drew different examples depending on which modules the process had imported
before: a warm reference cache imports fewer reference modules than a cold
one, a ``-k`` subset imports fewer test modules, an editable install counts
as local code and a wheel does not. The suite's settings already remove the
other sources (``derandomize``, no example database, a seed per test).

:func:`independent_draws` switches the local constants off for the duration
of a property run: hypothesis' own fixed pool of "nasty" values (0, 1,
subnormals, huge numbers, ...) stays, which is deterministic. Hypothesis has
no setting for this, so the context manager swaps the one internal function
that collects the constants and empties the cache derived from it; on a
hypothesis without that function it does nothing (and the determinism test
of the suite says so).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

__all__ = ["independent_draws", "local_constants_hook"]

_lock = threading.RLock()


def local_constants_hook() -> tuple[Any, str] | None:
    """(module, attribute) of hypothesis' local-constants collector, or None if this version has none."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis without the conjecture engine
        return None
    if not callable(getattr(providers, "_get_local_constants", None)):
        return None
    return providers, "_get_local_constants"


def _clear_constant_cache(providers: Any) -> None:
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    inner = getattr(cache, "cache", cache)
    if hasattr(inner, "clear"):
        inner.clear()


@contextlib.contextmanager
def independent_draws() -> Iterator[None]:
    """Within the block, hypothesis draws no literals of imported modules (see the module docstring)."""
    hook = local_constants_hook()
    if hook is None:
        yield
        return
    providers, name = hook
    empty = providers.Constants()
    original = getattr(providers, name)
    with _lock:
        setattr(providers, name, lambda: empty)
        _clear_constant_cache(providers)  # it holds constants filtered from the local pool
        try:
            yield
        finally:
            setattr(providers, name, original)
            _clear_constant_cache(providers)
