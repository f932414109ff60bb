"""Eval kinds for `interp regress`: thin adapters from a suite's parameters to each eval's pure function.

Each adapter is `(model: TransformerBridge, params: dict, ctx: EvalContext) -> {metric: MetricValue}`
and keeps the per-item samples that the statistical bounds need (per-window NLLs, per-item
correctness, per-generation distinct-n). Parameters are validated by the registry in `evals.regress`
before any model is loaded.

    kind        metrics (↑/↓ natural direction)                   bound      pure function
    ----------  ------------------------------------------------  ---------  -------------------------------
    perplexity  perplexity ↓, nll ↓                               bootstrap  evals.perplexity.perplexity
    trimmed     accuracy ↑, calibrated_accuracy ↑,                Wilson     evals.trimmed.evaluate_trimmed
                fitted_head_accuracy ↑, full_vocab_accuracy ↑
    coref       head_mean_accuracy ↑, behaviour_accuracy ↑,       Wilson     probes.coref.coref_probe
                best_head_accuracy ↑ (held-out pick),
                head_accuracy ↑ (the head named by `head`)
    ablation    delta_loss (direction required), ablated_loss ↓,  bootstrap  interp.ablation (the loop of
                clean_loss ↓                                                 ablate(), kept per window)
    generation  distinct_1 ↑, distinct_2 ↑                        bootstrap  interp.decoding.generate

"Wilson": Newcombe/Wilson interval of a difference of proportions; "bootstrap": seeded bootstrap over
windows / documents / prompts (see evals/regress.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

from evals.regress import EvalContext, EvalKind, MetricSpec, MetricValue, Param, mean_of, proportion, register
from interp.errors import UserError


def _positive(v: Any) -> str | None:
    return None if v > 0 else f"must be > 0, got {v}"


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _documents(p: dict[str, Any], ctx: EvalContext) -> list[str]:
    """Eval documents from `file` (.txt, folder of .txt, .jsonl) or `split` of the model's run."""
    from evals.text_input import read_documents, split_documents

    if p.get("file") is not None:
        return read_documents(p["file"], "file")
    return split_documents(ctx.run_meta(), p["split"], ctx.model_ref)


def _one_source(p: dict[str, Any], metrics: list[str]) -> str | None:
    if (p.get("file") is None) == (p.get("split") is None):
        return "give exactly one of `split = \"val\"` (a split of the model's training run) or `file = \"PATH\"`"
    return None


# ----------------------------------------------------------------------------- perplexity
SPLITS = ("train", "val", "test")
UNITS = ("window", "document")


