"""Moved to `interp.kit.charts` (core, so analyses import it downward); this name stays as an alias."""

import sys

import interp.kit.charts as _moved

sys.modules[__name__] = _moved
