"""Metric kind `perplexity`: sliding-window perplexity (`evals.perplexity.perplexity`) with per-window samples."""

from __future__ import annotations

from typing import Any

from evals.regress.metrics._common import SPLITS, documents, fingerprint, one_of, one_source, positive
from evals.regress.protocol import EvalContext, EvalKind, MetricSpec, MetricValue, Param, item_id, mean_of

UNITS = ("window", "document")


def _perplexity(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Per-window (or per-document) mean NLL with token-count weights: perplexity = exp(weighted mean)."""
    import torch

    from evals.perplexity import PerplexityConfig, perplexity

    cfg = PerplexityConfig(context=p["context"], stride=p["stride"], max_tokens=p["max_tokens"],
                           batch_size=p["batch_size"])
    with torch.no_grad():
        res = perplexity(model, documents(p, ctx), cfg)
    if p["unit"] == "window":
        nll = [float(x) for x in res.windows["nll_sum"]]
        cnt = [int(x) for x in res.windows["n_scored"]]
        names = [f"window {s}:{e}" for s, e in zip(res.windows["start"], res.windows["end"], strict=True)]
    else:
        nll = [d.nll_sum for d in res.documents]
        cnt = [d.n_tokens for d in res.documents]
        names = [f"document {i}" for i in range(len(cnt))]
    keep = [i for i, c in enumerate(cnt) if c > 0]
    means = [nll[i] / cnt[i] for i in keep]  # mean NLL per token of each unit (nats)
    weights = [cnt[i] for i in keep]
    fp = fingerprint({"context": res.context, "stride": res.stride, "n_tokens": res.n_tokens,
                      "n_bytes": res.n_bytes, "windows": [list(res.windows["start"]), list(res.windows["end"])]})
    ids = [item_id(fp, names[i]) for i in keep]  # a window = its token span within these fingerprinted inputs
    return {"perplexity": mean_of(means, weights, "exp_mean", fp, ids), "nll": mean_of(means, weights, "mean", fp, ids)}


KIND = EvalKind(
    name="perplexity",
    doc="Sliding-window perplexity (evals.perplexity) on a run split or a text file.",
    params={
        "split": Param("str", None, "split of the model's training run: train | val | test", check=one_of(SPLITS)),
        "file": Param("path", None, ".txt file, folder of .txt files or .jsonl ({\"text\": ...} per line)"),
        "context": Param("int", None, "window length in tokens (default: the model's n_ctx)", check=positive),
        "stride": Param("int", None, "window step (default context - 1: non-overlapping)", check=positive),
        "max_tokens": Param("int", None, "score at most this many tokens (documents in order)", check=positive),
        "batch_size": Param("int", None, "windows per forward (default: automatic)", check=positive),
        "unit": Param("str", "window", "bootstrap unit: window | document", check=one_of(UNITS)),
    },
    metrics={
        "perplexity": MetricSpec("perplexity", "lower", "exp_mean", "exp(NLL per token)"),
        "nll": MetricSpec("nll", "lower", "mean", "NLL per token (nats)"),
    },
    adapter=_perplexity,
    validate=one_source,
)
