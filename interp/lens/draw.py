"""Lens figures from the result dict only (torch-free): a layer × position heatmap with the top tokens written in."""

from __future__ import annotations

from typing import Any


def _tok(s: str) -> str:
    return repr(s)[1:-1][:8]


def draw_lens(fig: Any, d: dict[str, Any], lens: str = "logit") -> None:
    import numpy as np

    g = d["lenses"][lens]
    has_answer = g.get("answer_prob") is not None
    val = np.array(g["answer_prob"] if has_answer else g["kl"], dtype=float)  # (L, T)
    ax = fig.add_subplot(111)
    im = ax.imshow(val, aspect="auto", origin="lower", cmap="viridis" if has_answer else "magma_r")
    n_layers, t = val.shape
    for i in range(n_layers):
        for j in range(t):
            ax.text(j, i, _tok(g["top_token"][i][j]), ha="center", va="center", fontsize=6,
                    color="white" if (val[i, j] < val.max() / 2) == has_answer else "black")
    ax.set_xticks(range(t))
    ax.set_xticklabels([_tok(x) for x in d["tokens"]], rotation=60, fontsize=6, ha="right")
    ax.set_yticks(range(n_layers))
    ax.set_ylabel("layer (resid_post)")
    what = f"P({d['answer']!r})" if has_answer else "KL(final ‖ layer), nats"
    ax.set_title(f"{lens} lens: colour = {what}; text = top-1 token", fontsize=8)
    fig.colorbar(im, ax=ax)


def draw_series(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.add_subplot(111)
    ys = [float("nan") if v is None else v for v in d["top1_layer"]]
    ax.plot(d["x"], ys, marker="o")
    ax.set_ylim(-0.5, d["n_layers"] - 0.5)
    ax.set_xlabel(d["x_name"])
    ax.set_ylabel("first layer with the answer top-1")
    ax.set_title(f"logit lens over checkpoints: answer {d['config']['answer']!r} (gaps: never top-1)", fontsize=8)
    ax.grid(alpha=0.3)
