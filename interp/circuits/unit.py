"""Circuits: edge attribution (exact, EAP, EAP-IG) with faithfulness, and circuit formation over checkpoints."""

from interp.units import Unit

UNIT = Unit(
    name="circuit",
    function="interp.circuits.api:circuit",
    kinds=("circuit", "circuit_formation"),
    figures={"circuit": "interp.circuits.plots:figures", "circuit_formation": "interp.circuits.plots:figures"},
    sections={"circuit": "interp.circuits.section:SECTION",
              "circuit_formation": "interp.circuits.section:FORMATION"},
    cli="interp.circuits.cli",
    api={"circuit_formation": "interp.circuits.formation:circuit_formation"},
)
