"""Evals: perplexity with a leakage check, prompt sensitivity (`interp eval perplexity|sensitivity`)."""

from interp.units import Unit

UNIT = Unit(
    name="perplexity",
    function="evals.api:perplexity",
    kinds=("perplexity", "leakage", "prompt_sensitivity"),
    figures={"prompt_sensitivity": "evals.sensitivity:figure_list"},
    sections={"perplexity": "reports.sections.perplexity:SECTION",
              "leakage": "reports.sections.leakage:SECTION",
              "prompt_sensitivity": "reports.sections.sensitivity:SECTION"},
    cli="interp.cli.eval_cmds",
    cli_group="eval",
    regress={"perplexity": "evals.regress.metrics.perplexity:KIND"},
    api={"sensitivity": "evals.api:sensitivity"},
)
