"""Metric kind `generation`: seeded continuations of prompts, distinct-n per continuation (repetition)."""

from __future__ import annotations

from typing import Any

from evals.regress.metrics._common import positive
from evals.regress.protocol import EvalContext, EvalKind, MetricSpec, MetricValue, Param, item_id, mean_of
from interp.errors import UserError


def _decoding_ok(v: str) -> str | None:
    from interp.decoding import Decoding

    try:
        Decoding.parse(v)
    except UserError as e:
        return str(e)
    return None


def _prompts_ok(v: list[str]) -> str | None:
    if not v or any(not p.strip() for p in v):
        return "needs a non-empty list of non-empty prompt strings"
    return None


def _generation(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Continue each prompt (seeded per prompt; ids from `interp.tokens`, BOS first) and score distinct-1/2."""
    import torch

    from interp.decoding import Decoding, distinct_n, generate
    from interp.tokens import encode_prompt

    dec = Decoding.parse(p["decoding"])
    n_ctx = int(model.cfg.n_ctx)
    dev = next(model.original_model.parameters()).device
    d1, d2 = [], []
    with torch.no_grad():
        for i, prompt in enumerate(p["prompts"]):
            ids = torch.tensor([encode_prompt(model.tokenizer, prompt, n_ctx=n_ctx, reserve=1).ids], device=dev)  # (1, T)
            full = generate(lambda x: model(x), ids, p["max_new_tokens"], n_ctx, dec, seed=ctx.seed + i)
            new = full[0, ids.shape[1]:].tolist()
            d1.append(distinct_n(new, 1))
            d2.append(distinct_n(new, 2))
    ids = [item_id(f"prompt {i}", prompt) for i, prompt in enumerate(p["prompts"])]
    return {"distinct_1": mean_of(d1, items=ids), "distinct_2": mean_of(d2, items=ids)}


KIND = EvalKind(
    name="generation",
    doc="Seeded continuations of prompts; distinct-n of each continuation (1 = no repetition).",
    params={
        "prompts": Param("str_list", doc="prompts to continue", check=_prompts_ok),
        "max_new_tokens": Param("int", 32, "tokens generated per prompt", check=positive),
        "decoding": Param("str", "greedy", "greedy | t0.7 | k50 | k50t0.8", check=_decoding_ok),
    },
    metrics={
        "distinct_1": MetricSpec("distinct_1", "higher", "mean", "distinct unigrams / unigrams, mean over prompts"),
        "distinct_2": MetricSpec("distinct_2", "higher", "mean", "distinct bigrams / bigrams, mean over prompts"),
    },
    adapter=_generation,
    seeded=True,
)
