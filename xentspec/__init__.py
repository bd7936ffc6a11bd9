"""xentspec: a specification-driven conformance suite for the Keras cross-entropy losses.

The data flows spec -> reference -> adapters -> conformance -> report; each stage
is a subpackage of this namespace (``xentspec.spec``, ``xentspec.reference``,
``xentspec.adapters``, ``xentspec.conformance``).
"""

__version__ = "0.1.0"
