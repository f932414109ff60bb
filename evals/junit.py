"""Compatibility path: JUnit XML for `interp regress` now lives in `evals.regress.render`."""

from evals.regress.render import to_junit_xml

__all__ = ["to_junit_xml"]
