"""Token-level perplexity with a sliding window, plus tokenizer-independent rates.

Method (the Hugging Face "perplexity of fixed-length models" recipe, made exact):

- Each document is scored on its own and starts fresh: its token ids (tokenized with
  `add_special_tokens=False`) are preceded by BOS (`interp.tokens.bos_id`: `bos_token`, else `eos_token`:
  for GPT-2-style tokenizers `<|endoftext|>`, the document separator the reference model is trained
  with), so the first real token is scored too. Without any BOS/EOS token (or `prepend_bos=False`)
  the first token of each document has no context and is not scored; its bytes are then excluded.
- Windows have `context` positions (default: the model's n_ctx, capped at 1024) and advance by
  `stride` positions: window k covers positions [k*stride, k*stride + context) of the document
  sequence and scores only the targets that earlier windows did not score; the final window is
  right-aligned (it starts at max(0, n - context), the lm-eval-harness convention), so the last targets get
  a full context instead of a short tail window. Windows come from `interp.tokens.plan_windows`.
  A window of `context` positions makes `context - 1` next-token predictions, so `stride` may be at
  most `context - 1`; the default `stride = context - 1` is non-overlapping scoring (consecutive
  windows share exactly the one token needed to predict the next window's first target). A smaller
  stride gives every scored token at least `context - stride` tokens of context at the cost of
  `context / stride` times more compute. Either way every token is scored exactly once. (The HF
  recipe's `stride = context` silently skips the first token of every window.)
- Windows of all documents are sorted by length and batched (right padding is exact for causal
  models: position t never sees positions > t); only scored positions go through the softmax.

Reported: NLL per token (nats), perplexity = exp(NLL per token), bits per byte
= total NLL / ln 2 / UTF-8 bytes of the scored text, and nats per character, so models with different
tokenizers compare; token/byte/char counts; NLL sums per document and per window (for bootstraps over
documents or windows). When training token ids are supplied, a leakage check (`evals.leakage`) runs on
the same eval tokens; an implausibly low bits-per-byte always adds a warning.

Which forward runs: `logits_fn` if given (e.g. `lambda ids: bridge.run_with_hooks(ids, fwd_hooks=...)`);
for a `TransformerBridge` with hooks attached (`bridge.hooks(...)`, `add_hook`), the bridge itself;
for a bridge without hooks, its `original_model` (identical logits — see tests/unit/test_hooked.py —
and ~1.6x faster); for an HF model, the model.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from evals.leakage import (
    OVERLAP_THRESHOLD,
    LeakageResult,
    NgramIndex,
    auto_n,
    leakage_check,
    plausibility_warning,
)
from interp.errors import UserError
from interp.results import FrozenResult
from interp.tokens import Window, bos_id, plan_windows  # noqa: F401  (re-exported: the one window rule)

LogitsFn = Callable[[torch.Tensor], torch.Tensor]  # (B, T) int64 -> (B, T, d_vocab)

MAX_DEFAULT_CONTEXT = 1024  # default window cap for long-context models (Gemma: 32k positions)
LOGITS_BUDGET = 2**26  # auto batch size: windows per forward so that B * T * d_vocab <= this (256 MB fp32)
MAX_AUTO_BATCH = 64

MIN_SCORED_TOKENS = 2  # below this there is no per-token interval: refuse instead of reporting one token's loss

@dataclass(frozen=True)
class PerplexityConfig:
    """`context`/`stride` in token positions (None → defaults above); `max_tokens` caps the number of
    eval tokens (documents in order, the last one truncated); `batch_size` windows per forward
    (None → auto from LOGITS_BUDGET)."""

    context: int | None = None
    stride: int | None = None
    max_tokens: int | None = None
    batch_size: int | None = None
    prepend_bos: bool = True
    leakage_n: int | None = None  # None → evals.leakage.auto_n(bytes per token of the eval text)
    leakage_threshold: float = OVERLAP_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("context", "stride", "max_tokens", "batch_size"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise UserError(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}")
        if self.context is not None and self.context < 2:
            raise UserError(f"--context must be >= 2 (one token of context + one target), got {self.context}")
        if self.context is not None and self.stride is not None and self.stride > self.context - 1:
            raise UserError(
                f"--stride {self.stride} is larger than context - 1 = {self.context - 1}: a window of "
                f"{self.context} tokens predicts {self.context - 1}; use --stride {self.context - 1} "
                "for non-overlapping scoring"
            )
        if self.leakage_n is not None and self.leakage_n < 1:
            raise UserError(f"--ngram must be >= 1, got {self.leakage_n}")
        if not 0.0 < self.leakage_threshold <= 1.0:
            raise UserError(f"leakage threshold must be in (0, 1], got {self.leakage_threshold}")


@dataclass(frozen=True)
class DocumentScore:
    index: int  # position in the input `texts`
    n_tokens: int  # scored tokens
    n_bytes: int
    n_chars: int
    nll_sum: float  # nats
    truncated: bool = False


@dataclass(frozen=True)
class PerplexityResult(FrozenResult):
    kind: str = "perplexity"
    model: str = ""  # the model reference (set by the public API / CLI)
    source: str = ""  # what was scored (a file, or a run's split)
    train_text: str = ""  # what the leakage check compared against
    seed: int = 0
    context: int = 0
    stride: int = 0
    batch_size: int = 0
    prepend_bos: bool = True
    bos_token_id: int | None = None
    n_documents: int = 0  # documents with at least one scored token
    n_skipped_documents: int = 0  # empty documents (no tokens)
    n_windows: int = 0
    n_tokens: int = 0  # scored tokens
    n_bytes: int = 0
    n_chars: int = 0
    nll_sum: float = 0.0
    nll_per_token: float = 0.0
    perplexity: float = 0.0
    bits_per_byte: float = 0.0
    nats_per_char: float = 0.0
    bytes_per_token: float = 0.0
    documents: tuple[DocumentScore, ...] = ()
    windows: dict[str, tuple] = field(default_factory=dict)  # columns: doc, start, end, n_scored, nll_sum
    leakage: LeakageResult | None = None
    warnings: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- model plumbing
def _is_bridge(model: Any) -> bool:
    return hasattr(model, "original_model") and hasattr(model, "hook_dict")


def _bridge_has_hooks(bridge: Any) -> bool:
    return any(len(hp._forward_hooks) or len(hp._forward_pre_hooks) for hp in bridge.hook_dict.values())


def model_context(model: Any) -> int:
    """n_ctx of a bridge or HF causal LM."""
    if _is_bridge(model):
        return int(model.cfg.n_ctx)
    cfg = model.config
    for k in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(cfg, k, None):
            return int(getattr(cfg, k))
    raise UserError(f"cannot tell the context length of {type(model).__name__}; pass --context")


def _resolve(model: Any, tokenizer: Any, logits_fn: LogitsFn | None) -> tuple[LogitsFn, Any, torch.device, int]:
    """(forward, tokenizer, device, d_vocab) for a bridge or HF model."""
    hf = model.original_model if _is_bridge(model) else model
    tok = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tok is None:
        raise UserError("perplexity needs a tokenizer: pass tokenizer= with an HF model")
    if logits_fn is None:
        if _is_bridge(model) and _bridge_has_hooks(model):
            logits_fn = model
        else:
            logits_fn = lambda ids: hf(ids).logits  # noqa: E731
    device = next(hf.parameters()).device
    d_vocab = int(getattr(hf.config, "vocab_size", None) or len(tok))
    return logits_fn, tok, device, d_vocab


# ----------------------------------------------------------------------------- tokenization
@dataclass(frozen=True)
class _Doc:
    index: int
    seq: list[int]  # model input sequence (BOS + ids, or ids)
    ids: list[int]  # eval token ids (no BOS) — what the leakage check sees
    n_bytes: int
    n_chars: int
    truncated: bool


def tokenize_documents(tok: Any, texts: Sequence[str], prepend_bos: bool = True,
                       max_tokens: int | None = None) -> tuple[list[_Doc], int, int | None]:
    """Tokenize, truncate to `max_tokens` eval tokens, count scored bytes/chars. → (docs, n_skipped, bos)."""
    bos = bos_id(tok) if prepend_bos else None  # the one BOS rule (interp.tokens)
    fast = bool(getattr(tok, "is_fast", False))
    enc = tok(list(texts), add_special_tokens=False)["input_ids"]
    docs, skipped, budget = [], 0, max_tokens
    for i, text in enumerate(texts):
        ids = list(enc[i])
        if budget is not None:
            if budget <= 0:
                break
            truncated = len(ids) > budget
            ids = ids[:budget]
            budget -= len(ids)
        else:
            truncated = False
        seq = [bos, *ids] if bos is not None else ids
        if len(seq) < 2:
            skipped += 1
            continue
        # the text whose tokens are scored: all of it, unless truncated or the first token is unscored
        first = 0 if bos is not None else 1
        if not truncated and first == 0:
            covered = text
        elif fast:  # char offsets of the scored tokens (re-tokenized only for this document)
            offsets = tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            covered = text[offsets[first][0] : offsets[len(ids) - 1][1]]
        else:
            covered = tok.decode(ids[first:])
        docs.append(_Doc(i, seq, ids, len(covered.encode("utf-8")), len(covered), truncated))
    return docs, skipped, bos


def _tokenize_chunked(tok: Any, texts: Sequence[str], progress: bool, chunk_chars: int = 1_000_000) -> list[list[int]]:
    """Token ids of many documents (batched calls of ~chunk_chars characters, with a progress bar)."""
    from interp.progress import progress_bar

    out: list[list[int]] = []
    batch: list[str] = []
    size = 0
    with progress_bar(total=sum(len(t) for t in texts), desc="leakage: tokenizing train text", unit="char",
              unit_scale=True, disable=not progress, file=sys.stderr) as bar:
        for k, t in enumerate(texts):
            batch.append(t)
            size += len(t)
            if size >= chunk_chars or k == len(texts) - 1:
                out.extend(tok(batch, add_special_tokens=False)["input_ids"])
                bar.update(size)
                batch, size = [], 0
    return out


# ----------------------------------------------------------------------------- scoring
@torch.no_grad()
def score_windows(logits_fn: LogitsFn, docs: Sequence[Sequence[int]], windows: Sequence[Window],
                  batch_size: int, device: torch.device | str = "cpu", pad_id: int = 0,
                  progress: bool = False) -> np.ndarray:
    """NLL sum (nats, float64) of each window's scored targets. docs: model input sequences."""
    from interp.progress import progress_bar

    order = sorted(range(len(windows)), key=lambda i: (-(windows[i].end - windows[i].start), i))
    out = np.zeros(len(windows), dtype=np.float64)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in progress_bar(batches, desc="perplexity", unit="batch", disable=not progress, file=sys.stderr):
        ws = [windows[i] for i in batch]
        T = ws[0].end - ws[0].start  # longest first
        x = torch.full((len(ws), T), pad_id, dtype=torch.long)  # (B, T), right-padded
        mask = torch.zeros((len(ws), T), dtype=torch.bool)  # (B, T) positions whose prediction is scored
        y = torch.zeros((len(ws), T), dtype=torch.long)  # (B, T) next-token targets
        for b, w in enumerate(ws):
            seg = torch.tensor(docs[w.doc][w.start : w.end], dtype=torch.long)
            n = w.end - w.start
            x[b, :n] = seg
            y[b, : n - 1] = seg[1:]
            mask[b, n - 1 - w.n_scored : n - 1] = True
        logits = logits_fn(x.to(device))  # (B, T, d_vocab)
        sel = logits[mask.to(logits.device)].float()  # (N, d_vocab), N scored positions, row-major
        nll = F.cross_entropy(sel, y[mask].to(sel.device), reduction="none").double().cpu()  # (N,)
        counts = mask.sum(1).tolist()
        for b, s in zip(batch, torch.split(nll, counts), strict=True):
            out[b] = float(s.sum())
    return out


