"""Sweep figures, drawn from the results dict only: parallel coordinates, parameter importance, val curves."""

from __future__ import annotations

from typing import Any


def _axis_values(rows: list[dict[str, Any]], name: str) -> tuple[list[float], list[str] | None]:
    vals = [r["params"].get(name) for r in rows]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return [float(v) for v in vals], None
    cats = sorted({repr(v) for v in vals})
    return [float(cats.index(repr(v))) for v in vals], cats


def plot_parallel(result: dict[str, Any]):
    """One polyline per finished trial across the searched parameters and the objective (colour = value)."""
    import math

    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    rows = [r for r in result["trials"] if r["state"] in ("COMPLETE", "PRUNED") and r["params"]]
    names = list(result["space"]["space"])
    fig, ax = plt.subplots(figsize=(2.2 * (len(names) + 1) + 1, 3.6), layout="constrained")
    if not rows:
        ax.text(0.5, 0.5, "no finished trials", ha="center", va="center", transform=ax.transAxes)
        return fig
    score = [r["value"] if r["value"] is not None else (min(r["intermediate"].values()) if r["intermediate"]
                                                         else math.nan) for r in rows]
    finite = [s for s in score if math.isfinite(s)] or [0.0]
    norm = colors.Normalize(min(finite), max(finite) if max(finite) > min(finite) else min(finite) + 1)
    cols = []
    for n in names:
        v, cats = _axis_values(rows, n)
        log = (bool(result["space"]["space"][n].get("log")) or (cats is None and min(v) > 0 and max(v) >= 10 * min(v))) \
            and min(v) > 0  # a range marked log, or values spanning a decade or more
        v = [math.log10(x) for x in v] if log else v
        lo, hi = min(v), max(v)
        cols.append(([(x - lo) / (hi - lo) if hi > lo else 0.5 for x in v], (n + (" (log10)" if log else ""), lo, hi,
                                                                          cats)))
    lo, hi = norm.vmin, norm.vmax
    cols.append(([(s - lo) / (hi - lo) if math.isfinite(s) else 1.0 for s in score], ("val loss", lo, hi, None)))
    for i, r in enumerate(rows):
        ys = [c[0][i] for c in cols]
        ax.plot(range(len(cols)), ys, color=cm.viridis(norm(score[i])) if math.isfinite(score[i]) else "0.7",
                ls="--" if r["state"] == "PRUNED" else "-", lw=1.4, marker="o", ms=3)
    ax.set_xticks(range(len(cols)), [c[1][0] for c in cols], fontsize=8)
    for j, (_, (_, lo_, hi_, cats)) in enumerate(cols):
        ax.axvline(j, color="0.6", lw=0.8)
        ax.annotate(f"{hi_:.3g}" if cats is None else cats[-1], (j, 1.0), fontsize=7, ha="center", va="bottom")
        ax.annotate(f"{lo_:.3g}" if cats is None else cats[0], (j, 0.0), fontsize=7, ha="center", va="top")
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    ax.set_title(f"sweep {result['name']}: trials across parameters (dashed = pruned; colour = val loss)", fontsize=9)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="val loss (nats/token)")
    return fig


def plot_importance(result: dict[str, Any]):
    import matplotlib.pyplot as plt

    imp = result.get("importance") or {}
    fig, ax = plt.subplots(figsize=(5, 0.5 * max(len(imp), 2) + 1.2), layout="constrained")
    if not imp:
        ax.text(0.5, 0.5, f"no importance: {result.get('importance_note', '')}", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)
        ax.set_axis_off()
        return fig
    names = sorted(imp, key=imp.get)
    ax.barh(names, [imp[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (fraction of val-loss variance, fANOVA)", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("hyperparameter importance", fontsize=9)
    return fig


def plot_trial_curves(result: dict[str, Any]):
    """Every trial's intermediate val loss against step (what the median pruner compared)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for r in result["trials"]:
        pts = sorted((int(k), v) for k, v in r["intermediate"].items())
        if pts:
            label = f"#{r['number']} " + ",".join(f"{k}={v}" for k, v in r["params"].items())
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", ls="--" if r["state"] == "PRUNED" else "-",
                    label=label[:40])
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("val loss (nats/token)", fontsize=8)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=6, frameon=False)
    ax.set_title("val loss per trial (dashed = pruned)", fontsize=9)
    return fig


def sweep_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    return [("sweep_parallel", plot_parallel(result)), ("sweep_importance", plot_importance(result)),
            ("sweep_curves", plot_trial_curves(result))]
