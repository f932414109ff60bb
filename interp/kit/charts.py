"""Report charts, drawn from results data (never from a model) INTO a matplotlib (sub)figure.

Every function here has the shape `draw_x(fig, ...)`: it draws into `fig`, which is either a
standalone `matplotlib.figure.Figure` (HTML: saved as SVG) or a `SubFigure` of a PDF page (PDF: the
chart stays vector). A `reports.document.Chart` block wraps such a call with a caption and a height;
both renderers give it the full print text width (`PRINT_WIDTH_IN`), so font sizes here are real
print sizes: tick and axis labels ≥ 8 pt, titles 9.5 pt.

Layout is explicit (gridspec margins in inches, converted per figure size) instead of tight_layout,
which does not work inside subfigures; the same chart therefore looks the same in both formats.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

PRINT_WIDTH_IN = 7.07  # A4 text width of the PDF (8.27 in − 2 × 0.6 in margins)
LABEL_PT = 8.0
TITLE_PT = 9.5
ANNOT_PT = 8.0


def _finite(v: object) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return math.nan


def is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def esc(s: object) -> str:
    """Text for matplotlib: a literal '$' must not start mathtext."""
    return str(s).replace("$", r"\$")


def short(s: object, n: int = 24) -> str:
    s = str(s).replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def _grid(fig: Any, nrows: int = 1, ncols: int = 1, left: float = 0.75, right: float = 0.25, top: float = 0.35,
          bottom: float = 0.55, wspace: float = 0.35, hspace: float = 0.6) -> Any:
    """Axes array with margins given in inches (works for Figure and SubFigure alike)."""
    w, h = _size(fig)
    return fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
        "left": min(0.45, left / w), "right": 1 - min(0.45, right / w), "top": 1 - min(0.45, top / h),
        "bottom": min(0.45, bottom / h), "wspace": wspace, "hspace": hspace})


def _size(fig: Any) -> tuple[float, float]:
    """(width, height) in inches of a Figure or SubFigure."""
    bbox = fig.bbox
    dpi = fig.figure.dpi if hasattr(fig, "figure") and fig.figure is not None else fig.dpi
    return bbox.width / dpi, bbox.height / dpi


def _style(ax: Any) -> None:
    ax.tick_params(labelsize=LABEL_PT)
    ax.xaxis.label.set_size(LABEL_PT + 0.5)
    ax.yaxis.label.set_size(LABEL_PT + 0.5)


# ----------------------------------------------------------------------------- chart kinds
def draw_heatmap(fig: Any, matrix: Sequence[Sequence[float | None]], title: str, xlabel: str = "head",
                 ylabel: str = "layer", cmap: str = "viridis", center_zero: bool | None = None,
                 vmin: float | None = None, vmax: float | None = None, annotate: bool | None = None,
                 colorbar_label: str = "", marks: Sequence[tuple[int, int]] = ()) -> None:
    """A (rows × cols) heatmap, None/NaN cells blank; diverging colours centred on 0 when values change sign.
    `marks`: (row, col) cells outlined (e.g. the best head)."""
    from matplotlib.patches import Rectangle

    rows = [[_finite(v) for v in r] for r in matrix]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    rows = [r + [math.nan] * (n_cols - len(r)) for r in rows]
    vals = [v for r in rows for v in r if not math.isnan(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if center_zero is None:
        center_zero = lo < 0 < hi
    if center_zero:
        m = max(abs(lo), abs(hi)) or 1.0
        vmin, vmax, cmap = -m, m, "RdBu_r"
    (ax,), = _grid(fig, right=1.0)
    im = ax.imshow(rows, cmap=cmap, aspect="auto", interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.set_title(esc(title), fontsize=TITLE_PT)
    ax.set_xlabel(esc(xlabel))
    ax.set_ylabel(esc(ylabel))
    step_x = max(1, math.ceil(n_cols / 24))
    step_y = max(1, math.ceil(n_rows / 24))
    ax.set_xticks(range(0, n_cols, step_x))
    ax.set_yticks(range(0, n_rows, step_y))
    w, h = _size(fig)
    cell_w, cell_h = (w - 1.75) / max(n_cols, 1), (h - 0.9) / max(n_rows, 1)
    if annotate is None:
        annotate = cell_w >= 0.42 and cell_h >= 0.2
    if annotate:
        a, b = (vmin, vmax) if vmin is not None and vmax is not None else (lo, hi)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if not math.isnan(v):
                    dark = (abs(v) / (max(abs(a), abs(b)) or 1) > 0.6) if center_zero else \
                        ((v - a) / ((b - a) or 1.0) < 0.45)
                    ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=ANNOT_PT,
                            color="white" if dark else "black")
    for (i, j) in marks:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#e11d48", linewidth=1.8))
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.ax.tick_params(labelsize=LABEL_PT)
    if colorbar_label:
        cb.set_label(esc(colorbar_label), fontsize=LABEL_PT)
    _style(ax)


Series = dict[str, tuple[Sequence[float], Sequence[float]]]


def _tick(v: float, _pos: Any = None) -> str:
    """A compact tick label: 3 significant digits, thousands separated, never scientific above 1e-4."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) >= 1e-4 else f"{v:.1e}"


