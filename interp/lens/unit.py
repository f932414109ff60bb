"""Lenses: logit lens and tuned lens per layer × position; over a series, the layer where the answer is top-1."""

from interp.units import Unit

UNIT = Unit(
    name="lens",
    function="interp.lens.api:lens",
    kinds=("lens", "lens_series"),
    figures={"lens": "interp.lens.plots:figures", "lens_series": "interp.lens.plots:figures"},
    sections={"lens": "interp.lens.section:SECTION", "lens_series": "interp.lens.section:SERIES"},
    cli="interp.lens.cli",
    regress={"lens": "interp.lens.regress:KIND"},
    api={"lens_series": "interp.lens.series:lens_series"},
)
