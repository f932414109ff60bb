"""Moved to `interp.kit.section` (core, so analyses import it downward); this name stays as an alias."""

import sys

import interp.kit.section as _moved

sys.modules[__name__] = _moved
