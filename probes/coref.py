"""Coreference probe: does attention from a pronoun go to its antecedent rather than to a distractor?

Method (one example = text, pronoun, antecedent, distractor; see probes/coref_data.py for how the
words are located in the text and probes/README.md for the data format):

1. Token mapping. The text is tokenized once with the model's (fast) tokenizer and
   `return_offsets_mapping=True`, BOS prepended when the model uses one. A word owns every token whose
   character span overlaps the word's span (a leading-space token like "Ġhis" belongs to "his").
   The QUERY is the pronoun's first token (`CorefConfig.query="last"` picks its last token instead);
   the attention to a multi-token antecedent/distractor is the SUM over the word's tokens.
2. Attention measure. One `run_with_cache` per batch (right-padded: with causal attention, padding
   after a sequence cannot change its patterns) caching only `blocks.L.attn.hook_pattern` (B, H, T, T).
   For every layer L and head H: a = pattern[q, antecedent tokens].sum(), d = pattern[q, distractor
   tokens].sum(). The head is correct on the example when a > d (a tie counts as wrong).
3. Scores. Per-head accuracy (L × H grid); the best heads (by accuracy, then mean margin a − d); the
   HEAD-MEAN score: average a and d over all L × H heads first, then compare (one number per example —
   "does the model as a whole look at the antecedent?"). The best head is picked on the same data, so
   its accuracy is optimistic; `best_head_heldout` picks it on a seeded random half and scores it on the
   other half. `recency_baseline` is the accuracy of a head that always attends to the nearer candidate
   (0.5 on the built-in set by construction).
4. Behavioural check. For examples with a contrast pronoun (every valid example has text before the
   pronoun, since the antecedent precedes it): the prefix is the text up to the pronoun (trailing
   whitespace moved into the continuation) and the model's log P(continuation) is the SUM of the token
   log-probs of " pronoun" vs " contrast". Correct when the expected pronoun is more likely. Both are
   read off the logits of the probe pass when possible (the text itself continues the prefix with the
   expected pronoun; a one-token contrast needs only the prefix), so usually one forward per batch
   does everything; the rest get a second forward on prefix + continuation.

Every accuracy carries n, chance (0.5: each comparison is binary) and a Wilson 95% interval.
Figure builders at the bottom take the result dict (results.json), never a model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from evals.stats import wilson
from interp.errors import UserError
from interp.results import FrozenResult
from probes.coref_data import CorefExample

CHANCE = 0.5
CONFIDENCE = 0.95
QUERY_TOKENS = ("first", "last")


@dataclass(frozen=True)
class CorefConfig:
    top_k: int = 5  # best heads to report
    batch_size: int = 16
    query: str = "first"  # which token of a multi-token pronoun is the query
    heldout_fraction: float = 0.5  # share of examples the held-out best head is scored on
    seed: int = 0  # only the held-out split uses randomness
    behaviour: bool = True

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise UserError(f"top_k must be >= 1, got {self.top_k}")
        if self.batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.query not in QUERY_TOKENS:
            raise UserError(f"query must be one of {', '.join(QUERY_TOKENS)}, got {self.query!r}")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise UserError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")


@dataclass(frozen=True)
class CorefResult(FrozenResult):
    kind: str = "coref_probe"
    model: str = ""
    probe_set: str = ""
    seed: int = 0
    config: dict = field(default_factory=dict)
    method: dict = field(default_factory=dict)
    n_examples: int = 0
    examples_sha256: str = ""  # of the examples' JSON: same hash = same probe items
    n_layers: int = 0
    n_heads: int = 0
    chance: float = CHANCE
    confidence: float = CONFIDENCE
    head_accuracy: list = field(default_factory=list)  # (L, H)
    head_margin: list = field(default_factory=list)  # (L, H) mean of a − d
    layer_mean_accuracy: list = field(default_factory=list)  # (L,) heads of one layer averaged first
    best_heads: list = field(default_factory=list)
    best_head_heldout: dict | None = None
    head_mean: dict = field(default_factory=dict)
    recency_baseline: dict = field(default_factory=dict)
    behaviour: dict = field(default_factory=dict)
    by_cross_sentence: dict = field(default_factory=dict)  # "single" / "cross"
    by_category: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)


# --------------------------------------------------------------------------------------------- statistics
def accuracy_stats(correct: Sequence[bool] | np.ndarray) -> dict[str, Any]:
    """{accuracy, k, n, ci_low, ci_high, chance} for binary outcomes (accuracy None when n = 0)."""
    c = np.asarray(correct, dtype=bool)
    n, k = int(c.size), int(c.sum())
    lo, hi = wilson(k, n, CONFIDENCE)
    return {"accuracy": (k / n if n else None), "k": k, "n": n, "ci_low": lo, "ci_high": hi, "chance": CHANCE}


# --------------------------------------------------------------------------------------------- tokens
from probes.coref_tokens import (  # noqa: E402  (token mapping lives in probes/coref_tokens.py; re-exported)
    Encoded,
    _pad,
    behaviour_inputs,
    bos_id,
    encode,
    word_tokens,
)


def _is_pattern(name: str) -> bool:
    return name.endswith("attn.hook_pattern")


# --------------------------------------------------------------------------------------------- forward passes
@torch.inference_mode()
def attention_to_words(bridge, encoded: Sequence[Encoded], batch_size: int = 16, progress: bool = False,
                       logprob_at: Sequence[Sequence[Sequence[tuple[int, int]]]] | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, list[list[float]]]:
    """Summed attention from each query token to the antecedent and distractor tokens: two (N, L, H) arrays.

    The same forward also scores the requests `logprob_at[i]` = [[(position, token id), ...], ...]: for
    each request the sum over its pairs of log P(token at position | ids[:position]) — the behavioural
    check read off the probe pass's logits, so most examples need no second forward.
    Returns (ante, dist, per-example lists of request sums).
    """
    from interp.progress import progress_bar

    n_layers, n_heads = bridge.cfg.n_layers, bridge.cfg.n_heads
    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = next(bridge.original_model.parameters()).device
    ante = np.zeros((len(encoded), n_layers, n_heads))
    dist = np.zeros((len(encoded), n_layers, n_heads))
    lps: list[list[float]] = [[] for _ in encoded]
    starts = range(0, len(encoded), batch_size)
    for s in progress_bar(starts, desc="coref attention", disable=not progress, file=sys.stderr, leave=False):
        chunk = encoded[s:s + batch_size]
        tokens = _pad([e.ids for e in chunk], pad).to(device)  # (B, T)
        B, T = tokens.shape
        m_a = torch.zeros(B, T, device=device)
        m_d = torch.zeros(B, T, device=device)
        for b, e in enumerate(chunk):
            m_a[b, list(e.antecedent)] = 1.0
            m_d[b, list(e.distractor)] = 1.0
        q = torch.tensor([e.query for e in chunk], device=device)
        logits, cache = bridge.run_with_cache(tokens, names_filter=_is_pattern)  # (B, T, V)
        for layer in range(n_layers):
            pat = cache[f"blocks.{layer}.attn.hook_pattern"]  # (B, H, T, T)
            rows = pat[torch.arange(B, device=device), :, q, :].float()  # (B, H, T) attention from the query
            ante[s:s + B, layer] = (rows * m_a[:, None, :]).sum(-1).cpu().double().numpy()  # (B, H)
            dist[s:s + B, layer] = (rows * m_d[:, None, :]).sum(-1).cpu().double().numpy()
        del cache
        if logprob_at is not None:
            for b in range(B):
                lps[s + b] = [_sum_logprobs(logits[b], req) for req in logprob_at[s + b]]
    return ante, dist, lps


def _sum_logprobs(logits: torch.Tensor, at: Sequence[tuple[int, int]]) -> float:
    """sum_k log_softmax(logits[pos_k - 1])[tok_k] for (pos_k, tok_k) in `at`. logits: (T, V)."""
    if not at:
        return 0.0
    pos = torch.tensor([p - 1 for p, _ in at], device=logits.device)
    toks = torch.tensor([t for _, t in at], device=logits.device)
    lp = torch.log_softmax(logits[pos].double(), dim=-1)  # (k, V)
    return float(lp[torch.arange(len(at), device=logits.device), toks].sum().item())


@torch.inference_mode()
def continuation_logprobs(bridge, items: Sequence[tuple[list[int], list[int]]], batch_size: int = 16,
                          progress: bool = False) -> np.ndarray:
    """Sum of log P(continuation tokens | prefix) for each (prefix ids, continuation ids). (N,)"""
    from interp.progress import progress_bar

    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = next(bridge.original_model.parameters()).device
    out = np.zeros(len(items))
    starts = range(0, len(items), batch_size)
    for s in progress_bar(starts, desc="coref behaviour", disable=not progress, file=sys.stderr, leave=False):
        chunk = items[s:s + batch_size]
        tokens = _pad([p + c for p, c in chunk], pad).to(device)  # (B, T)
        logits = bridge(tokens)  # (B, T, V)
        for b, (p, c) in enumerate(chunk):
            out[s + b] = _sum_logprobs(logits[b], [(len(p) + k, t) for k, t in enumerate(c)])
    return out


# --------------------------------------------------------------------------------------------- the probe
def _head_order(acc: np.ndarray, margin: np.ndarray) -> list[tuple[int, int]]:
    """Heads sorted by accuracy, then mean margin (both descending), then (layer, head)."""
    L, H = acc.shape
    heads = [(layer, h) for layer in range(L) for h in range(H)]
    return sorted(heads, key=lambda lh: (-round(float(acc[lh]), 12), -round(float(margin[lh]), 12), lh))


def _head_record(layer: int, head: int, correct: np.ndarray, margin: np.ndarray) -> dict[str, Any]:
    return {"head": f"{layer}.{head}", "layer": layer, "head_index": head, **accuracy_stats(correct),
            "mean_margin": float(margin.mean()) if margin.size else None}


def _subset_summary(idx: np.ndarray, ante: np.ndarray, dist: np.ndarray, best: tuple[int, int],
                    nearer: np.ndarray, beh_correct: dict[int, bool]) -> dict[str, Any]:
    a, d = ante[idx], dist[idx]
    correct = a > d  # (n, L, H)
    beh = [beh_correct[int(i)] for i in idx if int(i) in beh_correct]
    return {
        "n": int(idx.size),
        "head_mean": accuracy_stats(a.mean((1, 2)) > d.mean((1, 2))),
        "best_head": {"head": f"{best[0]}.{best[1]}", **accuracy_stats(correct[:, best[0], best[1]])},
        "head_accuracy": correct.mean(0) if idx.size else np.full(ante.shape[1:], np.nan),
        "behaviour": accuracy_stats(beh),
        "recency_baseline": accuracy_stats(nearer[idx]),
    }


def coref_probe(bridge, examples: Sequence[CorefExample], config: CorefConfig = CorefConfig(), model: str = "",
                probe_set: str = "", fwd_hooks: Sequence = (), progress: bool = False) -> CorefResult:
    """Run the attention probe and the behavioural check on `examples` (pure: no printing, no files).

    `fwd_hooks` (TransformerLens `(name, fn)` pairs) stay active for both passes — e.g. to probe a
    model under an ablation.
    """
    if not examples:
        raise UserError("no coreference examples to probe")
    tok = bridge.tokenizer
    bos = bos_id(bridge)
    n_ctx = int(bridge.cfg.n_ctx)
    encoded = [encode(tok, ex, bos, n_ctx, config.query) for ex in examples]  # validates before any forward
    beh_inputs: list[tuple[int, tuple[list[int], list[int], list[int]]]] = []
    if config.behaviour:
        for i, ex in enumerate(examples):
            bi = behaviour_inputs(tok, ex, bos)
            if bi is not None:
                if len(bi[0]) + max(len(bi[1]), len(bi[2])) > n_ctx:
                    raise UserError(f"{ex.where}: prefix + pronoun is longer than the model context {n_ctx}")
                beh_inputs.append((i, bi))

    # Behaviour: a continuation is read off the probe pass's own logits when the text's tokens start
    # with the prefix and either continue with it (the expected pronoun, usually) or it is one token
    # (the contrast, usually). The rest — multi-token contrasts, merges across the prefix boundary — get
    # a second forward on prefix + continuation.
    requests: list[list[list[tuple[int, int]]]] = [[] for _ in examples]  # per example: [(position, token)]s
    route: dict[tuple[int, str], tuple[str, int]] = {}  # (example, "expected"|"contrast") → ("pass"|"extra", k)
    extra: list[tuple[list[int], list[int]]] = []
    for i, (pre, exp, con) in beh_inputs:
        ids, n = list(encoded[i].ids), len(pre)
        for which, cont in (("expected", exp), ("contrast", con)):
            if ids[:n] == pre and (ids[n:n + len(cont)] == cont or len(cont) == 1):
                route[i, which] = ("pass", len(requests[i]))
                requests[i].append([(n + k, t) for k, t in enumerate(cont)])
            else:
                route[i, which] = ("extra", len(extra))
                extra.append((pre, cont))
    with bridge.hooks(fwd_hooks=list(fwd_hooks)):
        ante, dist, lp_pass = attention_to_words(bridge, encoded, config.batch_size, progress, requests)
        lp_extra = continuation_logprobs(bridge, extra, config.batch_size, progress) if extra else np.zeros(0)

    def score(i: int, which: str) -> float:
        src, k = route[i, which]
        return lp_pass[i][k] if src == "pass" else float(lp_extra[k])

    lp_expected = np.array([score(i, "expected") for i, _ in beh_inputs])
    lp_contrast = np.array([score(i, "contrast") for i, _ in beh_inputs])
    beh_correct = {i: bool(lp_expected[j] > lp_contrast[j]) for j, (i, _) in enumerate(beh_inputs)}

    N, L, H = ante.shape
    correct = ante > dist  # (N, L, H)
    acc = correct.mean(0)  # (L, H)
    margin = (ante - dist).mean(0)  # (L, H)
    order = _head_order(acc, margin)
    best = order[0]
    best_heads = [_head_record(layer, h, correct[:, layer, h], ante[:, layer, h] - dist[:, layer, h])
                  for layer, h in order[: min(config.top_k, L * H)]]
    mean_a, mean_d = ante.mean((1, 2)), dist.mean((1, 2))  # (N,)

    heldout = None
    if N >= 2:
        perm = np.random.default_rng(config.seed).permutation(N)
        n_eval = min(N - 1, max(1, round(N * config.heldout_fraction)))
        sel, ev = np.sort(perm[n_eval:]), np.sort(perm[:n_eval])
        lh = _head_order(correct[sel].mean(0), (ante[sel] - dist[sel]).mean(0))[0]
        heldout = {"head": f"{lh[0]}.{lh[1]}", "selected_on": int(sel.size), **accuracy_stats(correct[ev, lh[0], lh[1]])}

    spans = [ex.spans() for ex in examples]
    nearer = np.array([s["antecedent"][0] > s["distractor"][0] for s in spans])  # antecedent is the later word
    cross = np.array([ex.cross_sentence for ex in examples])
    by_cross = {name: _subset_summary(np.flatnonzero(mask), ante, dist, best, nearer, beh_correct)
                for name, mask in (("single", ~cross), ("cross", cross))}
    cats = sorted({ex.category for ex in examples})
    cat_arr = np.array([ex.category for ex in examples])
    by_cat = {c: _subset_summary(np.flatnonzero(cat_arr == c), ante, dist, best, nearer, beh_correct) for c in cats}

    beh_diff = lp_expected - lp_contrast
    behaviour = {**accuracy_stats(list(beh_correct.values())), "n_skipped": N - len(beh_inputs),
                 "n_second_pass": len(extra),  # continuations not readable from the probe pass
                 "mean_logprob_diff": float(beh_diff.mean()) if beh_diff.size else None}

    beh_by_i = {i: j for j, (i, _) in enumerate(beh_inputs)}
    rows = []
    for i, ex in enumerate(examples):
        j = beh_by_i.get(i)
        rows.append({
            **ex.to_dict(),
            "tokens": {"query": encoded[i].query, "antecedent": list(encoded[i].antecedent),
                       "distractor": list(encoded[i].distractor)},
            "best_head_antecedent": float(ante[i, best[0], best[1]]),
            "best_head_distractor": float(dist[i, best[0], best[1]]),
            "best_head_correct": bool(correct[i, best[0], best[1]]),
            "head_mean_antecedent": float(mean_a[i]),
            "head_mean_distractor": float(mean_d[i]),
            "head_mean_correct": bool(mean_a[i] > mean_d[i]),
            "antecedent_nearer": bool(nearer[i]),
            "logprob_expected": float(lp_expected[j]) if j is not None else None,
            "logprob_contrast": float(lp_contrast[j]) if j is not None else None,
            "behaviour_correct": beh_correct.get(i),
        })

    return CorefResult(
        model=model, probe_set=probe_set, seed=config.seed, config=dataclasses.asdict(config),
        method={
            "occurrence": "pronoun: its last occurrence; antecedent/distractor: last occurrence before the pronoun",
            "query": f"the pronoun's {config.query} token",
            "word_attention": "sum of attention over the word's tokens (tokens whose offsets overlap the word)",
            "correct": "antecedent attention > distractor attention (ties count as wrong)",
            "head_mean": "attention averaged over all layers x heads, then compared",
            "behaviour": "sum log P(' pronoun') vs sum log P(' contrast') after the text before the pronoun",
            "bos": bos is not None,
        },
        n_examples=N, n_layers=L, n_heads=H, head_accuracy=acc, head_margin=margin,
        examples_sha256=hashlib.sha256(
            json.dumps([ex.to_dict() for ex in examples], sort_keys=True).encode()).hexdigest(),
        layer_mean_accuracy=(ante.mean(2) > dist.mean(2)).mean(0),
        best_heads=best_heads, best_head_heldout=heldout,
        head_mean={**accuracy_stats(mean_a > mean_d), "mean_antecedent": float(mean_a.mean()),
                   "mean_distractor": float(mean_d.mean())},
        recency_baseline=accuracy_stats(nearer), behaviour=behaviour,
        by_cross_sentence=by_cross, by_category=by_cat, examples=rows,
    )


# --------------------------------------------------------------------------------------------- figures
from probes.coref_figures import (  # noqa: E402  (re-exported: figures live in probes/coref_figures.py)
    FIGURES,
    plot_by_category,
    plot_head_accuracy,
    plot_single_vs_cross,
    save_figures,
)

__all__ = ["FIGURES", "CorefConfig", "CorefResult", "Encoded", "accuracy_stats", "attention_to_words",
           "behaviour_inputs", "bos_id", "continuation_logprobs", "coref_probe", "encode", "plot_by_category",
           "plot_head_accuracy", "plot_single_vs_cross", "save_figures", "word_tokens"]
