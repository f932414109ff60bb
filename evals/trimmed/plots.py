"""Text summary and figures of a trimmed-eval result dict (never a model): confusions and the learning curve."""

from __future__ import annotations

from typing import Any

VARIANT_ORDER = ("trimmed", "calibrated", "fitted_head", "linear_probe", "full_vocab")


def summary_table(result: dict[str, Any]) -> str:
    """Variants side by side: accuracy and macro-F1; then the learning curve, if any (from the result dict)."""
    lines = [f"{'variant':<13} {'accuracy':>8} {'macro-F1':>8}"]
    for name in VARIANT_ORDER:
        if name in result["variants"]:
            v = result["variants"][name]
            lines.append(f"{name:<13} {v['accuracy']:8.3f} {v['macro_f1']:8.3f}")
    fv = result["full_vocab"]
    lines.append(f"full-vocab argmax is a label token for {fv['label_token_rate']:.1%} of {result['dataset']['n']} "
                 "examples")
    curve = result.get("learning_curve")
    if curve:
        lines.append(f"learning curve (test n={curve['n_test']}, val n={curve['n_val']}; 95% Wilson):")
        for p in curve["points"]:
            h, q = p["head"], p["probe"]
            lines.append(f"  K={p['k_per_class']!s:>5}  head {h['accuracy']:.3f} [{h['ci95'][0]:.3f}, {h['ci95'][1]:.3f}]"
                         f"  probe {q['accuracy']:.3f} [{q['ci95'][0]:.3f}, {q['ci95'][1]:.3f}]"
                         f"  λ {h['weight_decay']:g}/{q['weight_decay']:g}")
        for name, b in curve["baselines"].items():
            lines.append(f"  {name:<10} {b['accuracy']:.3f} [{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]")
    return "\n".join(lines)


def _plt():
    import os
    import sys

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        import matplotlib

        matplotlib.use("Agg")  # headless unless a backend (e.g. Jupyter's inline one) was chosen
    import matplotlib.pyplot as plt

    return plt


def plot_confusions(result: dict[str, Any]):
    """One confusion matrix per variant (rows: gold, columns: predicted; colour = row fraction)."""
    import numpy as np

    plt = _plt()
    labels = list(result["labels"])
    names = [n for n in VARIANT_ORDER if n in result["variants"]]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names) + 1, 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        v = result["variants"][name]
        cm = np.asarray(v["confusion"], dtype=float)  # (k, k) or (k, k+1)
        frac = cm / np.clip(cm.sum(1, keepdims=True), 1, None)
        ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
        cols = labels + (["other"] if cm.shape[1] > len(labels) else [])
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=7)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
        ax.set_title(f"{name}\nacc {v['accuracy']:.3f}  F1 {v['macro_f1']:.3f}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
    axes[0][0].set_ylabel("gold", fontsize=7)
    fig.suptitle(f"{result.get('model', '')} on {result['dataset']['name']} ({result['dataset']['split']})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_learning_curve(result: dict[str, Any]):
    """Test accuracy vs examples per class (log x; 'all' at its size): fitted head and probe with Wilson bars,
    zero-shot / calibrated bands and the majority rate."""
    plt = _plt()
    curve = result["learning_curve"]
    pts = curve["points"]
    xs = [p["n_train"] / max(1, len(p["per_class"])) for p in pts]  # mean examples per class
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for name, color, marker, shift in (("head", "C0", "o", 1 / 1.04), ("probe", "C1", "s", 1.04)):
        acc = [p[name]["accuracy"] for p in pts]
        lo = [a - p[name]["ci95"][0] for a, p in zip(acc, pts, strict=True)]
        hi = [p[name]["ci95"][1] - a for a, p in zip(acc, pts, strict=True)]
        ax.errorbar([x * shift for x in xs], acc, yerr=[lo, hi], color=color, marker=marker, capsize=3, ms=4,
                    label="fitted trimmed head" if name == "head" else "linear probe (random init)")
    for (name, b), color in zip(curve["baselines"].items(), ("C2", "C3"), strict=False):
        ax.axhline(b["accuracy"], color=color, ls="--", lw=1, label=f"{name} (0-shot) {b['accuracy']:.3f}")
        ax.axhspan(b["ci95"][0], b["ci95"][1], color=color, alpha=0.12)
    ax.axhline(curve["majority_rate"], color="grey", ls=":", lw=1, label=f"majority class {curve['majority_rate']:.3f}")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(p["k_per_class"]) if p["k_per_class"] != "all" else f"all\n({x:.0f})"
                       for p, x in zip(pts, xs, strict=True)], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("train examples per class", fontsize=8)
    ax.set_ylabel(f"test accuracy (n={curve['n_test']}, 95% Wilson)", fontsize=8)
    lows = [curve["majority_rate"], curve["chance"]] + [b["ci95"][0] for b in curve["baselines"].values()] + \
        [p[arm]["ci95"][0] for p in pts for arm in ("head", "probe")]
    ax.set_ylim(max(0.0, min(lows) - 0.03), 1.0)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{result.get('model', '')} on {result['dataset']['name']}: learning curve", fontsize=9)
    fig.tight_layout()
    return fig


def figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """All figures of a trimmed_eval result: [('confusion', fig), ('learning_curve', fig) when fitted]."""
    out = [("confusion", plot_confusions(result))]
    if result.get("learning_curve"):
        out.append(("learning_curve", plot_learning_curve(result)))
    return out
