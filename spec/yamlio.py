"""Safe YAML reading that keeps what the spec needs: exact numbers and line numbers.

A subclass of PyYAML's SafeLoader (so no tag can construct Python objects)
that (a) keeps float literals exact instead of rounding them to float64 on the
way in (``0.05`` must later mean the float32 nearest to 1/20, not the float32
nearest to the float64 nearest to 1/20), (b) remembers the line of every
mapping, sequence and key, so an error can say where it is, and (c) rejects
duplicate keys, which plain YAML silently resolves to the last one.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import yaml

from .errors import SpecError
from .floats import parse_number

__all__ = ["LineDict", "LineList", "load_yaml", "line_of"]


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
            raise SpecError(f"a mapping key must be a plain value, got {type(key).__name__}",
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


def load_yaml(text: str, name: str) -> Any:
    """Parse YAML text safely; any YAML problem becomes a SpecError with file and line."""
    loader = _Loader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except SpecError:
        raise
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
