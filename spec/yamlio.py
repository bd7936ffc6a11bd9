"""Safe YAML reading that keeps what the spec needs: exact numbers and line numbers.

A subclass of PyYAML's SafeLoader (so no tag can construct Python objects)
that (a) keeps float literals exact instead of rounding them to float64 on the
way in (``0.05`` must later mean the float32 nearest to 1/20, not the float32
nearest to the float64 nearest to 1/20), (b) remembers the line of every
mapping, sequence and key, so an error can say where it is, and (c) rejects
duplicate keys, which plain YAML silently resolves to the last one.

Before anything is composed, one pass over the parser's events enforces
limits that keep a hostile or runaway file from costing minutes and
gigabytes (an alias "bomb" of a few hundred bytes repeats an anchor until
millions of nodes appear): at most :data:`MAX_ALIASES` alias uses, at most
:data:`MAX_NODES` YAML nodes once every alias is expanded, nesting at most
:data:`MAX_DEPTH` deep. :data:`MAX_FILE_BYTES` bounds a file before it is
read (``spec.loader``). Each violation is a SpecError with file and line.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import yaml

from .errors import SpecError, kind_of
from .floats import parse_number

__all__ = ["LineDict", "LineList", "load_yaml", "line_of", "check_limits", "MAX_FILE_BYTES", "MAX_NODES",
           "MAX_ALIASES", "MAX_DEPTH"]

MAX_FILE_BYTES = 4 * 2**20
"""Largest case (or expectation) file, in bytes: larger arrays belong in generators ({shape, seed, ...})."""
MAX_NODES = 1_000_000
"""Most YAML nodes (scalars, sequences, mappings) a file may hold once its aliases are expanded."""
MAX_ALIASES = 1_000
"""Most alias uses (``*name``) in a file."""
MAX_DEPTH = 64
"""Deepest nesting of sequences and mappings."""


class LineDict(dict):
    """A mapping from YAML that knows its own line and the line of each key."""

    line: int | None = None
    key_lines: dict


class LineList(list):
    """A sequence from YAML that knows its own line and the line of each item."""

    line: int | None = None
    item_lines: list


# libyaml's parser when PyYAML has it (about ten times faster); the construction
# stays PyYAML's safe constructor either way, so no tag can build Python objects.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """SafeLoader with exact floats, line tracking and duplicate-key detection."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise SpecError(f"a mapping key must be a plain value, got a {kind_of(key)}",
                            file=loader.name, line=key_node.start_mark.line + 1) from None
        if key in out:
            raise SpecError(f"duplicate key {key!r} (first on line {out.key_lines[key]})",
                            file=loader.name, line=key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> Fraction | float:
    text = loader.construct_scalar(node)
    low = str(text).lower().replace("_", "")
    if low in (".nan",):
        low = "nan"
    elif low in (".inf", "+.inf"):
        low = "inf"
    elif low == "-.inf":
        low = "-inf"
    try:
        return parse_number(low)
    except ValueError:
        raise SpecError(f"{text!r} is not a number", file=loader.name,
                        line=node.start_mark.line + 1) from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def check_limits(text: str, name: str) -> None:
    """Enforce MAX_ALIASES, MAX_NODES (aliases expanded) and MAX_DEPTH on the parser's events.

    Costs one parse without composing (about a tenth of composing); stops at
    the first violation, so a bomb is rejected after a few hundred events.
    """
    loader = _Loader(text)
    anchors: dict[str, int] = {}  # anchor -> expanded size of its node
    stack: list[list] = []  # open collections: [line, expanded size, anchor]
    aliases = 0

    def add(size: int, line: int) -> None:
        if not stack:
            return
        top = stack[-1]
        top[1] += size
        if top[1] > MAX_NODES:
            raise SpecError(f"YAML expands to more than {MAX_NODES:,} YAML nodes here ({aliases} aliases "
                            "repeat anchored nodes); a case file holds plain data: write large arrays as "
                            "generators ({shape, seed, uniform | normal | integers | fill})",
                            file=name, line=top[0])

    try:
        while loader.check_event():
            ev = loader.get_event()
            line = ev.start_mark.line + 1 if ev.start_mark is not None else None
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise SpecError(f"nested more than {MAX_DEPTH} levels deep", file=name, line=line)
                stack.append([line, 1, ev.anchor])
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                ln, size, anchor = stack.pop()
                if anchor is not None:
                    anchors[anchor] = size
                add(size, ln)
            elif isinstance(ev, yaml.ScalarEvent):
                if ev.anchor is not None:
                    anchors[ev.anchor] = 1
                add(1, line)
            elif isinstance(ev, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise SpecError(f"more than {MAX_ALIASES:,} aliases (*name) in one file; a case file "
                                    "holds plain data", file=name, line=stack[-1][0] if stack else line)
                add(anchors.get(ev.anchor, 1), line)
    except yaml.YAMLError:
        return  # the full load reports the syntax error with its line
    finally:
        loader.dispose()


def load_yaml(text: str, name: str) -> Any:
    """Parse YAML text safely; any YAML problem becomes a SpecError with file and line.

    The limits of :func:`check_limits` are checked first.
    """
    check_limits(text, name)
    loader = _Loader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except SpecError:
        raise
    except RecursionError:
        raise SpecError("nested too deeply to load", file=name) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if "could not determine a constructor" in problem:
            problem = (f"the tag {exc.problem.split('tag ')[-1]} is not allowed: case files are "
                       "loaded safely and hold only plain data")
        raise SpecError(problem, file=name, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=name) from None
    finally:
        loader.dispose()


def line_of(root: Any, path: tuple) -> int | None:
    """The line of the deepest node of ``path`` under ``root`` that YAML recorded."""
    line = getattr(root, "line", None)
    node = root
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", None) or line
    return line