def draw_panels(fig: Any, specs: Sequence[tuple], xlabel: str, logy: bool = False, logx: bool = False,
                vlines: dict[str, float] | None = None) -> None:
    """Side-by-side line charts: each spec is (title, series, ylabel, labelled horizontal lines[, (ymin, ymax)]).

    Nothing is written over the data: reference lines (thresholds, chance) are named in the legend, and the legend
    sits under the panel. A spec's optional y range fixes the axis (scores: (0, 1), so noise is not zoomed into).
    `vlines` (label -> x) are drawn dotted on every panel (e.g. the checkpoints where a phase change is marked)."""
    n = len(specs)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    w, h = _size(fig)
    one_col = ncols > 1  # several panels side by side: one legend entry per row, so legends stay narrow
    rows = max((1 if not one_col else len(sp[1]) + len(sp[3] or {}) + len(vlines or {})) for sp in specs)
    legend_in = 0.18 * rows + 0.1  # inches of legend under each panel's x label
    axes = _grid(fig, nrows, ncols, wspace=0.6, hspace=(1.0 + legend_in) / max(h / nrows - 1.0, 0.8),
                 bottom=0.6 + legend_in)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        title, series, ylabel, hlines = specs[k][:4]
        ylim = specs[k][4] if len(specs[k]) > 4 else None
        for name, (xs, ys) in series.items():
            pts = [(float(x), _finite(y)) for x, y in zip(xs, ys, strict=False)
                   if is_num(x) and not math.isnan(_finite(y))]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) <= 30 else None,
                        markersize=3, linewidth=1.4, label=esc(name))
        for name, y in (hlines or {}).items():
            ax.axhline(y, linestyle="--", color="grey", linewidth=1, label=esc(name))
        for j, (name, x) in enumerate((vlines or {}).items()):
            if is_num(x):
                ax.axvline(float(x), linestyle=":", color=f"C{(j + 3) % 10}", linewidth=1.2, label=esc(name))
        if logy:
            ax.set_yscale("log")
        else:
            from matplotlib.ticker import FuncFormatter

            ax.yaxis.set_major_formatter(FuncFormatter(_tick))  # no offset text over the title
        if ylim is not None:
            ax.set_ylim(*ylim)
        if logx:
            ax.set_xscale("log")
        else:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4 if ncols > 1 else 6))
        ax.set_title(esc(title), fontsize=TITLE_PT)
        ax.set_xlabel(esc(xlabel))
        ax.set_ylabel(esc(ylabel))
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if handles:  # under the panel, below the x label: never over the lines
            ax_h = ax.get_position().height * h  # inches
            ax.legend(handles, labels, fontsize=LABEL_PT, frameon=False, loc="upper center",
                      bbox_to_anchor=(0.5, -0.5 / max(ax_h, 0.3)), ncol=1 if one_col else len(labels))
        _style(ax)


