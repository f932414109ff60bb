"""Ablation figures, drawn from result dicts only (results.json), so reports rebuild them without a model.

`ablation_figures` / `sweep_figures` are the `interp.figures.FIGURES` entries for the result kinds
"ablation" and "ablation_sweep": result dict → [(name, matplotlib Figure)].
"""

from __future__ import annotations

from typing import Any


def plot_sweep(result: dict[str, Any]):
    """Heatmap layers × heads of Δloss when each head alone is ablated (diverging, centred at 0)."""
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in result["delta_loss"]], dtype=float)
    n_layers, n_heads = grid.shape
    m = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    m = m or 1.0
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n_heads, 1.0 + 0.5 * n_layers))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto")
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    if n_layers * n_heads <= 256:
        for i in range(n_layers):
            for j in range(n_heads):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:+.3f}" if m >= 0.01 else f"{grid[i, j]:+.1e}", ha="center",
                            va="center", fontsize=7, color="white" if abs(grid[i, j]) > 0.6 * m else "black")
    ax.set_title(f"Δloss per ablated head ({result.get('method', '?')}); clean loss {result.get('clean_loss', 0):.3f}",
                 fontsize=9)
    fig.colorbar(im, ax=ax, label="Δloss (nats/token)")
    return fig


def plot_ablation(result: dict[str, Any]):
    """Mean Δloss by position-in-window bucket for one ablation."""
    import matplotlib.pyplot as plt

    buckets = result["by_position"]
    labels = [f"{b['start']}–{b['end'] - 1}" for b in buckets]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(buckets) + 1.5), 3.0))
    ax.bar(range(len(buckets)), [b["delta_mean"] for b in buckets], color="tab:red")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_xlabel("position in window")
    ax.set_ylabel("mean Δloss (nats)")
    ci = result.get("delta_loss_ci")
    ci_text = f" [{ci[0]:+.3g}, {ci[1]:+.3g}] (95% bootstrap over {result.get('n_windows')} windows)" if ci else ""
    ax.set_title(f"ablating {result.get('heads_spec') or 'no heads'} ({result.get('method')}): "
                 f"Δloss {result.get('delta_loss', 0):+.4g}{ci_text}", fontsize=9)
    return fig


def ablation_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """FIGURES entry for kind "ablation"."""
    return [("ablation_by_position", plot_ablation(result))]


def sweep_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """FIGURES entry for kind "ablation_sweep"."""
    return [("ablation_heatmap", plot_sweep(result))]
