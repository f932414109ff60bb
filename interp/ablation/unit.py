"""Head ablation (a set of heads together; every head alone)."""

from interp.units import Unit

UNIT = Unit(
    name="ablate",
    function="interp.ablation.ablate:ablate",
    kinds=("ablation", "ablation_sweep"),
    figures={"ablation": "interp.ablation.plots:ablation_figures",
             "ablation_sweep": "interp.ablation.plots:sweep_figures"},
    sections={"ablation": "reports.sections.ablation:SECTION",
              "ablation_sweep": "reports.sections.ablation_sweep:SECTION"},
    cli="interp.cli.ablation_cmds",
    regress={"ablation": "evals.regress.metrics.ablation:KIND"},
    api={"ablate_sweep": "interp.ablation.sweep:ablate_sweep"},
)
