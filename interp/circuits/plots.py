"""Circuit figures from the result dict only: `figures(d)` → [(name, Figure)] (kinds circuit, circuit_formation)."""

from __future__ import annotations

from typing import Any

from interp.circuits.draw import draw_curve, draw_formation, draw_graph


def figures(d: dict[str, Any]) -> list[tuple[str, Any]]:
    import matplotlib.pyplot as plt

    if d.get("kind") == "circuit_formation":
        fig = plt.figure(figsize=(12, 3.6))
        draw_formation(fig, d)
        return [("circuit_formation", fig)]
    g = plt.figure(figsize=(max(5.0, 1.2 * int(d["n_heads"]) + 2), 1.6 + 1.3 * int(d["n_layers"])))
    draw_graph(g, d)
    c = plt.figure(figsize=(6, 3.6))
    draw_curve(c, d)
    return [("circuit_graph", g), ("circuit_faithfulness", c)]