def perplexity(model: Any, texts: Sequence[str], config: PerplexityConfig = PerplexityConfig(), *,
               tokenizer: Any = None, logits_fn: LogitsFn | None = None,
               train_texts: Sequence[str] | None = None, progress: bool = False) -> PerplexityResult:
    """Sliding-window perplexity of `model` (TransformerBridge or HF causal LM) on documents `texts`.

    `train_texts`: the model's training documents → n-gram leakage check on the eval tokens.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of documents, not one string")
    if not texts or not any(t.strip() for t in texts):
        raise UserError("eval text is empty; pass a file or split with some text")
    fwd, tok, device, d_vocab = _resolve(model, tokenizer, logits_fn)
    n_ctx = model_context(model)
    context = config.context or min(n_ctx, MAX_DEFAULT_CONTEXT)
    if context > n_ctx:
        raise UserError(f"--context {context} exceeds the model's n_ctx {n_ctx}; use --context {n_ctx} or less")
    if context < 2:
        raise UserError(f"context {context} is too small; need at least 2 positions")
    stride = config.stride or context - 1
    if stride > context - 1:
        raise UserError(f"--stride {stride} must be at most context - 1 = {context - 1} "
                        f"(use {context - 1} for non-overlapping scoring)")
    batch_size = config.batch_size or max(1, min(MAX_AUTO_BATCH, LOGITS_BUDGET // (context * d_vocab)))

    docs, skipped, bos = tokenize_documents(tok, texts, config.prepend_bos, config.max_tokens)
    if not docs:
        raise UserError("eval text has no tokens to score (each document needs >= 1 token, >= 2 without BOS)")
    n_scored = sum(len(d.seq) - 1 for d in docs)
    if n_scored < MIN_SCORED_TOKENS:
        raise UserError(f"eval text gives only {n_scored} scored token(s); a perplexity needs at least "
                        f"{MIN_SCORED_TOKENS} (and an interval far more) — pass more text")
    leak = None
    if train_texts is not None:
        train_ids = _tokenize_chunked(tok, train_texts, progress)
        n = config.leakage_n or auto_n(sum(d.n_bytes for d in docs) / sum(len(d.ids) for d in docs))
        leak = leakage_check([d.ids for d in docs], NgramIndex(train_ids, n),
                             threshold=config.leakage_threshold)

    windows = [w for k, d in enumerate(docs) for w in plan_windows(len(d.seq), context, stride, k)]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (bos or 0)
    w_nll = score_windows(fwd, [d.seq for d in docs], windows, batch_size, device, pad_id, progress)

    doc_nll = np.zeros(len(docs), dtype=np.float64)
    doc_tok = np.zeros(len(docs), dtype=np.int64)
    for w, v in zip(windows, w_nll, strict=True):
        doc_nll[w.doc] += v
        doc_tok[w.doc] += w.n_scored
    n_tokens = int(doc_tok.sum())
    n_bytes = sum(d.n_bytes for d in docs)
    n_chars = sum(d.n_chars for d in docs)
    nll_sum = float(doc_nll.sum())
    nll_tok = nll_sum / n_tokens
    bpb = nll_sum / math.log(2) / n_bytes if n_bytes else float("nan")
    warnings = []
    implausible = plausibility_warning(bpb)
    if implausible:
        warnings.append(implausible)
    if leak is not None and leak.flagged:
        warnings.append(leak.message)
    return PerplexityResult(
        context=context, stride=stride, batch_size=batch_size, prepend_bos=bos is not None, bos_token_id=bos,
        n_documents=len(docs), n_skipped_documents=skipped, n_windows=len(windows),
        n_tokens=n_tokens, n_bytes=n_bytes, n_chars=n_chars, nll_sum=nll_sum, nll_per_token=nll_tok,
        perplexity=math.exp(nll_tok), bits_per_byte=bpb,
        nats_per_char=nll_sum / n_chars if n_chars else float("nan"),
        bytes_per_token=n_bytes / n_tokens,
        documents=tuple(DocumentScore(d.index, int(doc_tok[k]), d.n_bytes, d.n_chars, float(doc_nll[k]),
                                      d.truncated) for k, d in enumerate(docs)),
        windows={"doc": tuple(docs[w.doc].index for w in windows), "start": tuple(w.start for w in windows),
                 "end": tuple(w.end for w in windows), "n_scored": tuple(w.n_scored for w in windows),
                 "nll_sum": tuple(float(v) for v in w_nll)},
        leakage=leak, warnings=tuple(warnings),
    )
