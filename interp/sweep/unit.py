"""Hyperparameter sweeps as a unit: `interp sweep`, `interp.sweep(...)`, figures and the report section."""

from interp.units import Unit

UNIT = Unit(
    name="sweep",
    function="interp.sweep.run:run_sweep",
    kinds=("sweep",),
    figures={"sweep": "interp.sweep.plots:sweep_figures"},
    sections={"sweep": "reports.sections.sweep:SECTION"},
    cli="interp.cli.sweep_cmd",
)
