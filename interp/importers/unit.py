"""Importers of other trainers' checkpoints (`interp import nanogpt`)."""

from interp.units import Unit

UNIT = Unit(
    name="import_nanogpt",
    function="interp.importers.nanogpt:import_nanogpt",
    cli="interp.cli.import_cmd",
    cli_group="import",
)
