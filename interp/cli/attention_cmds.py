"""Commands of this group register on `interp.cli.app` (work in progress in a parallel stream)."""

from __future__ import annotations
