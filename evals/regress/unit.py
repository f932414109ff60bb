"""The CI gate (`interp regress`)."""

from interp.units import Unit

UNIT = Unit(
    name="regress",
    function="evals.regress.run:regress",
    kinds=("regress",),
    sections={"regress": "reports.sections.regress:SECTION"},
    cli="interp.cli.regress_cmds",
)
