"""The certified reference: exact values of the Keras cross-entropy losses and their correct rounding.

Public API::

    from xentspec.reference import truth, Truth, REFERENCE_VERSION
    t = truth(case, profile="keras3", engine="mpmath", cache=True)

See docs/reference.md for what is computed and why the rounding is certain.
"""

from .api import REFERENCE_VERSION, Truth, truth

__all__ = ["truth", "Truth", "REFERENCE_VERSION"]
