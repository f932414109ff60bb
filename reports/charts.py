"""Small matplotlib charts the report draws itself from results data (never from a model).

Used when a stage's folder has no figure for something worth seeing: a training run's loss curves
(metrics.jsonl), a (layer × head) score grid, any 2-D numeric matrix of an unknown result kind.
Every chart returns PNG bytes (deterministic: no timestamps in the file).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from interp.figures import figure_to_png_bytes, plt

MAX_HEATMAP_CELLS = 64 * 64  # larger matrices are not drawn (they would be unreadable anyway)


def _finite(v: object) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return math.nan


def heatmap(matrix: Sequence[Sequence[float | None]], title: str, xlabel: str = "column", ylabel: str = "row",
            cmap: str = "viridis", center_zero: bool | None = None, annotate: bool | None = None) -> bytes:
    """A labelled heatmap of a 2-D matrix (None/NaN cells blank). Diverging colours when values change sign."""
    rows = [[_finite(v) for v in r] for r in matrix]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    rows = [r + [math.nan] * (n_cols - len(r)) for r in rows]
    vals = [v for r in rows for v in r if not math.isnan(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if center_zero is None:
        center_zero = lo < 0 < hi
    kw = {}
    if center_zero:
        m = max(abs(lo), abs(hi)) or 1.0
        kw = {"vmin": -m, "vmax": m}
        cmap = "RdBu_r"
    w = min(9.0, 1.6 + 0.45 * n_cols)
    h = min(7.0, 1.4 + 0.35 * n_rows)
    fig, ax = plt.subplots(figsize=(max(w, 4.0), max(h, 2.4)))
    im = ax.imshow(rows, cmap=cmap, aspect="auto", interpolation="nearest", **kw)
    ax.set_title(_esc(title), fontsize=11)
    ax.set_xlabel(_esc(xlabel))
    ax.set_ylabel(_esc(ylabel))
    if n_cols <= 32:
        ax.set_xticks(range(n_cols))
    if n_rows <= 32:
        ax.set_yticks(range(n_rows))
    if annotate is None:
        annotate = n_rows * n_cols <= 144
    if annotate:
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7,
                            color="white" if _dark(v, lo, hi, center_zero) else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return figure_to_png_bytes(fig, dpi=110)


def _dark(v: float, lo: float, hi: float, center_zero: bool) -> bool:
    if center_zero:
        m = max(abs(lo), abs(hi)) or 1.0
        return abs(v) / m > 0.6
    return (v - lo) / ((hi - lo) or 1.0) < 0.45  # viridis is dark at the low end


Series = dict[str, tuple[Sequence[float], Sequence[float]]]


def lines(series: Series, title: str, xlabel: str, ylabel: str, hlines: dict[str, float] | None = None,
          logy: bool = False) -> bytes:
    """Line chart of named (x, y) series, with optional labelled horizontal reference lines (e.g. chance)."""
    return panels([(title, series, ylabel, hlines)], xlabel, logy=logy)


def panels(specs: Sequence[tuple[str, Series, str, dict[str, float] | None]], xlabel: str, logy: bool = False,
           suptitle: str = "") -> bytes:
    """Side-by-side line charts in ONE image: each spec is (title, series, ylabel, hlines)."""
    n = len(specs)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.0 if n == 1 else 3.4 * ncols, 3.4 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        title, series, ylabel, hlines = specs[k]
        for name, (xs, ys) in series.items():
            pts = [(float(x), _finite(y)) for x, y in zip(xs, ys, strict=False)
                   if is_num(x) and not math.isnan(_finite(y))]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) <= 30 else None,
                        markersize=3, linewidth=1.5, label=_esc(name))
        for name, y in (hlines or {}).items():
            ax.axhline(y, linestyle="--", color="grey", linewidth=1)
            ax.annotate(_esc(name), xy=(0.01, y), xycoords=("axes fraction", "data"), fontsize=8,
                        color="dimgrey", va="bottom")
        if logy:
            ax.set_yscale("log")
        ax.set_title(_esc(title), fontsize=10)
        ax.set_xlabel(_esc(xlabel), fontsize=9)
        ax.set_ylabel(_esc(ylabel), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if series and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if suptitle:
        fig.suptitle(_esc(suptitle), fontsize=10)
    fig.tight_layout()
    return figure_to_png_bytes(fig, dpi=110)


def is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def bars(labels: Sequence[str], values: Sequence[float], title: str, ylabel: str,
         hline: tuple[str, float] | None = None) -> bytes:
    """Vertical bar chart (e.g. accuracy per condition) with an optional labelled reference line."""
    fig, ax = plt.subplots(figsize=(min(9.0, 2.0 + 0.5 * len(labels)), 3.4))
    vals = [_finite(v) for v in values]
    ax.bar(range(len(vals)), [0 if math.isnan(v) else v for v in vals], color="#4c72b0")
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels([_esc(_short(lb)) for lb in labels], rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center",
                       fontsize=8)
    if hline is not None:
        ax.axhline(hline[1], linestyle="--", color="grey", linewidth=1)
        ax.annotate(_esc(hline[0]), xy=(0.01, hline[1]), xycoords=("axes fraction", "data"), fontsize=8,
                    color="dimgrey", va="bottom")
    ax.set_title(_esc(title), fontsize=11)
    ax.set_ylabel(_esc(ylabel))
    ax.grid(axis="y", alpha=0.3)
    return figure_to_png_bytes(fig, dpi=110)


def _short(s: str, n: int = 24) -> str:
    s = str(s).replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def _esc(s: str) -> str:
    """Text for matplotlib: a literal '$' must not start mathtext."""
    return str(s).replace("$", r"\$")


def attention(mats: Sequence[tuple[str, Sequence[Sequence[float]]]], labels: Sequence[str], title: str) -> bytes:
    """A row of attention-pattern heatmaps (query rows × key columns, probabilities in [0, 1])."""
    n = len(mats)
    T = len(labels)
    panel = min(max(2.8, 0.14 * min(T, 60)), 6.0)
    fs = 8.0 if T <= 20 else 6.0 if T <= 50 else 4.5
    step = max(1, math.ceil(T / 60))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.4, panel * nrows + 0.9), squeeze=False)
    im = None
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        name, mat = mats[k]
        im = ax.imshow([[_finite(v) for v in r] for r in mat], cmap="Blues", vmin=0.0, vmax=1.0,
                       interpolation="nearest", aspect="equal")
        pos = list(range(0, T, step))
        ax.set_xticks(pos, [_esc(labels[i]) for i in pos], rotation=90, fontsize=fs)
        ax.set_yticks(pos, [_esc(labels[i]) for i in pos], fontsize=fs)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
        ax.set_title(_esc(name), fontsize=9)
    fig.suptitle(_esc(title), fontsize=10)
    if im is not None:
        fig.colorbar(im, ax=list(axes.flat), shrink=0.6, label="attention probability")
    return figure_to_png_bytes(fig, dpi=110)
