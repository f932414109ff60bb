"""Moved to `interp.kit.document` (core, so analyses import it downward); this name stays as an alias."""

import sys

import interp.kit.document as _moved

sys.modules[__name__] = _moved
