"""Metric kind `lens`: the answer's logit-lens probability and rank at one layer, last prompt position."""

from __future__ import annotations

from typing import Any

from interp.kit.regress import EvalContext, EvalKind, MetricSpec, MetricValue, Param


def _lens(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    from interp.errors import UserError
    from interp.lens.api import lens

    res = lens(model, prompt=p["prompt"], answer=p["answer"], seed=ctx.seed, device=ctx.device)
    g = res.lenses["logit"]
    layer = p["layer"] if p["layer"] >= 0 else res.n_layers + p["layer"]
    if not 0 <= layer < res.n_layers:
        raise UserError(f"lens eval: layer {p['layer']} out of range for {res.n_layers} layers")
    prob, rank = float(g["answer_prob"][layer][-1]), float(g["answer_rank"][layer][-1])
    return {"answer_prob": MetricValue(prob, 1), "answer_rank": MetricValue(rank, 1)}


KIND = EvalKind(
    name="lens",
    doc="Logit-lens probability and rank (0 = top-1) of the answer at one layer (interp.lens).",
    params={"prompt": Param("str", doc="the prompt"), "answer": Param("str", doc="one-token answer word"),
            "layer": Param("int", -1, "layer (negative: from the end)")},
    metrics={"answer_prob": MetricSpec("answer_prob", "higher", "mean", "P(answer) through the logit lens"),
             "answer_rank": MetricSpec("answer_rank", "lower", "mean", "rank of the answer (0 = top-1)")},
    adapter=_lens,
)
