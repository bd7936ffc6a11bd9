"""Releases and profile selectors: ``keras3-torch@3.8``, ``keras3-*@>=3.8,<3.14``.

A profile name is a *base* (``keras3-torch``, a block of ``profiles.yaml``)
and optionally a release of its family after an ``@`` (``keras3-torch@3.8``);
the bare base means the family's newest known release. A *selector*, as cases
write them in ``profiles:`` and as keys of ``expect:``, is a base or an
fnmatch glob of bases, optionally followed by ``@`` and a PEP 440 version
specifier set (``@>=3.8``, ``@>=3.0,<3.7``) or a plain release (``@3.8``,
which means ``==3.8.*``). A selector without ``@`` matches every release of
the bases it names, so adding a release needs no case edits.
"""

from __future__ import annotations

import fnmatch
import functools
import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["split_name", "parse_version", "Selector", "parse_selector"]

_PLAIN_RELEASE = re.compile(r"^\d+(\.\d+)*$")


def split_name(name: str) -> tuple[str, str | None]:
    """``"keras3-torch@3.8"`` -> ``("keras3-torch", "3.8")``; a bare base has release None."""
    base, sep, release = name.partition("@")
    return base, (release if sep else None)


@functools.lru_cache(maxsize=None)
def parse_version(text: str) -> Version:
    """A release as a comparable version (ValueError naming it when malformed)."""
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(f"{text!r} is not a release number (write it as 3.8 or 3.13.2)") from None


class Selector:
    """A parsed selector: a base glob and an optional release specifier (see the module docstring)."""

    def __init__(self, text: str) -> None:
        self.text = text
        base, release = split_name(text)
        if not base:
            raise ValueError(f"selector {text!r} names no profile before '@'")
        self.base = base
        self.specifier: SpecifierSet | None = None
        if release is not None:
            spec = release.strip()
            if _PLAIN_RELEASE.match(spec):
                spec = f"=={spec}.*" if spec.count(".") < 2 else f"=={spec}"
            try:
                self.specifier = SpecifierSet(spec)
            except InvalidSpecifier:
                raise ValueError(f"selector {text!r}: {release!r} is neither a release (3.8) nor a version "
                                 "range (>=3.8 or >=3.0,<3.7)") from None

    def matches_base(self, base: str) -> bool:
        """Whether the base glob covers profile base ``base``."""
        return base == self.base or fnmatch.fnmatchcase(base, self.base)

    def matches(self, base: str, release: str | None) -> bool:
        """Whether the selector covers ``base`` at ``release`` (a profile's resolved release)."""
        if not self.matches_base(base):
            return False
        if self.specifier is None or release is None:
            return self.specifier is None
        return self.specifier.contains(parse_version(release), prereleases=True)

    def __repr__(self) -> str:
        return f"Selector({self.text!r})"


@functools.lru_cache(maxsize=None)
def parse_selector(text: str) -> Selector:
    """The :class:`Selector` of ``text`` (cached)."""
    return Selector(text)
