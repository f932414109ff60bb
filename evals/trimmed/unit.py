"""Trimmed-head classification (`interp eval trimmed`)."""

from interp.units import Unit

UNIT = Unit(
    name="trimmed",
    function="evals.trimmed.api:trimmed",
    kinds=("trimmed_eval",),
    figures={"trimmed_eval": "evals.trimmed.plots:figures"},
    sections={"trimmed_eval": "reports.sections.trimmed:SECTION"},
    cli="interp.cli.eval_trimmed_cmd",
    cli_group="eval",
    regress={"trimmed": "evals.regress.metrics.trimmed:KIND"},
)
