"""What fine-tuning changed (`interp report PARENT CHILD --compare` of a fine-tune) as a unit."""

from interp.units import Unit

UNIT = Unit(
    name="finetune_compare",
    function="evals.finetune_compare:finetune_compare",
    kinds=("finetune_compare",),
    figures={"finetune_compare": "evals.finetune_compare:figures"},
    sections={"finetune_compare": "reports.sections.finetune_compare:SECTION"},
)
