"""Adapters: the protocol that plugs an implementation into the conformance suite, and the built-ins.

Public API::

    from xentspec.adapters import Adapter, Capabilities, Result, CaseError, ErrorRule
    from xentspec.adapters import load_adapter, available_adapters

See ``adapters/README.md`` for how to write one. The NumPy kernel that the
built-in ``numpy`` adapter wraps is the subpackage ``xentspec.adapters.numpy_kernel``.
"""

from .base import Adapter, Capabilities, CaseError, ErrorRule, Result, as_result, classify_exception, config_round_trip
from .registry import AdapterNotFound, available_adapters, load_adapter

__all__ = ["Adapter", "Capabilities", "CaseError", "ErrorRule", "Result", "AdapterNotFound", "as_result",
           "available_adapters", "classify_exception", "config_round_trip", "load_adapter"]
