"""The trainer as an analysis unit: `interp train`, `interp.train(...)`, the training report section."""

from interp.units import Unit

UNIT = Unit(
    name="train",
    function="interp.train.api:train",
    kinds=("training",),
    sections={"training": "reports.sections.training:SECTION"},
    cli="interp.cli.train_cmd",
)