@torch.no_grad()
def _perplexity(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Per-window (or per-document) mean NLL with token-count weights: perplexity = exp(weighted mean)."""
    from evals.perplexity import PerplexityConfig, perplexity

    cfg = PerplexityConfig(context=p["context"], stride=p["stride"], max_tokens=p["max_tokens"],
                           batch_size=p["batch_size"])
    res = perplexity(model, _documents(p, ctx), cfg)
    if p["unit"] == "window":
        nll = [float(x) for x in res.windows["nll_sum"]]
        cnt = [int(x) for x in res.windows["n_scored"]]
    else:
        nll = [d.nll_sum for d in res.documents]
        cnt = [d.n_tokens for d in res.documents]
    keep = [i for i, c in enumerate(cnt) if c > 0]
    means = [nll[i] / cnt[i] for i in keep]  # mean NLL per token of each unit (nats)
    weights = [cnt[i] for i in keep]
    fp = _fingerprint({"context": res.context, "stride": res.stride, "n_tokens": res.n_tokens,
                       "n_bytes": res.n_bytes, "windows": [list(res.windows["start"]), list(res.windows["end"])]})
    return {"perplexity": mean_of(means, weights, "exp_mean", fp), "nll": mean_of(means, weights, "mean", fp)}


register(EvalKind(
    name="perplexity",
    doc="Sliding-window perplexity (evals.perplexity) on a run split or a text file.",
    params={
        "split": Param("str", None, "split of the model's training run: train | val | test",
                       check=lambda v: None if v in SPLITS else f"use one of {', '.join(SPLITS)}"),
        "file": Param("path", None, ".txt file, folder of .txt files or .jsonl ({\"text\": ...} per line)"),
        "context": Param("int", None, "window length in tokens (default: the model's n_ctx)", check=_positive),
        "stride": Param("int", None, "window step (default context - 1: non-overlapping)", check=_positive),
        "max_tokens": Param("int", None, "score at most this many tokens (documents in order)", check=_positive),
        "batch_size": Param("int", None, "windows per forward (default: automatic)", check=_positive),
        "unit": Param("str", "window", "bootstrap unit: window | document",
                      check=lambda v: None if v in UNITS else f"use one of {', '.join(UNITS)}"),
    },
    metrics={
        "perplexity": MetricSpec("perplexity", "lower", "exp_mean", "exp(NLL per token)"),
        "nll": MetricSpec("nll", "lower", "mean", "NLL per token (nats)"),
    },
    adapter=_perplexity,
    validate=_one_source,
))


# ----------------------------------------------------------------------------- coref probe
def _head_ok(v: str) -> str | None:
    parts = v.split(".")
    if len(parts) != 2 or not all(x.isdigit() for x in parts):
        return "use LAYER.HEAD, e.g. \"1.3\""
    return None


def _probe_set_ok(v: str) -> str | None:
    from probes.coref_data import PROBE_SETS

    if v in PROBE_SETS:
        return None
    return f"unknown probe set {v!r}; use one of {', '.join(PROBE_SETS)}, or `file = \"PATH.jsonl\"`"


def _coref_validate(p: dict[str, Any], metrics: list[str]) -> str | None:
    if p.get("probe_set") is not None and p.get("file") is not None:
        return "give at most one of `probe_set` (a registered set) or `file` (a .jsonl)"
    if "head_accuracy" in metrics and p.get("head") is None:
        return "metric head_accuracy needs `head = \"LAYER.HEAD\"`"
    return None


def _coref(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    from probes.coref import CorefConfig, coref_probe
    from probes.coref_data import load_probe_set

    label, examples = load_probe_set(p["file"] or p["probe_set"] or "builtin")
    if p["max_examples"] is not None:
        examples = examples[: p["max_examples"]]
    res = coref_probe(model, examples, CorefConfig(batch_size=p["batch_size"], seed=ctx.seed), probe_set=label)
    fp = _fingerprint([[ex.text, ex.pronoun, ex.antecedent, ex.distractor] for ex in examples])
    out = {
        "head_mean_accuracy": proportion(res.head_mean["k"], res.head_mean["n"], fp),
        "behaviour_accuracy": proportion(res.behaviour["k"], res.behaviour["n"], fp),
    }
    if res.best_head_heldout is not None:
        out["best_head_accuracy"] = proportion(res.best_head_heldout["k"], res.best_head_heldout["n"], fp)
    else:
        out["best_head_accuracy"] = proportion(0, 0, fp)
    if p["head"] is not None:
        layer, head = (int(x) for x in p["head"].split("."))
        if layer >= res.n_layers or head >= res.n_heads:
            raise UserError(f"coref eval: head {p['head']} does not exist in a model with "
                            f"{res.n_layers} layers x {res.n_heads} heads")
        acc = float(res.head_accuracy[layer][head])
        out["head_accuracy"] = proportion(round(acc * res.n_examples), res.n_examples, fp)
    return out


register(EvalKind(
    name="coref",
    doc="Coreference attention probe + behavioural pronoun check (probes.coref).",
    params={
        "probe_set": Param("str", None, "registered probe set (builtin, builtin-small, handwritten); default builtin",
                           check=_probe_set_ok),
        "file": Param("path", None, "a .jsonl probe set (text, pronoun, antecedent, distractor per line)"),
        "max_examples": Param("int", None, "use only the first N examples", check=_positive),
        "head": Param("str", None, "LAYER.HEAD for the head_accuracy metric", check=_head_ok),
        "batch_size": Param("int", 16, "examples per forward", check=_positive),
    },
    metrics={
        "head_mean_accuracy": MetricSpec("head_mean_accuracy", "higher", "proportion",
                                         "attention averaged over all heads favours the antecedent"),
        "behaviour_accuracy": MetricSpec("behaviour_accuracy", "higher", "proportion",
                                         "P(correct pronoun) > P(contrast pronoun)"),
        "best_head_accuracy": MetricSpec("best_head_accuracy", "higher", "proportion",
                                         "best head picked on a seeded half, scored on the other half"),
        "head_accuracy": MetricSpec("head_accuracy", "higher", "proportion", "accuracy of the head named by `head`",
                                    default=False),
    },
    adapter=_coref,
    validate=_coref_validate,
    seeded=True,
))


# ----------------------------------------------------------------------------- trimmed classification
TRIMMED_METRICS = {  # metric → (result variant, needs)
    "accuracy": ("trimmed", None),
    "calibrated_accuracy": ("calibrated", "calibrate"),
    "fitted_head_accuracy": ("fitted_head", "fit_head"),
    "full_vocab_accuracy": ("full_vocab", None),
}


def _trimmed_validate(p: dict[str, Any], metrics: list[str]) -> str | None:
    if (p.get("dataset") is None) == (p.get("file") is None):
        return "give exactly one of `dataset = \"bbcnews\"` (a registered dataset) or `file = \"PATH\"`"
    if p.get("dataset") is not None and (p.get("text_column") or p.get("label_column")):
        return "`text_column`/`label_column` apply to files, not to registered datasets"
    if p["calibrate"] is False and "calibrated_accuracy" in metrics:
        return "metric calibrated_accuracy needs `calibrate = true`"
    if not p["fit_head"] and "fitted_head_accuracy" in metrics:
        return "metric fitted_head_accuracy needs `fit_head = K` (examples per class)"
    if p.get("template") is not None and "{text}" not in p["template"]:
        return "`template` needs a {text} placeholder"
    return None


def _trimmed(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    import dataclasses

    from evals import datasets
    from evals.trimmed import DEFAULT_TEMPLATE, TrimmedConfig, evaluate_trimmed

    fmt = datasets.FileFormat(text_columns=datasets.parse_columns(p["text_column"]),
                              label_column=p["label_column"])
    need_train = bool(p["shots"] or p["fit_head"])
    data, train = datasets.load(p["dataset"] or p["file"], split=p["split"], fmt=fmt, need_train=need_train)
    data = dataclasses.replace(data, examples=datasets.subsample(data.examples, p["limit"]))
    labels = tuple(p["labels"]) if p["labels"] else tuple(data.label_names)
    template = p["template"] or data.default_template or DEFAULT_TEMPLATE
    cfg = TrimmedConfig(labels=labels, template=template, shots=p["shots"], calibrate=p["calibrate"],
                        fit_head=p["fit_head"], batch_size=p["batch_size"], seed=ctx.seed)
    res = evaluate_trimmed(model, data, cfg, train=train, model_name=ctx.model_ref)
    fp = _fingerprint([[ex.text, ex.label] for ex in data.examples])
    out = {}
    for metric, (variant, _) in TRIMMED_METRICS.items():
        rep = res.variants.get(variant)
        if rep is not None:
            out[metric] = proportion(round(rep["accuracy"] * rep["n"]), rep["n"], fp)
    return out


register(EvalKind(
    name="trimmed",
    doc="Zero/few-shot classification over the label tokens only (evals.trimmed).",
    params={
        "dataset": Param("str", None, "registered dataset: bbcnews (offline), sst2, ag_news (need the hub)"),
        "file": Param("path", None, ".csv/.tsv/.jsonl with text + label, or a folder of split files"),
        "split": Param("str", None, "split of a registered dataset or folder (default: its eval split)"),
        "text_column": Param("str", None, "file column(s) holding the text (name or 0-based index; a,b joins)"),
        "label_column": Param("str", None, "file column holding the label"),
        "labels": Param("str_list", None, "label words in order (default: the dataset's)"),
        "template": Param("str", None, "prompt with {text} (default: the dataset's, else Review/Sentiment)"),
        "limit": Param("int", None, "a fixed random subset of N examples", check=_positive),
        "shots": Param("int", 0, "k-shot demonstrations from the train split",
                       check=lambda v: None if v >= 0 else "must be >= 0"),
        "calibrate": Param("bool", False, "also run contextual calibration (calibrated_accuracy)"),
        "fit_head": Param("int", 0, "fit the trimmed head on K examples per class (fitted_head_accuracy)",
                          check=lambda v: None if v >= 0 else "must be >= 0"),
        "batch_size": Param("int", 8, "prompts per forward", check=_positive),
    },
    metrics={
        "accuracy": MetricSpec("accuracy", "higher", "proportion", "argmax over the label tokens"),
        "calibrated_accuracy": MetricSpec("calibrated_accuracy", "higher", "proportion",
                                          "after contextual calibration", default=False),
        "fitted_head_accuracy": MetricSpec("fitted_head_accuracy", "higher", "proportion",
                                           "with the trimmed head fitted on K per class", default=False),
        "full_vocab_accuracy": MetricSpec("full_vocab_accuracy", "higher", "proportion",
                                          "argmax over the whole vocabulary", default=False),
    },
    adapter=_trimmed,
    validate=_trimmed_validate,
    seeded=lambda p: bool(p["shots"] or p["fit_head"]),
))


# ----------------------------------------------------------------------------- head ablation
ABLATION_METHODS = ("zero", "mean", "resample")


def _heads_ok(v: str) -> str | None:
    from interp.heads import HeadSpec

    try:
        HeadSpec.parse(v)
    except UserError as e:
        return str(e)
    return None


@torch.no_grad()
def _ablation(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Per-window Δloss = ablated − clean mean next-token loss, with `heads` ablated together.

    Built from interp.ablation's pieces (`eval_windows`, `ablation_values`, `ablation_hooks`,
    `token_losses`) — the loop of `ablate()`, keeping each window's losses for the bootstrap;
    the mean equals `ablate(...).delta_loss` (tests/unit/test_regress.py checks it)."""
    from interp.ablation import AblationConfig, ablation_hooks, ablation_values, eval_windows, token_losses
    from interp.heads import HeadSpec

    cfg = AblationConfig(method=p["method"], seed=ctx.seed, batch_size=p["batch_size"], max_new_tokens=0)
    heads = HeadSpec.parse(p["heads"]).resolve_for(model)
    n_ctx = int(model.cfg.n_ctx)
    context = p["context"] or n_ctx
    if context > n_ctx:
        raise UserError(f"ablation eval: context {context} exceeds the model's n_ctx {n_ctx}")
    windows = eval_windows(model.tokenizer, _documents(p, ctx), context, p["max_tokens"])  # (N, T)
    n, t = windows.shape
    dev = next(model.original_model.parameters()).device
    values = ablation_values(model, windows, heads, cfg.method, cfg.seed, cfg.batch_size)
    rows = cfg.batch_size or max(1, 4096 // t)  # windows per forward
    clean, abl = torch.empty(n), torch.empty(n)  # (N,) mean loss per window
    for i in range(0, n, rows):
        sl = slice(i, min(n, i + rows))
        x = windows[sl].to(dev)
        clean[sl] = token_losses(model(x), x).double().mean(1).float().cpu()
        abl[sl] = token_losses(model.run_with_hooks(x, fwd_hooks=ablation_hooks(values, sl)), x).double().mean(1).float().cpu()
    fp = _fingerprint({"shape": [n, t], "sum": int(windows.sum())})
    return {"delta_loss": mean_of((abl - clean).tolist(), fingerprint=fp),
            "ablated_loss": mean_of(abl.tolist(), fingerprint=fp),
            "clean_loss": mean_of(clean.tolist(), fingerprint=fp)}


register(EvalKind(
    name="ablation",
    doc="Δloss when named heads are ablated together (interp.ablation), per eval window.",
    params={
        "heads": Param("str", doc="LAYER.HEAD list, e.g. \"0.1,1.3\" or \"1.*\"", check=_heads_ok),
        "method": Param("str", "zero", "zero | mean | resample",
                        check=lambda v: None if v in ABLATION_METHODS else f"use one of {', '.join(ABLATION_METHODS)}"),
        "split": Param("str", None, "split of the model's training run: train | val | test",
                       check=lambda v: None if v in SPLITS else f"use one of {', '.join(SPLITS)}"),
        "file": Param("path", None, ".txt file, folder of .txt files or .jsonl"),
        "context": Param("int", None, "window length (default: the model's n_ctx)", check=_positive),
        "max_tokens": Param("int", 4096, "eval tokens (non-overlapping windows)", check=_positive),
        "batch_size": Param("int", None, "windows per forward (default: automatic)", check=_positive),
    },
    metrics={
        "delta_loss": MetricSpec("delta_loss", None, "mean",
                                 "ablated − clean loss (nats/token); set direction: \"higher\" keeps a head "
                                 "important, \"lower\" keeps the model robust to losing it"),
        "ablated_loss": MetricSpec("ablated_loss", "lower", "mean", "loss with the heads ablated", default=False),
        "clean_loss": MetricSpec("clean_loss", "lower", "mean", "loss of the unablated model", default=False),
    },
    adapter=_ablation,
    validate=_one_source,
    seeded=lambda p: p["method"] == "resample",
))


# ----------------------------------------------------------------------------- generation
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


@torch.no_grad()
def _generation(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    """Continue each prompt (seeded per prompt) and score the continuation's distinct-1/2."""
    from interp.decoding import Decoding, distinct_n, generate

    dec = Decoding.parse(p["decoding"])
    n_ctx = int(model.cfg.n_ctx)
    d1, d2 = [], []
    for i, prompt in enumerate(p["prompts"]):
        ids = torch.tensor([model.tokenizer(prompt)["input_ids"]], device=ctx.device)[:, -(n_ctx - 1):]  # (1, T)
        full = generate(lambda x: model(x), ids, p["max_new_tokens"], n_ctx, dec, seed=ctx.seed + i)
        new = full[0, ids.shape[1]:].tolist()
        d1.append(distinct_n(new, 1))
        d2.append(distinct_n(new, 2))
    return {"distinct_1": mean_of(d1), "distinct_2": mean_of(d2)}


register(EvalKind(
    name="generation",
    doc="Seeded continuations of prompts; distinct-n of each continuation (1 = no repetition).",
    params={
        "prompts": Param("str_list", doc="prompts to continue", check=_prompts_ok),
        "max_new_tokens": Param("int", 32, "tokens generated per prompt", check=_positive),
        "decoding": Param("str", "greedy", "greedy | t0.7 | k50 | k50t0.8", check=_decoding_ok),
    },
    metrics={
        "distinct_1": MetricSpec("distinct_1", "higher", "mean", "distinct unigrams / unigrams, mean over prompts"),
        "distinct_2": MetricSpec("distinct_2", "higher", "mean", "distinct bigrams / bigrams, mean over prompts"),
    },
    adapter=_generation,
    seeded=True,
))
