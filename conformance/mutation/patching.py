"""The machinery of a mutant: replace attributes of the kernel's modules for the duration of one call.

A :class:`Mutant` is the built-in NumPy adapter whose ``evaluate`` runs
inside :func:`patched` (module attributes or methods replaced by buggy
copies, restored afterwards even when the call raises), and whose kernel
calls may get a profile with some choices changed (a port that follows
another Keras release or backend in one place). Nothing outside the kernel
is touched: the reference, which runs in the same process, never sees a
mutation.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence

from xentspec.adapters.numpy_adapter import NumpyAdapter
from xentspec.spec.profiles import Profile, get_profile

__all__ = ["Mutant", "patched", "swapped_profile"]

_lock = threading.RLock()
_MISSING = object()
Patch = tuple[Any, str, Any]


@contextlib.contextmanager
def patched(patches: Sequence[Patch]) -> Iterator[None]:
    """Within the block, ``setattr(owner, name, new)`` for every patch; the originals come back after."""
    with _lock:
        # A class keeps its own __dict__ entry (a staticmethod stays one); an inherited name is deleted again.
        saved = [(owner, name, owner.__dict__.get(name, _MISSING) if isinstance(owner, type)
                  else getattr(owner, name)) for owner, name, _ in patches]
        try:
            for owner, name, new in patches:
                setattr(owner, name, new)
            yield
        finally:
            for owner, name, old in reversed(saved):
                if old is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, old)


def swapped_profile(profile: str | Profile, changes: dict[str, Any]) -> Profile:
    """The profile with some choices replaced (same name, so configs look unchanged)."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    return Profile(name=prof.name, description=prof.description, choices={**dict(prof.choices), **changes})


class Mutant(NumpyAdapter):
    """The NumPy kernel with one porting bug (subclasses set ``patches`` and/or ``choices``).

    ``bug`` says what the port gets wrong, ``sources`` cite upstream reports
    of the same bug, ``blind`` (when set) says why no property test can see
    the bug by construction (only spec cases can), so the mutation run does
    not count it against the properties.
    """

    name = "mutant"
    bug = ""
    sources: tuple[str, ...] = ()
    blind: str | None = None
    choices: dict[str, Any] = {}

    def patches(self) -> list[Patch]:
        """(owner, attribute, replacement) triples applied while the mutant evaluates a case."""
        return []

    def _kwargs(self, case: Any, fn: Any, profile: str, *, cls: bool) -> dict[str, Any]:
        kw = super()._kwargs(case, fn, profile, cls=cls)
        if self.choices and "profile" in kw:
            kw["profile"] = swapped_profile(kw["profile"], self.choices)
        return kw

    def evaluate(self, case: Any, profile: str) -> Any:
        """The kernel's evaluation with the mutation applied."""
        with patched(self.patches()):
            return super().evaluate(case, profile)

    def describe(self) -> dict[str, Any]:
        """The report entry: the kernel, marked as mutated with this bug."""
        d = super().describe()
        d["wraps"] = f"xentspec.adapters.numpy_kernel, mutated: {self.bug}"
        return d
