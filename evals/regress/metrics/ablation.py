"""Metric kind `ablation`: Δloss when heads are ablated together — computed by `interp.ablation.ablate`, the very
function `interp ablate` calls (same windows, same BOS rule, same hooks), so the numbers are the same.

The bootstrap unit is the eval window: `ablate` reports each window's mean clean and ablated loss."""

from __future__ import annotations

from typing import Any

from evals.regress.metrics._common import (
    SPLITS,
    documents,
    fingerprint,
    heads_ok,
    one_of,
    one_source,
    positive,
)
from evals.regress.protocol import EvalContext, EvalKind, MetricSpec, MetricValue, Param, item_id, mean_of

METHODS = ("zero", "mean", "resample")


def _ablation(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Per-window Δloss = ablated − clean mean next-token loss (`interp.ablation.ablate`, no generation)."""
    from interp.ablation.ablate import ablate

    res = ablate(model, heads=p["heads"], method=p["method"], documents=documents(p, ctx), context=p["context"],
                 max_tokens=p["max_tokens"], batch_size=p["batch_size"], max_new_tokens=0, seed=ctx.seed)
    clean, abl = res.window_clean_loss, res.window_ablated_loss  # (N,) mean loss per window
    fp = fingerprint({"shape": [res.n_windows, res.window_len], "windows": res.windows_sha256})
    ids = [item_id(fp, f"window {i}") for i in range(len(clean))]
    return {"delta_loss": mean_of([a - c for a, c in zip(abl, clean, strict=True)], fingerprint=fp, items=ids),
            "ablated_loss": mean_of(abl, fingerprint=fp, items=ids),
            "clean_loss": mean_of(clean, fingerprint=fp, items=ids)}


KIND = EvalKind(
    name="ablation",
    doc="Δloss when named heads are ablated together (interp.ablation.ablate, as `interp ablate`), per eval window.",
    params={
        "heads": Param("str", doc="LAYER.HEAD list, e.g. \"0.1,1.3\" or \"1.*\"", check=heads_ok),
        "method": Param("str", "zero", "zero | mean | resample", check=one_of(METHODS)),
        "split": Param("str", None, "split of the model's training run: train | val | test", check=one_of(SPLITS)),
        "file": Param("path", None, ".txt file, folder of .txt files or .jsonl"),
        "context": Param("int", None, "window length (default, as `interp ablate`: the model's n_ctx, at most 512)",
                         check=positive),
        "max_tokens": Param("int", 4096, "eval tokens (non-overlapping windows)", check=positive),
        "batch_size": Param("int", None, "windows per forward (default: automatic)", check=positive),
    },
    metrics={
        "delta_loss": MetricSpec("delta_loss", None, "mean",
                                 "ablated − clean loss (nats/token); set direction: \"higher\" keeps a head "
                                 "important, \"lower\" keeps the model robust to losing it"),
        "ablated_loss": MetricSpec("ablated_loss", "lower", "mean", "loss with the heads ablated", default=False),
        "clean_loss": MetricSpec("clean_loss", "lower", "mean", "loss of the unablated model", default=False),
    },
    adapter=_ablation,
    validate=one_source,
    seeded=lambda p: p["method"] == "resample",
)
