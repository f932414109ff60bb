"""Moved to `interp.kit.regress` (core, so analyses import it downward); this name stays as an alias."""

import sys

import interp.kit.regress as _moved

sys.modules[__name__] = _moved
