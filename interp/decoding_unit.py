"""Model info and generation (`interp info`, `interp generate`): the generation section and regress kind."""

from interp.units import Unit

UNIT = Unit(
    name="model",
    kinds=("generation",),
    sections={"generation": "reports.sections.generation:SECTION"},
    cli="interp.cli.model_cmds",
    regress={"generation": "evals.regress.metrics.generation:KIND"},
)
