"""Patching metrics: what a patched run is scored by, per prompt pair (one value per row).

    logit-diff: ANSWER, WRONG   logit(answer) − logit(wrong) at the last position
    logprob: ANSWER             log P(answer | prompt) at the last position
    loss                        mean next-token loss (nats) of the CLEAN text's tokens, positions 0..T−2

ANSWER / WRONG are words; each is the one token the tokenizer gives the word right after the clean prompt,
leading space included (`interp.tokens.single_token`): "his" after "John lost" is " his". A pair in a JSONL
file may give its own `answer` / `wrong`, which win over the words in `--metric`.

Last-position metrics read only the final residual's last row: the cost of the unembedding is one
(rows, d_model) × (d_model, d_vocab) product instead of T of them (`needs_all_positions` is False), which
is what lets the batched exact patcher and AtP skip the full-sequence unembedding. `loss` needs every position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interp.errors import UserError

METRICS = ("logit-diff", "logprob", "loss")
SYNTAX = 'use "logit-diff: ANSWER, WRONG", "logprob: ANSWER" or "loss"'


@dataclass(frozen=True)
class MetricSpec:
    """A parsed `--metric`: its kind and the words given with it (answer/wrong may come from the pairs)."""

    kind: str
    answer: str | None = None
    wrong: str | None = None

    @classmethod
    def parse(cls, text: str) -> MetricSpec:
        """'logit-diff: his, her' | 'logit-diff' | 'logprob: his' | 'loss' → MetricSpec (UserError otherwise)."""
        raw = str(text).strip()
        name, _, rest = raw.partition(":")
        name = name.strip().lower()
        if name not in METRICS:
            raise UserError(f"unknown metric {raw!r}; {SYNTAX}")
        words = [w.strip() for w in rest.split(",")] if rest.strip() else []
        if any(not w for w in words):
            raise UserError(f"empty word in metric {raw!r}; {SYNTAX}")
        want = {"logit-diff": 2, "logprob": 1, "loss": 0}[name]
        if words and len(words) != want:
            raise UserError(f"metric {name} takes {want} word(s), got {len(words)} in {raw!r}; {SYNTAX}")
        if name == "loss" and words:
            raise UserError(f"metric loss takes no words, got {raw!r}; {SYNTAX}")
        return cls(name, *(words + [None, None])[:2])

    @property
    def needs_all_positions(self) -> bool:
        return self.kind == "loss"

    @property
    def n_words(self) -> int:
        return {"logit-diff": 2, "logprob": 1, "loss": 0}[self.kind]

    def __str__(self) -> str:
        words = [w for w in (self.answer, self.wrong) if w is not None]
        return self.kind + (": " + ", ".join(words) if words else "")


@dataclass(frozen=True)
class RowTargets:
    """What the metric reads for a batch of B rows: answer/wrong ids (B,) and the clean tokens (B, T)."""

    answer: torch.Tensor | None  # (B,) long
    wrong: torch.Tensor | None  # (B,) long
    clean_tokens: torch.Tensor  # (B, T) long — the loss targets

    def repeat(self, k: int) -> RowTargets:
        """Targets for a batch expanded k times (copy-major: row c·B + b is row b of copy c)."""
        rep = (lambda t: None if t is None else t.repeat(k)) if k > 1 else (lambda t: t)
        return RowTargets(rep(self.answer), rep(self.wrong), self.clean_tokens.repeat(k, 1))


def metric_from_last_logits(kind: str, logits: torch.Tensor, tg: RowTargets) -> torch.Tensor:
    """logits at the last position (B, V) → metric per row (B,), float32 (differentiable)."""
    lg = logits.float()
    rows = torch.arange(lg.shape[0], device=lg.device)
    if kind == "logit-diff":
        return lg[rows, tg.answer] - lg[rows, tg.wrong]
    if kind == "logprob":
        return lg[rows, tg.answer] - torch.logsumexp(lg, dim=-1)
    raise ValueError(kind)


def metric_from_logits(kind: str, logits: torch.Tensor, tg: RowTargets) -> torch.Tensor:
    """Full logits (B, T, V) → metric per row (B,)."""
    if kind == "loss":
        lg = logits[:, :-1].float()
        tok = tg.clean_tokens[:, 1:].to(lg.device)
        nll = torch.logsumexp(lg, dim=-1) - lg.gather(-1, tok[:, :, None]).squeeze(-1)  # (B, T-1)
        return nll.mean(dim=1)
    return metric_from_last_logits(kind, logits[:, -1], tg)


def final_logits(bridge, resid: torch.Tensor) -> torch.Tensor:
    """The model's own final norm + unembedding applied to a final-residual slice (..., d_model) → (..., V).

    Equal to the full forward's logits at those positions (tested for GPT-2 and Gemma); a final logit
    soft-cap (Gemma-2) is applied when the config has one."""
    logits = bridge.unembed(bridge.ln_final(resid))
    cap = getattr(getattr(bridge.original_model, "config", None), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def spearman(x, y) -> float | None:
    """Spearman rank correlation (average ranks for ties); None when fewer than 3 points or a constant side."""
    import numpy as np

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3:
        return None
    return pearson(_ranks(a), _ranks(b))


def pearson(x, y) -> float | None:
    """Pearson correlation; None when fewer than 3 points or either side is constant."""
    import numpy as np

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3:
        return None
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else None


def _ranks(v):
    import numpy as np

    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=float)
    ranks[order] = np.arange(v.size, dtype=float)
    for val in np.unique(v):  # average ranks of ties
        m = v == val
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    return ranks


def topk_recall(exact, estimate, k_true: int = 5, k_est: int = 10) -> float | None:
    """Share of the exact top-`k_true` components (by |effect|) found in the estimate's top-`k_est` (by |score|)."""
    import numpy as np

    e, s = np.abs(np.asarray(exact, dtype=float)), np.abs(np.asarray(estimate, dtype=float))
    if e.size == 0:
        return None
    kt, ke = min(k_true, e.size), min(k_est, e.size)
    true = set(np.argsort(-e, kind="mergesort")[:kt].tolist())
    est = set(np.argsort(-s, kind="mergesort")[:ke].tolist())
    return len(true & est) / kt
