"""Section registry: result `kind` → a tailored section (tables, figures, reading guide).

    SECTIONS["attention_maps"] = SectionSpec(title, order, guide, build)

`build(stage)` returns the tailored blocks and the set of result keys it used; every key it did NOT
use is still shown by the generic renderer ("Other values"), and every figure file in the stage's
folder is embedded — so a new field in an analysis never disappears from the report. A kind with no
entry gets the generic section (key/value table, record tables, heatmaps of 2-D arrays, its figures)
with a guide that says so.

Sections are ordered by `order` (training first, then model outputs, attention, interventions,
probes, evals, CI, unknown kinds last) and then by source path. Guides state what the metric means and
its chance level; where the chance level depends on the data (vocabulary size, sequence length, number
of classes) it is computed from the result itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Block, Figure, Paragraph, Preformatted, Section, Table, fmt, is_number
from reports.generic import generic_blocks, kv_table, matrix_shape, records_table

RAW_JSON_CHARS = 20_000  # raw results.json shown (HTML <details>) up to this many characters


@dataclass
class Built:
    """What a tailored builder returns."""

    blocks: list[Block] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # result keys already shown (the generic tail skips them)
    attention: dict[str, Any] | None = None  # data for the HTML interactive attention view
    figures_first: bool = False  # put the folder's figures before the tailored tables


@dataclass(frozen=True)
class SectionSpec:
    kind: str
    title: str
    order: int
    guide: Callable[[Stage], str]
    build: Callable[[Stage], Built] | None = None


SECTIONS: dict[str, SectionSpec] = {}


def register(kind: str, title: str, order: int, guide: str | Callable[[Stage], str],
             build: Callable[[Stage], Built] | None = None) -> SectionSpec:
    """Register result kind `kind`: its title, position, reading guide and (optional) tailored builder."""
    if kind in SECTIONS:
        raise ValueError(f"section kind {kind!r} registered twice")
    g = guide if callable(guide) else (lambda _s, text=guide: text)
    SECTIONS[kind] = spec = SectionSpec(kind=kind, title=title, order=order, guide=g, build=build)
    return spec


def tailored(kind: str, title: str, order: int, guide: str | Callable[[Stage], str]):
    """Decorator form of `register` for a tailored builder."""

    def deco(build: Callable[[Stage], Built]) -> Callable[[Stage], Built]:
        register(kind, title, order, guide, build)
        return build

    return deco


UNKNOWN_ORDER = 900


def _num(d: dict[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = d.get(k)
        if is_number(v) and math.isfinite(v):
            return float(v)
    return None


def _chance_classes(data: dict[str, Any]) -> str:
    """'Chance = 1/K = …' from n_classes / labels / classes, if present."""
    k = data.get("n_classes")
    if not is_number(k):
        for key in ("labels", "classes", "label_names"):
            v = data.get(key)
            if isinstance(v, (list, dict)) and v:
                k = len(v)
                break
    if is_number(k) and k > 0:
        return f" With {int(k)} classes, chance accuracy is 1/{int(k)} = {1 / k:.3f}."
    return ""


# ============================================================================ training
def _training_guide(stage: Stage) -> str:
    run = stage.run or {}
    vocab = (run.get("tokenizer") or {}).get("vocab_size") or ((run.get("config") or {}).get("model") or {}).get("d_vocab")
    chance = (f" A model that guesses uniformly over its {vocab} tokens scores ln({vocab}) = {math.log(vocab):.3f} nats "
              f"(perplexity {vocab}) — that is chance.") if is_number(vocab) and vocab > 1 else ""
    return ("Training and validation loss are the mean next-token cross-entropy in nats per token; perplexity is "
            "exp(loss), the effective number of tokens the model is choosing between." + chance +
            " Validation loss is measured on held-out documents; when it rises while training loss keeps "
            "falling, the model is overfitting (early stopping keeps the best checkpoint).")


def visible(text: str) -> str:
    """Generated text as is — unless it is empty or only whitespace, which would look like nothing."""
    return text if text.strip() else f"{text!r}  (only whitespace: {len(text)} characters)"


def _short_hash(v: Any) -> str:
    return v[:12] + "…" if isinstance(v, str) and len(v) > 16 else fmt(v)


@tailored("training", "Training run", 10, _training_guide)
def _training(stage: Stage) -> Built:
    b = Built()
    run, res = stage.run or {}, stage.data
    if res:
        keys = ("best_val_loss", "best_epoch", "final_val_loss", "epochs_completed", "steps", "tokens_seen",
                "stopped_early", "tokens_per_s", "wall_s", "run_dir")
        pairs = [(k, res[k]) for k in keys if k in res]
        if pairs:
            b.blocks.append(kv_table(pairs, caption="outcome"))
            b.used.update(k for k, _ in pairs)
        if isinstance(res.get("checkpoints"), list):
            b.blocks.append(Paragraph("checkpoints: " + ", ".join(str(c) for c in res["checkpoints"])))
            b.used.add("checkpoints")
    cfg = run.get("config") or {}
    model = cfg.get("model") or {}
    if model:
        b.blocks.append(kv_table([("preset", cfg.get("preset")), *model.items()], caption="model shape"))
    hp = [(k, v) for k, v in cfg.items() if k not in ("model", "preset")]
    if hp:
        b.blocks.append(kv_table(hp, caption="training configuration"))
    data = run.get("data") or {}
    splits = data.get("splits") or {}
    if data:
        b.blocks.append(kv_table([(k, v) for k, v in data.items() if k != "splits"], caption="data"))
    if splits:
        recs = [{"split": k, "mode": s.get("mode"), "documents": s.get("n_documents"), "chars": s.get("n_chars"),
                 "tokens": s.get("n_tokens"), "sha256": _short_hash(s.get("sha256"))}
                for k, s in splits.items() if isinstance(s, dict)]
        b.blocks.append(records_table(recs, caption="splits (by whole document; sha256 of the split's text)"))
    prov = [("seed", run.get("seed")), ("git_commit", run.get("git_commit")), ("created", run.get("created"))]
    prov += [(f"tokenizer.{k}", v) for k, v in (run.get("tokenizer") or {}).items()]
    prov += [(f"version.{k}", v) for k, v in (run.get("versions") or {}).items()]
    b.blocks.append(kv_table([(k, v) for k, v in prov if v is not None], caption="provenance"))
    other = {k: v for k, v in run.items() if k not in ("config", "data", "seed", "git_commit", "created",
                                                       "tokenizer", "versions", "schema_version", "kind")}
    if other:
        b.blocks.extend(generic_blocks(other, prefix="run"))
    m = list(stage.metrics)
    if m:
        steps = [r.get("step") for r in m]
        series = {"train loss": (steps, [r.get("train_loss") for r in m])}
        ev = [r for r in m if is_number(r.get("val_loss"))]
        if ev:
            series["val loss"] = ([r.get("step") for r in ev], [r.get("val_loss") for r in ev])
        vocab = (run.get("tokenizer") or {}).get("vocab_size") or model.get("d_vocab")
        h = {f"chance: ln({vocab}) = {math.log(vocab):.2f}": math.log(vocab)} if is_number(vocab) and vocab > 1 else None
        specs = [("training and validation loss", series, "cross-entropy (nats/token)", h)]
        if any(is_number(r.get("lr")) for r in m):
            specs.append(("learning rate", {"lr": (steps, [r.get("lr") for r in m])}, "lr", None))
        b.blocks.append(Figure(caption="loss curves and learning-rate schedule, drawn from metrics.jsonl",
                               png=charts.panels(specs, "optimizer step")))
        if ev:
            cols = [c for c in ("step", "epoch", "train_loss", "val_loss", "val_ppl", "lr", "grad_norm", "tokens_per_s")
                    if any(c in r for r in ev)]
            b.blocks.append(records_table(ev, caption="validation evaluations (metrics.jsonl)", columns=cols))
    return b


# ============================================================================ model outputs
def _generation_guide(stage: Stage) -> str:
    return ("The model's continuation of the prompt under the stated decoding (greedy = always the most likely "
            "token; tN = temperature N sampling; kN = top-k sampling; seeded). distinct-n is the fraction of "
            "generated n-grams that are unique: 1.0 means no repetition, values near 0 mean the model loops "
            "(common for greedy decoding of small models).")


@tailored("generation", "Generation", 20, _generation_guide)
def _generation(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    if isinstance(d.get("prompt"), str):
        b.blocks.append(Preformatted(d["prompt"], caption="prompt"))
        b.used.add("prompt")
    if isinstance(d.get("completion"), str):
        b.blocks.append(Preformatted(visible(d["completion"]), caption="completion"))
        b.used.add("completion")
    keys = [k for k in ("model", "decoding", "seed", "prompt_tokens", "distinct_1", "distinct_2") if k in d]
    if keys:
        b.blocks.append(kv_table([(k, d[k]) for k in keys], caption="settings and diversity"))
        b.used.update(keys)
    if isinstance(d.get("completion_tokens"), list):
        b.blocks.append(Paragraph(f"{len(d['completion_tokens'])} tokens generated."))
        b.used.add("completion_tokens")
    return b


def _perplexity_guide(stage: Stage) -> str:
    v = _num(stage.data, "d_vocab", "vocab_size")
    chance = (f" (here ln({int(v)}) = {math.log(v):.3f} nats, perplexity {int(v)})" if v else "")
    return ("Perplexity = exp(mean next-token cross-entropy in nats) on the evaluated text; lower is better — it is "
            "the effective number of equally likely tokens the model hesitates between. A uniform guess over the "
            "vocabulary gives perplexity = vocabulary size" + chance + ": that is chance. Token perplexity depends "
            "on the tokenizer; bits per byte (total NLL / ln 2 / UTF-8 bytes) does not, so use it to compare models "
            "with different tokenizers. Below ~0.6 bits/byte on natural text is implausible for a small model and "
            "usually means train/eval leakage: see the n-gram overlap check (flagged at ≥ 10% of eval 13-grams "
            "seen verbatim in training).")


HEADLINE_PPL = ("model", "source", "perplexity", "nll_per_token", "bits_per_byte", "nats_per_char", "bytes_per_token",
                "n_tokens", "n_documents", "n_skipped_documents", "n_windows", "context", "stride", "prepend_bos",
                "train_text", "seed")


@tailored("perplexity", "Perplexity", 30, _perplexity_guide)
def _perplexity(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    for w in d.get("warnings") or []:
        b.blocks.append(Paragraph(f"WARNING: {w}"))
    b.used.add("warnings")
    pairs = [(k, d[k]) for k in HEADLINE_PPL if k in d]
    if pairs:
        b.blocks.append(kv_table(pairs, caption="result"))
        b.used.update(k for k, _ in pairs)
    leak = d.get("leakage")
    if isinstance(leak, dict):
        keys = ("flagged", "message", "ngram_overlap", "token_coverage", "documents_with_overlap", "n", "threshold",
                "n_eval_ngrams", "n_leaked_ngrams", "n_train_tokens")
        b.blocks.append(kv_table([(k, leak[k]) for k in keys if k in leak], caption="train/eval leakage check"))
        b.used.add("leakage")
    elif "leakage" in d:
        b.blocks.append(Paragraph("Leakage check: not run."))
        b.used.add("leakage")
    docs = [x for x in d.get("documents") or [] if isinstance(x, dict)]
    if docs:
        recs = []
        for x in docs:
            n, nll = x.get("n_tokens"), x.get("nll_sum")
            ppl = math.exp(min(nll / n, 50)) if is_number(n) and n and is_number(nll) else None
            bpb = nll / math.log(2) / x["n_bytes"] if is_number(nll) and is_number(x.get("n_bytes")) and x["n_bytes"] else None
            recs.append({"document": x.get("index"), "tokens": n, "bytes": x.get("n_bytes"), "perplexity": ppl,
                         "bits/byte": bpb, "truncated": x.get("truncated")})
        b.blocks.append(records_table(recs, caption="per document"))
        if 2 <= len(recs) <= 60 and not stage.figures:
            b.blocks.append(Figure(caption="perplexity per document, drawn from results.json",
                                   png=charts.bars([str(r["document"]) for r in recs], [r["perplexity"] for r in recs],
                                                   "perplexity per document", "perplexity")))
        b.used.add("documents")
    win = d.get("windows")
    if isinstance(win, dict):
        n = max((len(v) for v in win.values() if isinstance(v, list)), default=0)
        b.blocks.append(Paragraph(f"{n} scoring windows (per-window NLL sums are in results.json, for bootstraps)."))
        b.used.add("windows")
    return b


def _leakage_guide(stage: Stage) -> str:
    return ("Train/eval leakage check: the fraction of the eval text's token n-grams (n = 13 by default) that occur "
            "verbatim in the training data. Natural held-out text shares only a few percent of 13-grams with other "
            "documents; random overlapping windows of one text share > 90%. ≥ 10% is flagged: perplexity on such an "
            "eval set measures memorisation, not modelling.")


register("leakage", "Leakage check", 32, _leakage_guide)


def _sensitivity_guide(stage: Stage) -> str:
    return ("Each paraphrase of a prompt is continued under each decoding, and the continuations are compared "
            "pairwise with sentence BLEU (0–100, symmetrised; the diagonal is left out). High mean BLEU = the "
            "continuation barely depends on the wording (prompt-insensitive); low = sensitive. Unrelated text scores "
            "near 0 and identical text 100 — there is no fixed chance level, so compare decodings with each other. "
            "Low distinct-n (repetition) inflates BLEU; under sampling part of the disagreement is sampling noise "
            "(every prompt uses the same seed).")


@tailored("prompt_sensitivity", "Prompt sensitivity", 70, _sensitivity_guide)
def _prompt_sensitivity(stage: Stage) -> Built:
    d = stage.data
    b = Built(figures_first=False)
    prompts = [str(p) for p in d.get("prompts") or []]
    if prompts:
        b.blocks.append(Table(columns=("#", "prompt"), rows=tuple((str(i), fmt(p)) for i, p in enumerate(prompts)),
                              caption="prompts (paraphrases)"))
        b.used.add("prompts")
    decs = [x for x in d.get("decodings") or [] if isinstance(x, dict)]
    if decs:
        cols = ("decoding", "bleu_mean", "bleu_min", "bleu_max", "distinct_1_mean", "distinct_2_mean")
        b.blocks.append(records_table(decs, caption="pairwise BLEU and diversity per decoding", columns=cols))
        b.used.add("decodings")
        for x in decs:
            conts = x.get("continuations") or []
            d1 = x.get("distinct_1") or []
            rows = tuple((str(i), fmt(prompts[i] if i < len(prompts) else ""), fmt(c, 400),
                          fmt(d1[i] if i < len(d1) else None)) for i, c in enumerate(conts))
            if rows:
                b.blocks.append(Table(columns=("#", "prompt", "continuation", "distinct-1"), rows=rows,
                                      caption=f"continuations — {x.get('decoding')}"))
            m = x.get("bleu")
            shp = matrix_shape(m)
            if not stage.figures and shp is not None and len(shp) == 2 and shp[0] >= 2:
                b.blocks.append(Figure(caption=f"pairwise BLEU — {x.get('decoding')}, drawn from results.json",
                                       png=charts.heatmap(m, f"pairwise BLEU ({x.get('decoding')})", "prompt #",
                                                          "prompt #", cmap="viridis", center_zero=False)))
    return b


# ============================================================================ attention
def _uniform_causal(T: int) -> dict[str, float]:
    """Scores of a head that attends uniformly to all keys k <= q (query rows q = 1..T-1)."""
    qs = range(1, T)
    n = max(1, T - 1)
    return {"prev_token": sum(1 / (q + 1) for q in qs) / n, "sink": sum(1 / (q + 1) for q in qs) / n,
            "entropy": sum(math.log(q + 1) for q in qs) / n}


def _head_scores(mat: list[list[float]]) -> dict[str, float]:
    """prev-token, first-token (sink) and entropy of one pattern (mean over query rows 1..T-1)."""
    T = len(mat)
    if T < 2:
        return {"prev_token": math.nan, "sink": math.nan, "entropy": math.nan}
    prev = sum(mat[q][q - 1] for q in range(1, T)) / (T - 1)
    sink = sum(mat[q][0] for q in range(1, T)) / (T - 1)
    ent = sum(-sum(p * math.log(p) for p in mat[q][: q + 1] if is_number(p) and p > 0) for q in range(1, T)) / (T - 1)
    return {"prev_token": prev, "sink": sink, "entropy": ent}


def _attention_guide(stage: Stage) -> str:
    T = len(stage.data.get("tokens") or [])
    u = _uniform_causal(T) if T >= 2 else None
    chance = (f" For this {T}-token prompt, a head that spreads attention uniformly over the visible tokens scores "
              f"prev-token = first-token = {u['prev_token']:.3f} and entropy = {u['entropy']:.2f} nats: that is the "
              "no-structure baseline.") if u else ""
    return ("Each heatmap is one head's attention pattern A[q, k]: how much the token at query position q (row) "
            "reads from key position k (column). Rows sum to 1 and the model is causal, so only k ≤ q is filled. "
            "A bright sub-diagonal is a previous-token head; a bright first column is an 'attention sink' "
            "(parking attention on the first token). Prev-token score = mean A[q, q−1]; first-token score = mean "
            "A[q, 0]; entropy in nats (0 = one key, high = diffuse)." + chance +
            " In the HTML report, hover (or tab to) a token in the interactive view to see where it attends.")


def layer_heads(d: dict[str, Any]) -> list[tuple[Any, list[Any], list[Any]]] | None:
    """[(layer, head ids, head patterns)] from an attention_maps result, or None if the shapes do not fit.

    `heads` is either one list for every layer (older results) or one list per selected layer."""
    tokens, pats, layers, heads = d.get("tokens"), d.get("patterns"), d.get("layers"), d.get("heads")
    if not (isinstance(tokens, list) and isinstance(pats, list) and isinstance(layers, list) and isinstance(heads, list)):
        return None
    T = len(tokens)
    if len(pats) != len(layers) or T < 1:
        return None
    per_layer = heads if heads and all(isinstance(h, list) for h in heads) else [heads] * len(layers)
    if len(per_layer) != len(layers):
        return None
    out = []
    for layer, hs, mats in zip(layers, per_layer, pats, strict=True):
        if matrix_shape(mats) != (len(hs), T, T) and not (not hs and mats == []):
            return None
        out.append((layer, list(hs), mats))
    return out


MAX_VIEW_NUMBERS = 1_500_000  # attention values embedded in the HTML view (beyond: the view is left out)


def attention_view_data(d: dict[str, Any]) -> dict[str, Any] | None:
    """Compact data for the interactive view: causal rows only (row q has q+1 values), 3 decimals."""
    lh = layer_heads(d)
    if not lh:
        return None
    tokens, hm = d["tokens"], d.get("head_mean")
    T = len(tokens)
    if sum(len(hs) + 1 for _, hs, _ in lh) * T * (T + 1) // 2 > MAX_VIEW_NUMBERS:
        return None

    def rows(mat: list[list[float]]) -> list[list[float]]:
        return [[round(float(x), 3) if is_number(x) else 0.0 for x in mat[q][: q + 1]] for q in range(T)]

    views = []
    for li, (layer, hs, mats) in enumerate(lh):
        heads = [{"name": f"head {h}", "rows": rows(m)} for h, m in zip(hs, mats, strict=True)]
        if isinstance(hm, list) and li < len(hm) and matrix_shape(hm[li]) == (T, T):
            heads.append({"name": f"mean of {d.get('n_heads', '?')} heads", "rows": rows(hm[li])})
        if heads:
            views.append({"layer": f"layer {layer}", "heads": heads})
    return {"tokens": [str(t) for t in tokens], "layers": views} if views else None


@tailored("attention_maps", "Attention maps", 40, _attention_guide)
def _attention_maps(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    if isinstance(d.get("prompt"), str):
        b.blocks.append(Preformatted(d["prompt"], caption="prompt"))
        b.used.add("prompt")
    tokens = d.get("tokens") if isinstance(d.get("tokens"), list) else []
    if d.get("truncated"):
        b.blocks.append(Paragraph(f"The prompt was longer than the context: its first {d.get('n_dropped')} tokens "
                                  "were dropped."))
    if tokens:
        b.blocks.append(Paragraph(f"{len(tokens)} tokens: " + " | ".join(str(t) for t in tokens[:200])
                                  + (" …" if len(tokens) > 200 else "")))
        b.used.update({"tokens", "token_ids"})
    if isinstance(d.get("top_next"), list) and d["top_next"]:
        b.blocks.append(records_table(d["top_next"], caption="next-token prediction after the prompt (top-k)",
                                      columns=("token", "prob", "id")))
        b.used.update({"top_next", "next_token", "next_token_id", "next_token_prob"})
    lh = layer_heads(d) if len(tokens) >= 2 else None
    if lh:
        recs = []
        for layer, hs, mats in lh:
            for h, mat in zip(hs, mats, strict=True):
                sc = _head_scores(mat)
                recs.append({"layer": layer, "head": h, "prev-token": sc["prev_token"], "first-token": sc["sink"],
                             "entropy (nats)": sc["entropy"]})
        u = _uniform_causal(len(tokens))
        recs.append({"layer": "uniform", "head": "baseline", "prev-token": u["prev_token"], "first-token": u["sink"],
                     "entropy (nats)": u["entropy"]})
        b.blocks.append(records_table(recs, caption="per-head scores on this prompt (last row: uniform attention)",
                                      max_rows=200))
        if not stage.figures:  # no saved figures: draw the head-mean of each layer from the data
            hm = d.get("head_mean") or []
            mats = [(f"layer {layer} mean", hm[li]) for li, (layer, _, _) in enumerate(lh)
                    if li < len(hm) and matrix_shape(hm[li]) == (len(tokens), len(tokens))]
            if mats and len(tokens) <= 128:
                b.blocks.append(Figure(caption="head-mean attention per layer, drawn from results.json",
                                       png=charts.attention(mats, [str(t) for t in tokens], "attention (mean over heads)")))
        b.used.update({"patterns", "head_mean", "heads", "layers"})
        b.attention = attention_view_data(d)
    return b


def _evolution_guide(stage: Stage) -> str:
    d = stage.data
    T = len(d.get("tokens") or [])
    u = _uniform_causal(T) if T >= 2 else None
    S = d.get("induction_len")
    ind = ""
    if is_number(S) and S >= 1:
        off = 1 if d.get("induction_bos", True) else 0
        qs = range(off + S, off + 2 * S)
        ind = f" induction ≈ {sum(1 / (q + 1) for q in qs) / S:.3f} (S = {S}),"
    chance = (f" Uniform attention (the no-structure baseline) scores prev-token = first-token = {u['prev_token']:.3f},"
              f"{ind} entropy = {u['entropy']:.2f} nats on this prompt.") if u else ""
    return ("The same prompt run through every epoch checkpoint of a training run. Per checkpoint and head: "
            "entropy (nats; low = focused), previous-token score (mean A[q, q−1]), first-token/sink score (mean "
            "A[q, 0]), induction score (attention to the token after the previous occurrence of the current token, "
            "on random repeated sequences; 1 = perfect induction head) and the Jensen–Shannon distance to the "
            "previous checkpoint's pattern (0 = unchanged, 1 = disjoint). When the JS distance flattens near 0, "
            "attention has stopped changing." + chance)


def _mean(v: Any) -> float | None:
    flat: list[float] = []

    def walk(x: Any) -> None:
        if is_number(x):
            flat.append(float(x))
        elif isinstance(x, list):
            for y in x:
                walk(y)

    walk(v)
    return sum(flat) / len(flat) if flat else None


EVOLUTION_METRICS = ("entropy", "prev_token", "sink", "induction", "js_distance")


@tailored("attention_evolution", "Attention over training", 45, _evolution_guide)
def _attention_evolution(stage: Stage) -> Built:
    d = stage.data
    b = Built(figures_first=True)
    if isinstance(d.get("prompt"), str):
        b.blocks.append(Preformatted(d["prompt"], caption="prompt"))
        b.used.add("prompt")
    tokens = d.get("tokens") if isinstance(d.get("tokens"), list) else []
    if tokens:
        b.blocks.append(Paragraph(f"{len(tokens)} tokens: " + " | ".join(str(t) for t in tokens[:200])
                                  + (" …" if len(tokens) > 200 else "")))
        b.used.update({"tokens", "token_ids"})
    cks = [c for c in d.get("checkpoints") or [] if isinstance(c, dict)]
    if not cks:
        return b
    recs = []
    for c in cks:
        r = {"epoch": c.get("epoch"), "next token": c.get("next_token"), "p": c.get("next_token_prob")}
        for m in EVOLUTION_METRICS:
            r[f"{m} (mean)"] = _mean(c.get(m))
        recs.append(r)
    b.blocks.append(records_table(recs, caption="per checkpoint: prediction after the prompt and head scores "
                                                "averaged over all layers and heads", max_rows=200))
    b.used.add("checkpoints")
    last = cks[-1]
    for m in ("induction", "prev_token"):
        mat = last.get(m)
        shp = matrix_shape(mat)
        if shp is not None and len(shp) == 2:
            b.blocks.append(Table(columns=("layer", *(f"H{h}" for h in range(shp[1]))),
                                  rows=tuple((f"L{i}", *(fmt(x) for x in row)) for i, row in enumerate(mat)),
                                  caption=f"{m} score per head at the last checkpoint (epoch {last.get('epoch')})"))
    if not stage.figures:
        epochs = [c.get("epoch") for c in cks]
        specs = []
        for m in EVOLUTION_METRICS:
            per_layer: dict[str, list[float | None]] = {}
            for ci, c in enumerate(cks):
                v = c.get(m)
                for li, row in enumerate(v if isinstance(v, list) else []):
                    per_layer.setdefault(f"L{li} mean", [None] * len(cks))[ci] = _mean(row)
            if per_layer:
                specs.append((m.replace("_", " "), {k: (epochs, ys) for k, ys in per_layer.items()}, m, None))
        if specs:
            b.blocks.append(Figure(caption="head scores over epochs (mean over heads per layer), drawn from results.json",
                                   png=charts.panels(specs, "epoch")))
        cols = [str(c) for c in d.get("grid_columns") or []]
        grid = last.get("grid")
        shp = matrix_shape(grid)
        if cols and tokens and shp is not None and shp == (len(cols), len(tokens), len(tokens)) and len(tokens) <= 128:
            b.blocks.append(Figure(caption=f"prompt attention at the last checkpoint (epoch {last.get('epoch')}), "
                                           "drawn from results.json",
                                   png=charts.attention(list(zip(cols, grid, strict=True)), [str(t) for t in tokens],
                                                        f"epoch {last.get('epoch')}")))
    return b


# ============================================================================ interventions, probes, evals
def _ablation_guide(stage: Stage) -> str:
    return ("The selected attention heads' outputs (hook_z) are replaced — zero: by 0; mean: by their mean over the "
            "eval positions; resample: by their value at another random position — and the mean next-token loss "
            "(nats) on the eval text is compared with the clean model. Δloss = ablated − clean: > 0 means the heads "
            "help, ≈ 0 that the model does not rely on them, < 0 that they hurt. There is no chance level; judge a "
            "Δloss against the per-token spread (median, p90, share of tokens hurt) and against other heads "
            "(see the ablation sweep). The clean/ablated continuations show the behavioural effect (e.g. repetition: "
            "lower distinct-n).")


def _heads_text(v: Any) -> str:
    if isinstance(v, list) and all(isinstance(h, list) and len(h) == 2 for h in v):
        return ", ".join(f"{h[0]}.{h[1]}" for h in v)
    return fmt(v)


@tailored("ablation", "Head ablation", 50, _ablation_guide)
def _ablation(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    keys = ("model", "source", "method", "heads_spec", "clean_loss", "ablated_loss", "delta_loss", "clean_perplexity",
            "ablated_perplexity", "n_windows", "window_len", "n_tokens_scored", "n_layers", "n_heads", "seed")
    pairs = [(k, d[k]) for k in keys if k in d]
    if "heads" in d:
        pairs.insert(3, ("heads ablated", _heads_text(d["heads"])))
        b.used.add("heads")
    b.blocks.append(kv_table(pairs, caption="loss with and without the heads"))
    b.used.update(k for k, _ in pairs)
    if isinstance(d.get("delta"), dict):
        order = ("mean", "median", "p90", "max", "frac_hurt", "frac_helped")
        items = sorted(d["delta"].items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
        b.blocks.append(kv_table(items, caption="per-token Δloss = ablated − clean (nats)"))
        b.used.add("delta")
    buckets = [x for x in d.get("by_position") or [] if isinstance(x, dict)]
    if buckets:
        b.blocks.append(records_table(buckets, caption="Δloss by position in the window", columns=[
            c for c in ("start", "end", "n_tokens", "clean_loss", "ablated_loss", "delta_mean", "frac_hurt")
            if any(c in x for x in buckets)]))
        if not stage.figures and len(buckets) >= 2:
            xs = [x.get("start") for x in buckets]
            b.blocks.append(Figure(caption="loss by position in the window, drawn from results.json",
                                   png=charts.lines({"clean": (xs, [x.get("clean_loss") for x in buckets]),
                                                     "ablated": (xs, [x.get("ablated_loss") for x in buckets])},
                                                    "loss by position", "window position (bucket start)",
                                                    "loss (nats/token)")))
        b.used.add("by_position")
    g = d.get("generation")
    if isinstance(g, dict):
        if isinstance(g.get("prompt"), str):
            b.blocks.append(Preformatted(g["prompt"], caption=f"prompt ({g.get('decoding', '')}, "
                                                              f"{g.get('max_new_tokens', '?')} new tokens)"))
        rows = []
        for name in ("clean", "ablated"):
            c = g.get(name)
            if isinstance(c, dict):
                b.blocks.append(Preformatted(visible(str(c.get("text", ""))), caption=f"{name} continuation"))
                rows.append({"model": name, "distinct_1": c.get("distinct_1"), "distinct_2": c.get("distinct_2")})
        if rows:
            b.blocks.append(records_table(rows, caption="repetition (distinct-n; 1 = no repeated n-grams)"
                                          + (" — continuations identical" if g.get("same") else "")))
        b.used.add("generation")
    return b


def _sweep_guide(stage: Stage) -> str:
    return ("Every head is ablated alone (one at a time) and the change in mean next-token loss is recorded: the "
            "grid shows Δloss per (layer, head). Heads with large Δloss are the ones the model relies on for this "
            "text; most heads of a small model are usually near 0. 'frac hurt' is the share of tokens whose loss "
            "went up. There is no chance level: compare heads with each other (the ranking) and with the clean loss.")


def _grid_table(grid: Any, caption: str) -> Table | None:
    shp = matrix_shape(grid)
    if shp is None or len(shp) != 2 or shp[1] > 16:
        return None
    return Table(columns=("layer", *(f"H{h}" for h in range(shp[1]))),
                 rows=tuple((f"L{i}", *(fmt(x) for x in r)) for i, r in enumerate(grid)), caption=caption)


@tailored("ablation_sweep", "Ablation sweep (every head alone)", 55, _sweep_guide)
def _ablation_sweep(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    keys = ("model", "source", "method", "heads_spec", "clean_loss", "n_windows", "window_len", "n_tokens_scored",
            "n_layers", "n_heads", "batched", "seed")
    pairs = [(k, d[k]) for k in keys if k in d]
    b.blocks.append(kv_table(pairs, caption="setup"))
    b.used.update(k for k, _ in pairs)
    grid = d.get("delta_loss")
    shp = matrix_shape(grid)
    if shp is not None and len(shp) == 2:
        if not stage.figures:
            b.blocks.append(Figure(caption="Δloss per head, drawn from results.json",
                                   png=charts.heatmap(grid, "Δloss when the head is ablated (nats)", "head", "layer",
                                                      center_zero=True)))
        for key, cap in (("delta_loss", "Δloss per head (nats)"), ("frac_hurt", "share of tokens hurt per head")):
            t = _grid_table(d.get(key), cap)
            if t is not None:
                b.blocks.append(t)
                b.used.add(key)
        b.used.update({"delta_loss", "ablated_loss"})
    rank = [x for x in d.get("ranking") or [] if isinstance(x, dict)]
    if rank:
        b.blocks.append(records_table(rank, caption="heads ranked by Δloss (largest first)", max_rows=20))
        b.used.add("ranking")
    return b


def _coref_guide(stage: Stage) -> str:
    d = stage.data
    chance = d.get("chance", 0.5)
    return ("Attention probe for coreference: for each example (a pronoun, its antecedent and a distractor noun), a "
            "head is correct when the pronoun's token attends more to the antecedent than to the distractor. "
            f"Each comparison is binary, so chance is {fmt(chance)}; intervals are Wilson 95%. 'head mean' averages "
            "attention over all heads first (the model as a whole); the in-sample best head is optimistic (picked on "
            "the same data) — trust the held-out best head. The recency baseline (always attend to the nearer "
            "candidate) shows whether a head could succeed by position alone. 'behaviour' checks the model's "
            "output: is the correct pronoun more likely than the contrast pronoun?")


def _acc_row(name: str, x: Any) -> dict[str, Any] | None:
    if not isinstance(x, dict):
        return None
    return {"measure": name, "accuracy": x.get("accuracy"), "95% CI": (
        f"{fmt(x.get('ci_low'))} – {fmt(x.get('ci_high'))}" if x.get("ci_low") is not None else None),
        "n": x.get("n"), "chance": x.get("chance"), "head": x.get("head")}


@tailored("coref_probe", "Coreference probe", 60, _coref_guide)
def _coref(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    keys = [k for k in ("model", "probe_set", "n_examples", "n_layers", "n_heads", "chance", "seed") if k in d]
    b.blocks.append(kv_table([(k, d[k]) for k in keys], caption="setup"))
    b.used.update(keys)
    best = (d.get("best_heads") or [None])[0]
    rows = [r for r in (
        _acc_row("head mean (all heads)", d.get("head_mean")),
        _acc_row("best head, in-sample (optimistic)", best),
        _acc_row("best head, held-out", d.get("best_head_heldout")),
        _acc_row("recency baseline (nearer candidate)", d.get("recency_baseline")),
        _acc_row("behaviour (pronoun log-prob)", d.get("behaviour")),
    ) if r is not None]
    if rows:
        b.blocks.append(records_table(rows, caption="accuracy against chance"))
        b.used.update({"head_mean", "best_head_heldout", "recency_baseline", "behaviour"})
    acc = d.get("head_accuracy")
    shp = matrix_shape(acc)
    if shp is not None and len(shp) == 2:
        if not stage.figures and shp[0] * shp[1] >= 2:
            b.blocks.append(Figure(caption="accuracy per head, drawn from results.json",
                                   png=charts.heatmap(acc, "coreference accuracy per head (chance 0.5)", "head",
                                                      "layer", cmap="viridis", center_zero=False)))
        margin = d.get("head_margin")
        lma = d.get("layer_mean_accuracy")
        if shp[1] <= 16:
            b.blocks.append(Table(columns=("layer", *(f"H{h}" for h in range(shp[1]))),
                                  rows=tuple((f"L{i}", *(fmt(x) for x in r)) for i, r in enumerate(acc)),
                                  caption="accuracy per head"))
            if matrix_shape(margin) == shp:
                b.blocks.append(Table(columns=("layer", *(f"H{h}" for h in range(shp[1]))),
                                      rows=tuple((f"L{i}", *(fmt(x) for x in r)) for i, r in enumerate(margin)),
                                      caption="mean margin per head (attention to antecedent − distractor)"))
                b.used.add("head_margin")
        if isinstance(lma, list) and len(lma) == shp[0]:
            b.blocks.append(Table(columns=("layer", "accuracy (heads of the layer averaged first)"),
                                  rows=tuple((f"L{i}", fmt(x)) for i, x in enumerate(lma)), caption="per layer"))
            b.used.add("layer_mean_accuracy")
        b.used.add("head_accuracy")
    if isinstance(d.get("best_heads"), list) and d["best_heads"]:
        b.blocks.append(records_table(d["best_heads"], caption="best heads (in-sample)",
                                      columns=("head", "accuracy", "ci_low", "ci_high", "n", "mean_margin")))
        b.used.add("best_heads")
    for key, title in (("by_cross_sentence", "single- vs cross-sentence"), ("by_category", "by category")):
        sub = d.get(key)
        if isinstance(sub, dict) and sub:
            recs = []
            for name, x in sub.items():
                if isinstance(x, dict):
                    recs.append({"subset": name, "n": x.get("n"),
                                 "head mean": (x.get("head_mean") or {}).get("accuracy"),
                                 "best head": (x.get("best_head") or {}).get("accuracy"),
                                 "behaviour": (x.get("behaviour") or {}).get("accuracy"),
                                 "recency": (x.get("recency_baseline") or {}).get("accuracy")})
            b.blocks.append(records_table(recs, caption=f"accuracy {title}"))
            b.used.add(key)
    ex = [x for x in d.get("examples") or [] if isinstance(x, dict)]
    if ex:
        cols = [c for c in ("text", "pronoun", "antecedent", "distractor", "category", "head_mean_correct",
                            "best_head_correct", "behaviour_correct") if any(c in x for x in ex)]
        b.blocks.append(records_table(ex, caption="examples", columns=cols))
        b.used.add("examples")
    return b


def _trimmed_guide(stage: Stage) -> str:
    d = stage.data
    labels = d.get("labels") or []
    k = len(labels)
    gold = [g for g in d.get("gold") or [] if isinstance(g, int)]
    base = ""
    if k:
        base = f" With {k} labels chance is 1/{k} = {1 / k:.3f}"
        if gold:
            top = max(gold.count(i) for i in range(k)) / len(gold)
            base += f"; always predicting the most frequent label scores {top:.3f} (the majority baseline)"
        base += "."
    return ("Zero/few-shot classification with the LM's unembedding trimmed to the label tokens: a template turns "
            "each text into a prompt, and the prediction is the label whose token gets the highest logit at the "
            "last position. Variants: trimmed (argmax over the label logits), calibrated (contextual calibration "
            "with content-free inputs), fitted_head (only the k × d_model label head trained on a few labeled "
            "examples), full_vocab (argmax over the whole vocabulary; 'other' when it is not a label)." + base +
            " Macro-F1 averages the per-class F1, so it exposes a model that always predicts one class.")


@tailored("trimmed_eval", "Trimmed-head classification", 75, _trimmed_guide)
def _trimmed(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    labels = [str(x) for x in d.get("labels") or []]
    pairs = [(k, d[k]) for k in ("model", "labels", "n_truncated") if k in d]
    ds = d.get("dataset")
    if isinstance(ds, dict):
        pairs += [(f"dataset.{k}", v) for k, v in ds.items()]
    if isinstance(d.get("shots"), list):
        pairs.append(("shots", len(d["shots"])))
    b.blocks.append(kv_table(pairs, caption="setup"))
    b.used.update({"model", "labels", "n_truncated", "dataset", "gold"})
    if isinstance(d.get("template"), str):
        b.blocks.append(Preformatted(d["template"], caption="prompt template"))
        b.used.add("template")
    variants = d.get("variants")
    if isinstance(variants, dict) and variants:
        k = len(labels)
        gold = [g for g in d.get("gold") or [] if isinstance(g, int)]
        recs = [{"variant": name, "accuracy": v.get("accuracy"), "macro_f1": v.get("macro_f1"), "n": v.get("n")}
                for name, v in variants.items() if isinstance(v, dict)]
        if k:
            recs.append({"variant": "chance (1/k)", "accuracy": 1 / k, "macro_f1": None, "n": None})
        if k and gold:
            recs.append({"variant": "majority class", "accuracy": max(gold.count(i) for i in range(k)) / len(gold),
                         "macro_f1": None, "n": len(gold)})
        b.blocks.append(records_table(recs, caption="accuracy and macro-F1 per variant (last rows: baselines)"))
        if not stage.figures and len(recs) >= 2:
            b.blocks.append(Figure(caption="accuracy per variant, drawn from results.json",
                                   png=charts.bars([r["variant"] for r in recs], [r["accuracy"] for r in recs],
                                                   "accuracy per variant", "accuracy",
                                                   hline=(f"chance 1/{k}", 1 / k) if k else None)))
        for name, v in variants.items():
            if not isinstance(v, dict):
                continue
            pc = v.get("per_class")
            if isinstance(pc, dict) and pc:
                b.blocks.append(records_table([{"label": lab, **(r if isinstance(r, dict) else {})} for lab, r in pc.items()],
                                              caption=f"{name}: per class"))
            cm = v.get("confusion")
            shp = matrix_shape(cm)
            if shp is not None and len(shp) == 2 and shp[0] == k and shp[1] <= 16:
                cols = labels + ["other"] * (shp[1] - k)
                b.blocks.append(Table(columns=("gold \\ predicted", *cols[: shp[1]]),
                                      rows=tuple((labels[i], *(fmt(x) for x in row)) for i, row in enumerate(cm)),
                                      caption=f"{name}: confusion matrix (rows gold, columns predicted)"))
        b.used.add("variants")
    for key, cap in (("full_vocab", "full-vocabulary decoding"), ("calibration", "calibration"), ("fit", "fitted head")):
        v = d.get(key)
        if isinstance(v, dict) and v:
            b.blocks.extend(generic_blocks(v, prefix=cap))
            b.used.add(key)
    return b


def _regress_guide(stage: Stage) -> str:
    return ("CI regression evaluation: each metric of the suite is measured on the current model and compared "
            "with a stored baseline within a tolerance (absolute, relative, or a statistical interval for "
            "proportions/bootstrap). A check fails only when the current value is worse than the bound.")


@tailored("regress", "Regression evals", 90, _regress_guide)
def _regress(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    keys = [k for k in ("passed", "n_checks", "n_failed", "mode", "suite", "model", "baseline", "seed") if k in d]
    b.blocks.append(kv_table([(k, d[k]) for k in keys], caption="summary"))
    b.used.update(keys)
    checks = [c for c in d.get("checks") or [] if isinstance(c, dict)]
    if checks:
        cols = [c for c in ("eval", "metric", "direction", "baseline", "current", "bound", "tolerance", "passed")
                if any(c in r for r in checks)]
        b.blocks.append(records_table(checks, caption="checks", columns=cols, max_rows=500))
        failed = [c for c in checks if c.get("passed") is False and c.get("message")]
        for c in failed:
            b.blocks.append(Paragraph("FAILED: " + str(c["message"])))
        b.used.add("checks")
    return b


# ============================================================================ assembly
def _humanise(kind: str) -> str:
    s = re.sub(r"[_\-]+", " ", kind).strip()
    return (s[:1].upper() + s[1:]) if s else "Results"


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")[:40] or "section"


def _figure_blocks(stage: Stage) -> list[Block]:
    return [Figure(caption=f.rel + (".png" if f.png else ".svg"), png=f.png, svg=f.svg) for f in stage.figures]


def raw_json(data: dict[str, Any]) -> str:
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    if len(text) > RAW_JSON_CHARS:
        text = text[:RAW_JSON_CHARS] + f"\n… ({len(text) - RAW_JSON_CHARS:,} more characters in the file)"
    return text


def order_key(stage: Stage) -> tuple[int, str]:
    spec = SECTIONS.get(stage.kind)
    return (spec.order if spec else UNKNOWN_ORDER, stage.source)


def build_section(stage: Stage, index: int) -> Section:
    """One stage → its Section (tailored when the kind is registered, generic otherwise)."""
    spec = SECTIONS.get(stage.kind)
    figures = _figure_blocks(stage)
    built, problem = Built(), ""
    if spec is not None and spec.build is not None:
        try:
            built = spec.build(stage)
        except Exception as e:  # noqa: BLE001 — a schema the builder does not expect: fall back, say so
            built, problem = Built(), f"{type(e).__name__}: {str(e)[:160]}"
    blocks: list[Block] = []
    if problem:
        blocks.append(Paragraph(f"The tailored view could not read this file ({problem}); it is shown generically."))
    if built.figures_first:
        blocks += figures
    blocks += built.blocks
    if not built.figures_first:
        blocks += figures
    rest = generic_blocks(stage.data, skip=built.used)
    if problem and stage.run:
        rest += generic_blocks(stage.run, prefix="run")
    if rest and built.blocks:
        blocks.append(Paragraph("Other values from the results file:"))
    blocks += rest
    if not blocks:
        blocks.append(Paragraph("This results file has no values to show."))
    generic_guide = (f"No tailored view for result kind '{stage.kind}': shown generically — its scalar values, tables "
                     "for lists of records, heatmaps of numeric matrices and the figures found in its folder. "
                     "See the producing command's --help for what the numbers mean.")
    if spec is None:
        guide, title = generic_guide, _humanise(stage.kind)
    else:
        try:
            guide = spec.guide(stage)
        except Exception:  # noqa: BLE001 — the guide's data-dependent part failed: keep its general text
            guide = spec.guide(Stage(rel=stage.rel, source=stage.source, kind=stage.kind, data={}))
        title = spec.title
    where = stage.rel if stage.rel != "." else "top level"
    data = stage.data if stage.kind != "training" or stage.data else (stage.run or {})
    return Section(id=f"s{index}-{_slug(stage.kind)}", title=f"{title} ({where})", kind=stage.kind,
                   source=stage.source, guide=guide, blocks=tuple(blocks), tailored=spec is not None and not problem,
                   attention=built.attention, raw=raw_json(data))
