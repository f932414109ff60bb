"""Moved to `interp.stats` (core, so analyses import it downward); this name stays as an alias."""

import sys

import interp.stats as _moved

sys.modules[__name__] = _moved
