"""Patching figures, drawn from the result dict only (results.json): heatmaps, top components, estimate vs exact.

`patching_figures(result)` → [(name, Figure)] (registered in interp.figures.FIGURES for kind 'patching'):
    patching_heads_<method>      layers × heads heatmap of the fraction of the gap restored (hook_z)
    patching_resid_<method>      layers × positions heatmap (hook_resid_pre), token labels on the x axis
    patching_<kind>_<method>     q / k / attn_out / mlp_out grids
    patching_estimate_vs_exact   scatter of each estimate method against exact (all components), y = x line
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _grid(v) -> np.ndarray:
    return np.array([[np.nan if x is None else x for x in row] for row in v], dtype=float)


def heatmap(result: dict[str, Any], kind: str, method: str):
    """One component kind's grid of 'fraction of the gap restored' under `method` (diverging, centred at 0)."""
    import matplotlib.pyplot as plt

    comp = result["components"][kind]
    grid = _grid(comp[method]["fraction"])  # (n_layers, n_slots)
    n_layers, n_slots = grid.shape
    m = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    m = max(m, 1e-9)
    fig, ax = plt.subplots(figsize=(min(16.0, 1.6 + 0.55 * n_slots), 1.2 + 0.38 * n_layers))
    im = ax.imshow(grid, cmap="RdBu", vmin=-m, vmax=m, aspect="auto")
    labels = comp.get("slot_labels") or list(range(n_slots))
    ax.set_xticks(range(n_slots))
    ax.set_xticklabels([str(x) for x in labels], rotation=90 if kind == "resid" else 0, fontsize=7)
    ax.set_yticks(range(n_layers))
    ax.set_ylabel("layer")
    ax.set_xlabel({"heads": "head", "q": "head (query)", "k": "kv head (key)", "resid": "position"}.get(kind, ""))
    if n_layers * n_slots <= 200:
        for i in range(n_layers):
            for j in range(n_slots):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(grid[i, j]) > 0.6 * m else "black")
    hook = {"heads": "hook_z", "q": "hook_q", "k": "hook_k", "resid": "hook_resid_pre", "attn_out": "hook_attn_out",
            "mlp_out": "hook_mlp_out"}[kind]
    ax.set_title(f"{method}: fraction of clean−corrupt gap restored ({result.get('direction')}, {hook})\n"
                 f"{result.get('metric')}: clean {result.get('clean_metric', 0):.3g}, "
                 f"corrupt {result.get('corrupt_metric', 0):.3g}, n = {result.get('n_pairs')}", fontsize=8)
    fig.colorbar(im, ax=ax, label="fraction restored")
    return fig


def estimate_vs_exact(result: dict[str, Any]):
    """Scatter: estimate vs exact fraction restored for every component (one colour per kind and method)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    lo, hi = np.inf, -np.inf
    for kind, comp in result["components"].items():
        if "exact" not in comp:
            continue
        ex = _grid(comp["exact"]["fraction"]).ravel()
        for method in ("atp", "atp*"):
            if method not in comp:
                continue
            es = _grid(comp[method]["fraction"]).ravel()
            ok = np.isfinite(ex) & np.isfinite(es)
            rho = (result.get("comparison", {}).get(kind, {}).get(method, {}) or {}).get("spearman")
            ax.scatter(ex[ok], es[ok], s=12, alpha=0.7, marker="o" if method == "atp" else "x",
                       label=f"{kind} {method}" + (f" (ρ={rho:.2f})" if rho is not None else ""))
            if ok.any():
                lo, hi = min(lo, ex[ok].min(), es[ok].min()), max(hi, ex[ok].max(), es[ok].max())
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--")
    ax.set_xlabel("exact fraction restored")
    ax.set_ylabel("estimated fraction restored")
    ax.set_title("Attribution patching vs exact patching", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def patching_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every figure of a 'patching' result dict."""
    out = []
    for kind, comp in result["components"].items():
        for method in ("exact", "atp", "atp*"):
            if method in comp:
                out.append((f"patching_{kind}_{method.replace('*', '_star')}", heatmap(result, kind, method)))
    if any("exact" in c and ("atp" in c or "atp*" in c) for c in result["components"].values()):
        out.append(("patching_estimate_vs_exact", estimate_vs_exact(result)))
    return out
