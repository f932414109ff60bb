"""Circuits: the residual edge graph, edge attribution (exact path patching, EAP, EAP-IG), faithfulness curves,
circuit formation over checkpoints. Public: `circuit(...)` (api), `circuit_formation(...)` (formation)."""

from interp.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "circuit": "interp.circuits.api:circuit",
    "CircuitResult": "interp.circuits.api:CircuitResult",
    "circuit_formation": "interp.circuits.formation:circuit_formation",
})
