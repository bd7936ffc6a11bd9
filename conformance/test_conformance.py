"""The conformance suite's one test: every case x adapter, parametrized by xentspec.conformance.plugin.

Run it with ``pytest --pyargs xentspec.conformance --adapter=NAME`` (or
``pytest conformance/`` from a checkout, or ``xentspec run``).
"""


def test_case(xentspec_case):
    """Evaluate one case on one adapter and judge it against the reference's truth."""
    xentspec_case.check()
