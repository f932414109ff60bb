"""Attention analyses: maps of one model, attention over a checkpoint series, head formation."""

from interp.units import Unit

UNIT = Unit(
    name="attention",
    function="interp.attention.maps:attention",
    kinds=("attention_maps", "attention_evolution", "head_formation"),
    figures={
        "attention_maps": "interp.attention:plot_attention_maps",
        "attention_evolution": "interp.attention.plots:attention_evolution_figures",
        "head_formation": "interp.attention.formation:plot_head_formation",
    },
    sections={
        "attention_maps": "reports.sections.attention_maps:SECTION",
        "attention_evolution": "reports.sections.attention_evolution:SECTION",
        "head_formation": "reports.sections.head_formation:SECTION",
    },
    cli="interp.cli.attention_cmds",
    api={
        "attention_evolution": "interp.attention.evolution:attention_evolution",
        "head_formation": "interp.attention.formation:head_formation",
    },
)
