"""The trainer as an analysis unit: `interp train`, `interp.train(...)`, the training report section, and
`interp.training_curves(...)` (lr, losses, grad norm, tokens/s; overlaid runs) with its figures and section."""

from interp.units import Unit

UNIT = Unit(
    name="train",
    function="interp.train.api:train",
    kinds=("training", "training_curves"),
    figures={"training_curves": "interp.train.curves:plot_training_curves"},
    sections={"training": "reports.sections.training:SECTION",
              "training_curves": "reports.sections.training_curves:SECTION"},
    cli="interp.cli.train_cmd",
    api={"training_curves": "interp.train.curves:training_curves"},
)
