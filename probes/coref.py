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
from pathlib import Path
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
@dataclass(frozen=True)
class Encoded:
    """Token view of one example. Indices count the BOS token when there is one."""

    ids: tuple[int, ...]
    query: int
    antecedent: tuple[int, ...]
    distractor: tuple[int, ...]
    pronoun: tuple[int, ...]


def word_tokens(offsets: Sequence[tuple[int, int]], span: tuple[int, int]) -> list[int]:
    """Indices of the tokens whose character span overlaps `span` = [start, end) (special tokens: (0, 0))."""
    s, e = span
    return [i for i, (a, b) in enumerate(offsets) if b > a and max(a, s) < min(b, e)]


def bos_id(bridge) -> int | None:
    """The BOS id to prepend, or None (the bridge's own `default_prepend_bos` convention)."""
    tok = bridge.tokenizer
    if getattr(bridge.cfg, "default_prepend_bos", True) and tok.bos_token_id is not None:
        return int(tok.bos_token_id)
    return None


def _tokenize(tokenizer, text: str, offsets: bool = False):
    try:
        return tokenizer(text, add_special_tokens=False, return_offsets_mapping=offsets)
    except NotImplementedError:
        raise UserError("the model's tokenizer gives no offsets mapping (not a fast tokenizer); "
                        "save the model with a tokenizers-backed (fast) tokenizer") from None


def encode(tokenizer, ex: CorefExample, bos: int | None, n_ctx: int, query: str = "first") -> Encoded:
    """Map the example's words to token indices (rules in the module doc). UserError on impossible rows."""
    spans = ex.spans()
    enc = _tokenize(tokenizer, ex.text, offsets=True)
    ids, offs = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    if bos is not None:
        ids, offs = [bos, *ids], [(0, 0), *offs]  # BOS owns no characters
    at = f"{ex.where}: " if ex.where else ""
    if len(ids) > n_ctx:
        raise UserError(f"{at}text is {len(ids)} tokens, longer than the model context {n_ctx}; shorten it")
    tokens = {role: word_tokens(offs, spans[role]) for role in ("pronoun", "antecedent", "distractor")}
    for role, word in (("pronoun", ex.pronoun), ("antecedent", ex.antecedent), ("distractor", ex.distractor)):
        if not tokens[role]:
            raise UserError(f"{at}{role} {word!r} maps to no token; check the text")
    q = tokens["pronoun"][0] if query == "first" else tokens["pronoun"][-1]
    a, d = set(tokens["antecedent"]), set(tokens["distractor"])
    if a & d or q in a or q in d:
        raise UserError(f"{at}the tokenizer merges the pronoun, antecedent or distractor into one token "
                        f"({ex.pronoun!r}, {ex.antecedent!r}, {ex.distractor!r}); separate the words")
    return Encoded(ids=tuple(int(i) for i in ids), query=q, antecedent=tuple(sorted(a)),
                   distractor=tuple(sorted(d)), pronoun=tuple(tokens["pronoun"]))


def behaviour_inputs(tokenizer, ex: CorefExample, bos: int | None) -> tuple[list[int], list[int], list[int]] | None:
    """(prefix ids, expected-continuation ids, contrast-continuation ids); None without a contrast pronoun.

    Continuations are the whitespace before the pronoun + the pronoun / contrast. They are cut from the
    tokenization of prefix + continuation when that starts with the prefix's tokens (so merges at the
    boundary match what the model saw in training), else tokenized alone.
    """
    if ex.contrast is None:
        return None
    start = ex.spans()["pronoun"][0]
    prefix = ex.text[:start].rstrip()  # never empty: the antecedent precedes the pronoun
    ws = ex.text[len(prefix):start]
    pre = list(_tokenize(tokenizer, prefix)["input_ids"])

    def cont(word: str) -> list[int]:
        full = list(_tokenize(tokenizer, prefix + ws + word)["input_ids"])
        if full[: len(pre)] == pre and len(full) > len(pre):
            return full[len(pre):]
        return list(_tokenize(tokenizer, ws + word)["input_ids"])

    head = [bos] if bos is not None else []
    return head + pre, cont(ex.expected), cont(ex.contrast)


