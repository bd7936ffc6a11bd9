"""xentspec: a specification-driven conformance suite for the Keras cross-entropy losses.

The data flows spec -> reference -> adapters -> conformance -> report; each stage
is a subpackage of this namespace (``xentspec.spec``, ``xentspec.reference``,
``xentspec.adapters``, ``xentspec.conformance``).

(PYTEST_DONT_REWRITE: ``xentspec run`` imports this package before it starts
pytest, whose plugin entry point names it; the plugin needs no assertion rewriting.)
"""

__version__ = "0.1.0"
