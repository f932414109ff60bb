"""Drawing of circuit results into a matplotlib Figure (or SubFigure), from the result dict only (torch-free).

    draw_graph(fig, d)        layered nodes (input at the bottom, one row per layer: heads then the MLP,
                              logits on top); the named circuit's edges, width ∝ |score|, blue = patching the
                              edge lowers the metric, red = raises it; q / k / v inputs as solid / dashed / dotted.
    draw_curve(fig, d)        faithfulness vs number of edges (log x), 95% bootstrap band, random circuits of
                              the same sizes as the baseline, the 0.8 target line.
    draw_formation(fig, d)    circuit-formation: faithfulness and top-edge scores vs tokens, beside the loss.
"""

from __future__ import annotations

from typing import Any

STYLE = {"q": "-", "k": "--", "v": ":", "": "-"}


def _pos(node: str, n_layers: int, n_heads: int) -> tuple[float, float]:
    mid = (n_heads - 1) / 2.0
    if node == "input":
        return (mid, 0.0)
    if node == "logits":
        return (mid, 2.0 * n_layers + 1.0)
    if node.startswith("m"):
        return (float(n_heads), 2.0 * int(node[1:]) + 1.8)
    layer, head = (int(x) for x in node.split(".")[:2])
    return (float(head), 2.0 * layer + 1.0)


def draw_graph(fig: Any, d: dict[str, Any], max_edges: int = 60) -> None:
    n_layers, n_heads = int(d["n_layers"]), int(d["n_heads"])
    scores = dict(zip(d["edges"], d["scores"][d["method"]], strict=True))
    circ = d.get("circuit") or {}
    edges = list(circ.get("edges") or [t["edge"] for t in d.get("top", [])])[:max_edges]
    ax = fig.add_subplot(111)
    big = max([abs(scores[e]) for e in edges] + [1e-12])
    used = {"input", "logits"}
    for e in edges:
        src, dst = e.split("->")
        kind = dst.split(".")[2] if dst.count(".") == 2 else ""
        node = ".".join(dst.split(".")[:2]) if kind else dst
        used.update({src, node})
        (x0, y0), (x1, y1) = _pos(src, n_layers, n_heads), _pos(node, n_layers, n_heads)
        s = scores[e]
        ax.plot([x0, x1], [y0, y1], linestyle=STYLE[kind], color="#2563eb" if s < 0 else "#dc2626",
                linewidth=0.4 + 4.0 * abs(s) / big, alpha=0.75, zorder=1)
    nodes = ["input", "logits"] + [f"{layer}.{h}" for layer in range(n_layers) for h in range(n_heads)]
    nodes += [f"m{layer}" for layer in range(n_layers)]
    for n in nodes:
        x, y = _pos(n, n_layers, n_heads)
        on = n in used
        ax.scatter([x], [y], s=260 if on else 120, color="#f59e0b" if on else "#e5e7eb", edgecolor="black",
                   linewidth=0.5, zorder=2, marker="s" if n.startswith("m") else "o")
        ax.annotate(n, (x, y), ha="center", va="center", fontsize=6, zorder=3)
    f = circ.get("faithfulness")
    ax.set_title(f"{d['method']} circuit: {len(edges)} of {d['n_edges']} edges"
                 + (f", faithfulness {f:.2f}" if isinstance(f, (int, float)) else "")
                 + "  (width ∝ |score|; q solid, k dashed, v dotted)", fontsize=8)
    ax.set_xlim(-0.8, n_heads + 0.8)
    ax.set_ylim(-0.7, 2 * n_layers + 1.7)
    ax.axis("off")


def draw_curve(fig: Any, d: dict[str, Any]) -> None:
    cv = d["curve"]
    ax = fig.add_subplot(111)
    xs = [max(k, 0.5) for k in cv["sizes"]]  # 0 edges drawn at 0.5 on the log axis

    def line(key: str, lo: str, hi: str, label: str, color: str) -> None:
        ys = [float("nan") if v is None else v for v in cv[key]]
        ax.plot(xs, ys, marker="o", markersize=3, color=color, label=label)
        if any(v is not None for v in cv[lo]):
            ax.fill_between(xs, [float("nan") if v is None else v for v in cv[lo]],
                            [float("nan") if v is None else v for v in cv[hi]], color=color, alpha=0.2)

    line("faithfulness", "lo", "hi", f"top-k by {d['method']}", "#2563eb")
    line("random", "random_lo", "random_hi", "random circuits (baseline)", "#9ca3af")
    ax.axhline(0.8, color="#b45309", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("edges in the circuit (0 drawn at 0.5)")
    ax.set_ylabel("faithfulness")
    ax.set_title(f"faithfulness (m(C) − m(corrupt)) / (m(clean) − m(corrupt)), n = {d['n_pairs']} pairs, 95% bootstrap",
                 fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)


def draw_formation(fig: Any, d: dict[str, Any]) -> None:
    axes = fig.subplots(1, 3)
    x = d["x"]
    ax = axes[0]
    ax.plot(x, [float("nan") if v is None else v for v in d["faithfulness"]], marker="o", markersize=3)
    if any(v is not None for v in d.get("lo", [])):
        ax.fill_between(x, [float("nan") if v is None else v for v in d["lo"]],
                        [float("nan") if v is None else v for v in d["hi"]], alpha=0.2)
    ax.plot(x, [float("nan") if v is None else v for v in d["random"]], color="#9ca3af", label="random")
    ax.axhline(d.get("target", 0.8), color="#b45309", linestyle="--", linewidth=1)
    if d.get("formed_at") is not None:
        ax.axvline(d["formed_at"], color="#16a34a", linewidth=1)
    ax.set_title(f"faithfulness of the final top-{d['size']} circuit", fontsize=8)
    ax.set_xlabel(d["x_name"])
    ax = axes[1]
    for e, ys in d["edge_scores"].items():
        ax.plot(x, ys, marker="o", markersize=2, label=e)
    ax.set_title("top edge scores (EAP-IG)", fontsize=8)
    ax.set_xlabel(d["x_name"])
    ax.legend(fontsize=5, frameon=False)
    ax = axes[2]
    xk = {"tokens": "tokens", "step": "step", "epoch": "epoch"}.get(d["x_name"])
    for key in ("train_loss", "val_loss"):
        pts = [(r[xk], r[key]) for r in d.get("loss_curve", ()) if xk and r.get(xk) is not None
               and isinstance(r.get(key), (int, float))]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, linewidth=1)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, frameon=False)
    ax.set_title("loss (from the series)", fontsize=8)
    ax.set_xlabel(d["x_name"])
    for a in axes:
        a.grid(alpha=0.3)
