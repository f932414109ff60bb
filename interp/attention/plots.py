"""Figures of attention maps and attention over training, drawn from result DICTS (results.json), never a model.

Each `plot_*` takes the dict `to_dict()` returns; `FIGURES` in `interp.figures` maps a result kind to the
function that returns all of its `[(name, figure)]`.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

# ----------------------------------------------------------------------------- figures (from result dicts)
MAX_LABELLED_TOKENS = 80  # beyond this, label every k-th position only


def _tick_step(n: int, max_labels: int = MAX_LABELLED_TOKENS) -> int:
    return max(1, math.ceil(n / max_labels))


def _heatmap(ax, mat, labels: list[str] | None, fontsize: float = 7.0, x_labels: bool = True,
             y_labels: bool = True):
    """One attention pattern: queries on the y axis (top to bottom), keys on the x axis."""
    im = ax.imshow(mat, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    n = len(mat)
    if labels is None:
        ax.set_xticks([])
        ax.set_yticks([])
        return im
    step = _tick_step(n)
    pos = list(range(0, n, step))
    shown = [labels[i] for i in pos]
    if x_labels:
        ax.set_xticks(pos, shown, rotation=90, fontsize=fontsize, parse_math=False)
        ax.set_xlabel("key", fontsize=fontsize + 1)
    else:
        ax.set_xticks([])
    if y_labels:
        ax.set_yticks(pos, shown, fontsize=fontsize, parse_math=False)
        ax.set_ylabel("query", fontsize=fontsize + 1)
    else:
        ax.set_yticks([])
    return im


@contextlib.contextmanager
def quiet_missing_glyphs() -> Iterator[None]:
    """Silence matplotlib's 'Glyph ... missing from font' warnings (CJK/emoji tokens) while drawing/saving."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        yield


def _prediction_text(d: dict[str, Any]) -> str:
    return f"next token: '{d['next_token']}' (p = {d['next_token_prob']:.3f})"


def plot_attention_maps(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """One figure per selected layer: a grid of the selected heads' heatmaps + the head-mean.

    Returns [(name, figure)] with names 'attention_L{layer}' for `interp.figures.save_figure`.
    """
    import matplotlib.pyplot as plt

    labels = list(result["tokens"])
    T = len(labels)
    panel = min(max(3.0, 0.16 * min(T, MAX_LABELLED_TOKENS)), 9.0)
    fs = 8.0 if T <= 20 else 6.0 if T <= 50 else 5.0
    figs = []
    with quiet_missing_glyphs():
        for li, layer in enumerate(result["layers"]):
            mats = [(f"head {h}", result["patterns"][li][j]) for j, h in enumerate(result["heads"][li])]
            mats.append((f"mean of {result['n_heads']} heads", result["head_mean"][li]))
            ncols = min(4, len(mats))
            nrows = math.ceil(len(mats) / ncols)
            fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.2, panel * nrows + 1.0), squeeze=False,
                                     layout="constrained")
            im = None
            for k, ax in enumerate(axes.flat):
                if k >= len(mats):
                    ax.axis("off")
                    continue
                title, mat = mats[k]
                im = _heatmap(ax, mat, labels, fontsize=fs,
                              x_labels=k >= len(mats) - ncols, y_labels=k % ncols == 0)
                ax.set_title(title, fontsize=fs + 2)
            trunc = f" — prompt truncated: first {result['n_dropped']} tokens dropped" if result.get("truncated") else ""
            model = f"{result['model']} — " if result.get("model") else ""
            fig.suptitle(f"{model}layer {layer} attention — {_prediction_text(result)}{trunc}", fontsize=fs + 3, parse_math=False)
            if im is not None:
                fig.colorbar(im, ax=list(axes.flat), shrink=0.6, label="attention probability")
            figs.append((f"attention_L{layer}", fig))
    return figs


def plot_attention_evolution_grid(result: dict[str, Any]):
    """Epochs (rows) × layers or chosen heads (columns) of the prompt's attention patterns."""
    import matplotlib.pyplot as plt

    labels = list(result["tokens"])
    T = len(labels)
    cols = list(result["grid_columns"])
    cks = result["checkpoints"]
    nrows, ncols = len(cks), len(cols)
    show = labels if T <= 24 else None
    panel = 2.4 if show else 1.6
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.5, panel * nrows + 1.0), squeeze=False,
                             layout="constrained")
    with quiet_missing_glyphs():
        im = None
        for r, ck in enumerate(cks):
            for c, col in enumerate(cols):
                ax = axes[r][c]
                im = _heatmap(ax, ck["grid"][c], show, fontsize=5.0, x_labels=r == nrows - 1, y_labels=c == 0)
                if r == 0:
                    ax.set_title(col, fontsize=8)
                if c == 0:  # row label: checkpoint + the prompt's predicted next token there
                    ax.set_ylabel(f"{checkpoint_label(ck)}\n'{ck['next_token']}' p={ck['next_token_prob']:.2f}",
                                  fontsize=7, parse_math=False)
        what = "head-mean per layer" if result.get("heads") is None else "selected heads"
        fig.suptitle(f"attention over training ({what}) — prompt: {result['prompt'][:60]!r}", fontsize=9, parse_math=False)
        if im is not None:
            fig.colorbar(im, ax=list(axes.flat), shrink=0.5, label="attention probability")
    return fig


