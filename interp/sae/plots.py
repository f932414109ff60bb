"""SAE figures, drawn from result dicts only: training FVU curve, latent frequency histogram, sweep frontier,
feature births over training."""

from __future__ import annotations

from typing import Any


def _plt():
    import matplotlib.pyplot as plt

    return plt


def train_figures(r: dict[str, Any]) -> list[tuple[str, Any]]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if r["curve"]:
        t, f = zip(*r["curve"], strict=True)
        ax.plot(t, f, lw=1.5)
    ax.set(xlabel="training tokens", ylabel="train FVU (batch)", title=f"{r['hook']}: {r['num_latents']} latents",
           yscale="log")
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="FVU 1 = predicting the mean")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [("sae_train_fvu", fig)]


def eval_figures(r: dict[str, Any]) -> list[tuple[str, Any]]:
    plt = _plt()
    h = r["frequency_hist"]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    e = h["edges"]
    ax.bar(e[:-1], h["counts"], width=[b - a for a, b in zip(e[:-1], e[1:], strict=True)], align="edge")
    ax.set(xlabel="log10 firing frequency on held-out tokens", ylabel="latents",
           title=f"{r['hook']}: {h['dead']} dead of {r['num_latents']}")
    ax.axvline(-1, color="red", ls=":", lw=1, label="dense threshold (0.1)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [("sae_frequency", fig)]


def sweep_figures(r: dict[str, Any]) -> list[tuple[str, Any]]:
    """Frontier: L0 vs FVU and vs fraction of loss recovered, one series per expansion (k labelled)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    by: dict[int, list] = {}
    for row in r["rows"]:
        by.setdefault(row["expansion"], []).append(row)
    for exp, rows in sorted(by.items()):
        rows = sorted(rows, key=lambda x: x["k"])
        for ax, key in zip(axes, ("fvu", "loss_recovered"), strict=True):
            x = [row["l0"]["value"] for row in rows]
            y = [row[key]["value"] for row in rows]
            err = [[row[key]["value"] - row[key]["lo"] for row in rows], [row[key]["hi"] - row[key]["value"]
                                                                          for row in rows]]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"x{exp}")
            for xi, yi, row in zip(x, y, rows, strict=True):
                ax.annotate(f"k{row['k']}", (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes[0].set(xlabel="L0 (active latents / token)", ylabel="FVU (held-out)", xscale="log")
    axes[1].set(xlabel="L0 (active latents / token)", ylabel="fraction of loss recovered", xscale="log")
    axes[1].axhline(1.0, color="grey", ls=":", lw=1)
    axes[1].axhline(0.0, color="grey", ls=":", lw=1)
    axes[0].legend(title="expansion", fontsize=8)
    fig.suptitle(f"{r['model']}: SAE sweep frontier (95% bootstrap intervals)")
    fig.tight_layout()
    return [("sae_frontier", fig)]


def formation_figures(r: dict[str, Any]) -> list[tuple[str, Any]]:
    """Cumulative fraction of final latents born by each checkpoint, beside the run's loss curve."""
    plt = _plt()
    cks = r["checkpoints"]
    key = {"tokens": "tokens_seen"}.get(r["x"], r["x"])
    xs = [c.get(key) if r["x"] != "checkpoint" else i for i, c in enumerate(cks)]
    cum = []
    total = 0
    for n in r["born_per_checkpoint"]:
        total += n
        cum.append(total / max(1, r["num_latents"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].step(xs, cum, where="post", marker="o")
    axes[0].set(xlabel=r["x"], ylabel="fraction of final latents born", ylim=(0, 1.02),
                title=f"feature births (match cosine ≥ {r['config']['threshold']})")
    if r["loss_curve"]:
        s, loss = zip(*r["loss_curve"], strict=True)
        axes[1].plot(s, loss, lw=1)
        axes[1].set(xlabel="step", ylabel="train loss", title="training loss")
    else:
        axes[1].text(0.5, 0.5, "no loss curve in the series", ha="center", transform=axes[1].transAxes)
    fig.tight_layout()
    return [("sae_formation", fig)]
