"""Lenses: logit lens and tuned lens (`lens(...)`), and over a checkpoint series (`lens_series(...)`)."""

from interp.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {"lens": "interp.lens.api:lens", "LensResult": "interp.lens.api:LensResult",
                                               "lens_series": "interp.lens.series:lens_series"})