METRICS = (
    ("entropy", "attention entropy (nats)"),
    ("prev_token", "previous-token score"),
    ("sink", "first-token (sink) score"),
    ("induction", "induction score"),
    ("duplicate_token", "duplicate-token score"),
    ("js_distance", "JS distance to previous checkpoint"),
)


def evolution_lines(result: dict[str, Any], metric: str) -> dict[str, list[float | None]]:
    """Per line label, the metric over epochs: chosen heads, else the mean over heads per layer."""
    cks = result["checkpoints"]
    heads = result.get("heads")
    lines: dict[str, list[float | None]] = {}
    if any(not ck.get(metric) and ck.get(metric) is not None for ck in cks) or any(metric not in ck for ck in cks):
        return lines  # a metric older results do not have
    if heads:
        for L, H in heads:
            lines[f"L{L}.H{H}"] = [None if ck[metric] is None else ck[metric][L][H] for ck in cks]
    else:
        for L in range(result["n_layers"]):
            lines[f"L{L} mean"] = [None if ck[metric] is None else sum(ck[metric][L]) / len(ck[metric][L])
                                   for ck in cks]
    return lines


def plot_attention_evolution_metrics(result: dict[str, Any]):
    """One panel per head score over epochs; a line per chosen head, or the head-mean per layer."""
    import matplotlib.pyplot as plt

    xs, xlabel = x_axis(result)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.6 * len(METRICS), 3.4), squeeze=False, layout="constrained")
    for ax, (metric, title) in zip(axes[0], METRICS, strict=True):
        for label, ys in evolution_lines(result, metric).items():
            pts = [(e, y) for e, y in zip(xs, ys, strict=True) if y is not None and e is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.2, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", useOffset=False)
        set_x_scale(ax, result.get("x", "epoch"), xs)
        mark_boundary(ax, result)
        ax.grid(alpha=0.3)
        if metric == "js_distance":
            ax.set_ylim(bottom=0.0)  # in [0, 1], but late-training values are small: autoscale the top
        elif metric != "entropy" and ax.lines:
            ax.set_ylim(-0.02, 1.02)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle(f"head scores over training — prompt: {result['prompt'][:60]!r} "
                 f"(induction: S={result['induction_len']}, {result['induction_batch']} seqs)", fontsize=9,
                 parse_math=False)
    return fig


X_LABELS = {"tokens": "tokens seen", "step": "step", "epoch": "epoch", "checkpoint": "checkpoint #"}


def x_axis(result: dict[str, Any]) -> tuple[list[float | None], str]:
    """The x values and axis label of an over-training result (old results: epochs)."""
    x = result.get("x") or "epoch"
    xs = list(result.get("x_values") or result.get("epochs") or [])
    return xs, X_LABELS.get(x, x)


def mark_boundary(ax, result: dict[str, Any]) -> None:
    """A parent → fine-tune series: a vertical line where fine-tuning starts (on this x axis)."""
    b = result.get("boundary")
    if not b:
        return
    v = b.get({"tokens": "tokens", "step": "step", "checkpoint": "checkpoint"}.get(result.get("x") or "", ""))
    if v is not None:
        ax.axvline(v, color="tab:purple", ls="--", lw=1.2, label=b.get("label", "fine-tune starts"))
        ax.annotate("fine-tune", (v, 1.0), xycoords=("data", "axes fraction"), fontsize=6, color="tab:purple",
                    ha="left", va="top", rotation=90)


def set_x_scale(ax, x: str, xs: list[float | None]) -> None:
    """Log x for step/tokens spanning > 2 decades (log-spaced checkpoints; symlog from 0 when a step-0 checkpoint
    is there); integer ticks for epochs and checkpoint numbers."""
    vals = [v for v in xs if v is not None]
    pos = [v for v in vals if v > 0]
    if x in ("step", "tokens") and pos and max(pos) > 100 * min(pos):
        if len(pos) < len(vals):
            ax.set_xscale("symlog", linthresh=min(pos))
            ax.set_xlim(left=0)
        else:
            ax.set_xscale("log")
    elif x in ("epoch", "checkpoint"):
        ax.xaxis.get_major_locator().set_params(integer=True)


def checkpoint_label(ck: dict[str, Any]) -> str:
    """Row label of a checkpoint: its label, else 'epoch N'."""
    if ck.get("label"):
        return str(ck["label"])
    return f"epoch {ck.get('epoch')}"


def attention_maps_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """All figures of an `attention_maps` result (registered in `interp.figures.FIGURES`)."""
    return plot_attention_maps(result)


def attention_evolution_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """All figures of an `attention_evolution` result: the pattern grid (when kept) + the head scores."""
    figs = []
    if result["checkpoints"] and result["checkpoints"][0].get("grid"):
        figs.append(("attention_evolution_grid", plot_attention_evolution_grid(result)))
    figs.append(("attention_evolution_scores", plot_attention_evolution_metrics(result)))
    return figs
