"""Lens figures: `figures(d)` → [(name, Figure)] for kinds lens and lens_series (from the dict only)."""

from __future__ import annotations

from typing import Any

from interp.lens.draw import draw_lens, draw_series


def figures(d: dict[str, Any]) -> list[tuple[str, Any]]:
    import matplotlib.pyplot as plt

    if d.get("kind") == "lens_series":
        fig = plt.figure(figsize=(6, 3.2))
        draw_series(fig, d)
        return [("lens_series", fig)]
    out = []
    for name in d["lenses"]:
        fig = plt.figure(figsize=(min(16.0, 2.0 + 0.6 * len(d["tokens"])), 1.4 + 0.45 * int(d["n_layers"])))
        draw_lens(fig, d, name)
        out.append((f"lens_{name}", fig))
    return out
