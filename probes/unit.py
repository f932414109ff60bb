"""Coreference probes, attentional and causal (`interp probe coref [--causal]`)."""

from interp.units import Unit

UNIT = Unit(
    name="coref",
    function="probes.coref_api:coref",
    kinds=("coref_probe", "coref_causal"),
    figures={"coref_probe": "probes.coref_figures:figure_list",
             "coref_causal": "probes.coref_causal:causal_figures"},
    sections={"coref_probe": "reports.sections.coref:SECTION",
              "coref_causal": "reports.sections.coref_causal:SECTION"},
    cli="interp.cli.probe_cmds",
    cli_group="probe",
    regress={"coref": "evals.regress.metrics.coref:KIND"},
    api={"causal_coref": "probes.coref_causal:causal_coref"},
)
