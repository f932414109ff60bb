"""Activation patching (exact, batched) and attribution patching (AtP, AtP*)."""

from interp.units import Unit

UNIT = Unit(
    name="patch",
    function="interp.patching.api:patch",
    kinds=("patching",),
    figures={"patching": "interp.patching.plots:patching_figures"},
    sections={"patching": "reports.sections.patching:SECTION"},
    cli="interp.cli.patch_cmd",
    regress={"patching": "evals.regress.metrics.patching:KIND"},
)
