"""Compatibility shim: the per-head score functions live in `interp.attention.scores`."""

from interp.attention.scores import *  # noqa: F403
from interp.attention.scores import __doc__ as _doc  # noqa: F401
