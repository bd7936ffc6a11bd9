"""The error a profile raises for a call, and the argument checks every formula shares.

:class:`RefError` carries one of the spec's error categories (``spec/schema``):
the reference raises it where the profile's framework raises, and the verdict
compares categories, not messages.
"""

from __future__ import annotations

__all__ = ["RefError", "norm_axis"]


class RefError(Exception):
    """The profile raises for this call: ``category`` is one of the spec's error categories."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def norm_axis(axis: int, rank: int) -> int:
    """``axis`` as a non-negative axis of an array of ``rank``; invalid_argument when out of range."""
    if not -rank <= axis < rank:
        raise RefError("invalid_argument", f"axis {axis} is out of range for rank {rank}")
    return axis % rank
