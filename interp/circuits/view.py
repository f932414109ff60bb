"""The HTML interactive edge view's data (torch-free: used by the report section).

The view (reports/html.py EDGES_JS) draws the residual graph as layered nodes (the positions of `draw_graph`),
a slider picks how many top edges (by |score|) to draw and list, and the faithfulness measured at the nearest
curve size at or below the slider is shown beside the random-circuit baseline; clicking a node keeps only its
edges. Only the top `max_edges` edges travel (the full scores stay in results.json).
"""

from __future__ import annotations

from typing import Any

from interp.circuits.draw import _pos


def edge_view_data(d: dict[str, Any], max_edges: int = 300) -> dict[str, Any]:
    """JSON-safe data for the view: nodes with positions, top edges sorted by |score| (src, dst node, q/k/v),
    the faithfulness curve, and the named circuit's size (the slider's start)."""
    n_layers, n_heads = int(d["n_layers"]), int(d["n_heads"])
    scores = d["scores"][d["method"]]
    order = sorted(range(len(d["edges"])), key=lambda i: (-abs(scores[i]), i))[:max_edges]
    edges = []
    for i in order:
        src, dst = d["edges"][i].split("->")
        kind = dst.split(".")[2] if dst.count(".") == 2 else ""
        node = ".".join(dst.split(".")[:2]) if kind else dst
        edges.append({"edge": d["edges"][i], "src": src, "dst": node, "kind": kind, "score": float(scores[i])})
    names = ["input", *[f"{layer}.{h}" for layer in range(n_layers) for h in range(n_heads)],
             *[f"m{layer}" for layer in range(n_layers)], "logits"]
    nodes = [{"name": n, "x": _pos(n, n_layers, n_heads)[0], "y": _pos(n, n_layers, n_heads)[1]} for n in names]
    cv = d.get("curve") or {}
    curve = {k: list(cv.get(k) or []) for k in ("sizes", "faithfulness", "lo", "hi", "random")}
    size = (d.get("circuit") or {}).get("size")
    start = min(int(size) if isinstance(size, int) and size > 0 else 20, len(edges))
    return {"method": d["method"], "n_edges": int(d["n_edges"]), "n_layers": n_layers, "n_heads": n_heads,
            "nodes": nodes, "edges": edges, "curve": curve, "start": max(start, 1) if edges else 0}
