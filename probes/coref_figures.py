"""Figures of the coreference attention probe, drawn from the result dict (results.json), never a model.

(Split out of probes/coref.py; `probes.coref` re-exports every name here.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evals.stats import wilson

CHANCE = 0.5
CONFIDENCE = 0.95


# --------------------------------------------------------------------------------------------- figures
def plot_head_accuracy(result: dict[str, Any]):
    """Heatmap of per-head accuracy (layers × heads), chance-centred; ● = Wilson lower bound above chance."""
    import matplotlib.pyplot as plt

    acc = np.array(result["head_accuracy"], dtype=float)  # (L, H)
    L, H = acc.shape
    n, chance = result["n_examples"], result["chance"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * H + 2.5), max(3.0, 0.4 * L + 1.5)))
    im = ax.imshow(acc, cmap="RdBu_r", vmin=0.0, vmax=1.0, aspect="auto")
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("accuracy (antecedent > distractor)")
    cb.ax.axhline(chance, color="k", lw=1, ls="--")
    for layer in range(L):
        for h in range(H):
            k = int(round(acc[layer, h] * n))
            lo, _ = wilson(k, n, result.get("confidence", CONFIDENCE))
            mark = "●" if lo > chance else ""
            if L * H <= 160:
                ax.text(h, layer, f"{acc[layer, h]:.2f}{mark}", ha="center", va="center", fontsize=7)
    if result.get("best_heads"):
        b = result["best_heads"][0]
        ax.add_patch(plt.Rectangle((b["head_index"] - 0.5, b["layer"] - 0.5), 1, 1, fill=False, ec="k", lw=2))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(H))
    ax.set_yticks(range(L))
    ax.set_title(f"Coreference attention accuracy per head (n={n}; chance = {chance:g})\n"
                 f"● Wilson 95% lower bound > chance\n(per head, not corrected for {L * H} heads); "
                 "box = best head", fontsize=9)
    return fig


def _grouped_bars(ax, groups: dict[str, dict[str, Any]], chance: float) -> None:
    metrics = (("head_mean", "head mean"), ("best_head", "best head"), ("behaviour", "behaviour"))
    names = list(groups)
    width = 0.8 / max(1, len(names))
    for gi, g in enumerate(names):
        xs, ys, err = [], [], [[], []]
        for mi, (key, _) in enumerate(metrics):
            s = groups[g][key]
            if s.get("accuracy") is None:
                continue
            xs.append(mi + (gi - (len(names) - 1) / 2) * width)
            ys.append(s["accuracy"])
            err[0].append(s["accuracy"] - s["ci_low"])
            err[1].append(s["ci_high"] - s["accuracy"])
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=f"{g} (n={groups[g]['n']})")
    ax.axhline(chance, color="k", lw=1, ls="--", label=f"chance {chance:g}")
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels([m[1] for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% Wilson interval)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_single_vs_cross(result: dict[str, Any]):
    """Bars: head-mean / best-head / behavioural accuracy, single- vs cross-sentence antecedents."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    groups = {k: v for k, v in result["by_cross_sentence"].items() if v["n"] > 0}
    _grouped_bars(ax, groups, result["chance"])
    ax.set_title("Coreference: antecedent in the same sentence vs an earlier one", fontsize=9)
    return fig


def plot_by_category(result: dict[str, Any]):
    """Bars: head-mean / best-head / behavioural accuracy per category."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(result["by_category"]) + 3), 3.6))
    _grouped_bars(ax, result["by_category"], result["chance"])
    ax.set_title("Coreference accuracy by category", fontsize=9)
    return fig


FIGURES = {
    "coref_head_accuracy": plot_head_accuracy,
    "coref_single_vs_cross": plot_single_vs_cross,
    "coref_by_category": plot_by_category,
}


def figure_list(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """[(name, Figure)]: per-head accuracy heatmap, single vs cross sentence, accuracy by category."""
    return [(name, build(result)) for name, build in FIGURES.items()]


def save_figures(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every figure from the result dict into out_dir (PNG + SVG each)."""
    from interp.figures import save_figure

    paths: list[Path] = []
    for name, builder in FIGURES.items():
        paths += save_figure(builder(result), out_dir, name)
    return paths