def _pad(seqs: Sequence[Sequence[int]], pad: int) -> torch.Tensor:
    T = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [pad] * (T - len(s)) for s in seqs], dtype=torch.long)  # (B, T)


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
    from tqdm.auto import tqdm

    n_layers, n_heads = bridge.cfg.n_layers, bridge.cfg.n_heads
    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = next(bridge.original_model.parameters()).device
    ante = np.zeros((len(encoded), n_layers, n_heads))
    dist = np.zeros((len(encoded), n_layers, n_heads))
    lps: list[list[float]] = [[] for _ in encoded]
    starts = range(0, len(encoded), batch_size)
    for s in tqdm(starts, desc="coref attention", disable=not progress, file=sys.stderr, leave=False):
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
    from tqdm.auto import tqdm

    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = next(bridge.original_model.parameters()).device
    out = np.zeros(len(items))
    starts = range(0, len(items), batch_size)
    for s in tqdm(starts, desc="coref behaviour", disable=not progress, file=sys.stderr, leave=False):
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
def plot_head_accuracy(result: dict[str, Any]):
    """Heatmap of per-head accuracy (layers × heads), chance-centred; ● = Wilson lower bound above chance."""
    import matplotlib.pyplot as plt

    acc = np.array(result["head_accuracy"], dtype=float)  # (L, H)
    L, H = acc.shape
    n, chance = result["n_examples"], result["chance"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * H + 2.5), max(3.0, 0.4 * L + 1.5)))
    im = ax.imshow(acc, cmap="RdBu_r", vmin=0.0, vmax=1.0, aspect="auto")
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("accuracy (antecedent > distractor)")
    cb.ax.axhline(chance, color="k", lw=1, ls="--")
    for layer in range(L):
        for h in range(H):
            k = int(round(acc[layer, h] * n))
            lo, _ = wilson(k, n, result.get("confidence", CONFIDENCE))
            mark = "●" if lo > chance else ""
            if L * H <= 160:
                ax.text(h, layer, f"{acc[layer, h]:.2f}{mark}", ha="center", va="center", fontsize=7)
    if result.get("best_heads"):
        b = result["best_heads"][0]
        ax.add_patch(plt.Rectangle((b["head_index"] - 0.5, b["layer"] - 0.5), 1, 1, fill=False, ec="k", lw=2))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(H))
    ax.set_yticks(range(L))
    ax.set_title(f"Coreference attention accuracy per head (n={n}; chance = {chance:g})\n"
                 f"● Wilson 95% lower bound > chance\n(per head, not corrected for {L * H} heads); "
                 "box = best head", fontsize=9)
    return fig


def _grouped_bars(ax, groups: dict[str, dict[str, Any]], chance: float) -> None:
    metrics = (("head_mean", "head mean"), ("best_head", "best head"), ("behaviour", "behaviour"))
    names = list(groups)
    width = 0.8 / max(1, len(names))
    for gi, g in enumerate(names):
        xs, ys, err = [], [], [[], []]
        for mi, (key, _) in enumerate(metrics):
            s = groups[g][key]
            if s.get("accuracy") is None:
                continue
            xs.append(mi + (gi - (len(names) - 1) / 2) * width)
            ys.append(s["accuracy"])
            err[0].append(s["accuracy"] - s["ci_low"])
            err[1].append(s["ci_high"] - s["accuracy"])
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=f"{g} (n={groups[g]['n']})")
    ax.axhline(chance, color="k", lw=1, ls="--", label=f"chance {chance:g}")
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels([m[1] for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% Wilson interval)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_single_vs_cross(result: dict[str, Any]):
    """Bars: head-mean / best-head / behavioural accuracy, single- vs cross-sentence antecedents."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    groups = {k: v for k, v in result["by_cross_sentence"].items() if v["n"] > 0}
    _grouped_bars(ax, groups, result["chance"])
    ax.set_title("Coreference: antecedent in the same sentence vs an earlier one", fontsize=9)
    return fig


def plot_by_category(result: dict[str, Any]):
    """Bars: head-mean / best-head / behavioural accuracy per category."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(result["by_category"]) + 3), 3.6))
    _grouped_bars(ax, result["by_category"], result["chance"])
    ax.set_title("Coreference accuracy by category", fontsize=9)
    return fig


FIGURES = {
    "coref_head_accuracy": plot_head_accuracy,
    "coref_single_vs_cross": plot_single_vs_cross,
    "coref_by_category": plot_by_category,
}


def save_figures(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every figure from the result dict into out_dir (PNG + SVG each)."""
    from interp.figures import save_figure

    paths: list[Path] = []
    for name, builder in FIGURES.items():
        paths += save_figure(builder(result), out_dir, name)
    return paths