def draw_bars(fig: Any, labels: Sequence[str], values: Sequence[float | None], title: str, ylabel: str,
              intervals: Sequence[tuple[float, float] | None] | None = None,
              hlines: dict[str, float] | None = None, ylim: tuple[float, float] | None = None) -> None:
    """Vertical bars with optional interval whiskers and labelled reference lines (chance, baseline)."""
    (ax,), = _grid(fig, bottom=0.75 if len(labels) > 4 else 0.5)
    vals = [_finite(v) for v in values]
    xs = range(len(vals))
    ax.bar(xs, [0 if math.isnan(v) else v for v in vals], color="#4c72b0", width=0.6)
    if intervals:
        for x, v, ci in zip(xs, vals, intervals, strict=False):
            if ci is not None and not math.isnan(v):
                ax.errorbar([x], [v], yerr=[[v - ci[0]], [ci[1] - v]], color="black", capsize=4, linewidth=1.1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([esc(short(lb)) for lb in labels], rotation=20 if len(labels) > 4 else 0,
                       ha="right" if len(labels) > 4 else "center")
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, linestyle="--", color=("grey", "#b45309", "#0f766e")[i % 3], linewidth=1)
        ax.annotate(esc(name), xy=(1.0, y), xycoords=("axes fraction", "data"), fontsize=LABEL_PT,
                    color="dimgrey", va="bottom", ha="right")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(esc(title), fontsize=TITLE_PT)
    ax.set_ylabel(esc(ylabel))
    ax.grid(axis="y", alpha=0.3)
    _style(ax)


def draw_attention(fig: Any, mats: Sequence[tuple[str, Sequence[Sequence[float]]]], labels: Sequence[str],
                   title: str) -> None:
    """A row of attention-pattern heatmaps (query rows × key columns, probabilities in [0, 1])."""
    n = len(mats)
    T = len(labels)
    step = max(1, math.ceil(T / 32))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    axes = _grid(fig, nrows, ncols, left=0.9, bottom=0.9, right=0.9, top=0.45, wspace=0.45)
    im = None
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        name, mat = mats[k]
        im = ax.imshow([[_finite(v) for v in r] for r in mat], cmap="Blues", vmin=0.0, vmax=1.0,
                       interpolation="nearest", aspect="equal")
        pos = list(range(0, T, step))
        ax.set_xticks(pos, [esc(short(labels[i], 10)) for i in pos], rotation=90)
        ax.set_yticks(pos, [esc(short(labels[i], 10)) for i in pos])
        ax.set_title(esc(name), fontsize=TITLE_PT)
        _style(ax)
    fig.suptitle(esc(title), fontsize=TITLE_PT)
    if im is not None:
        cb = fig.colorbar(im, ax=list(axes.flat), shrink=0.8, fraction=0.03, pad=0.02)
        cb.set_label("attention probability", fontsize=LABEL_PT)
        cb.ax.tick_params(labelsize=LABEL_PT)


# ----------------------------------------------------------------------------- standalone rendering
def render(draw: Callable[[Any], None], height: float, fmt: str = "svg", width: float = PRINT_WIDTH_IN,
           dpi: int = 150) -> bytes:
    """Draw into a standalone figure of width × height inches; SVG/PNG/PDF bytes without timestamps."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "interp-report", "svg.fonttype": "path"}):
        fig = Figure(figsize=(width, height))
        draw(fig)
        buf = io.BytesIO()
        meta: dict[str, Any] = {"svg": {"Date": None}, "png": {"Software": None},
                                "pdf": {"CreationDate": None, "ModDate": None}}[fmt]
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()
