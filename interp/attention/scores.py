"""Per-head attention scores computed from attention patterns (pure tensor functions).

Every function takes patterns shaped `(..., T, T)` — rows are query positions, columns key positions,
each row a probability distribution over keys (causal: zeros above the diagonal) — and returns one
number per leading index `(...)`, e.g. `(n_layers, n_heads)` for a stack of one prompt's patterns.

Row-averaged scores skip query position 0: with a causal mask that row has a single key, so it is
the same `[1, 0, 0, ...]` in every head of every model and would only dilute the average.

    score                 definition (mean over query positions q = 1 .. T-1)
    --------------------  ------------------------------------------------------------------------
    entropy               H(A[q, :]) = -sum_k A[q,k] ln A[q,k]     (nats; 0 = one key, ln(q+1) = uniform)
    prev_token            A[q, q-1]                                 (1 = a perfect previous-token head)
    sink (first token)    A[q, 0]                                   (1 = everything parked on position 0)
    js_distance(A, B)     sqrt(JSD_2(A[q, :], B[q, :]))             (base 2, in [0, 1]; 0 = identical)

Duplicate-token score: on the same repeated random sequence, a second-half position i (token x_j, first seen
at j = i - S) attends to that earlier occurrence, key i - S; the score is the mean of A[i, i - S] over the
second half (`duplicate_token_score`). On an arbitrary prompt, `duplicate_token_score_on` averages, over the
queries whose token occurred before, the attention mass on those earlier occurrences.

TransformerLens convention (`transformer_lens.head_detector.detect_head`, error measure "mul"): a 0/1
detection pattern D (T, T) and score = sum(A * D) / sum(A) over ALL rows, row 0 included — so its
previous-token score is ours × (T-1)/T. `detection_score` + `*_detection_pattern` reproduce it exactly from
our cached patterns (tests/unit/test_formation.py checks them against `detect_head` on a 4.x bridge).

Induction score (as TransformerLens's head detector / `induction_loss`): feed `offset` optional BOS
tokens followed by a random token sequence of length S repeated twice; an induction head at a
second-half position i (token x_j, j = i - S) attends to the token *after* x_j's first occurrence,
key position i - S + 1. The score is the mean of A[i, i - S + 1] over the S second-half positions
(1 = perfect induction head). `induction_tokens` samples the sequence (see its docstring for the choices).
"""

from __future__ import annotations

import math

import torch

from interp.errors import UserError


def _rows(pattern: torch.Tensor) -> torch.Tensor:
    """Query rows 1..T-1 in float64. (..., T, T) -> (..., T-1, T)."""
    if pattern.shape[-1] < 2:
        raise UserError("need at least 2 tokens to score attention heads; use a longer prompt")
    return pattern[..., 1:, :].double()


def entropy(pattern: torch.Tensor) -> torch.Tensor:
    """Mean attention entropy over query positions 1..T-1, in nats. (..., T, T) -> (...)."""
    p = _rows(pattern).clamp_min(0)
    return (-torch.special.xlogy(p, p).sum(-1)).mean(-1)


def prev_token_score(pattern: torch.Tensor) -> torch.Tensor:
    """Mean attention from position q to q-1, over q = 1..T-1. (..., T, T) -> (...)."""
    if pattern.shape[-1] < 2:
        raise UserError("need at least 2 tokens to score attention heads; use a longer prompt")
    return pattern.double().diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)


def sink_score(pattern: torch.Tensor) -> torch.Tensor:
    """Mean attention to the first position (the 'attention sink'), over q = 1..T-1. (..., T, T) -> (...)."""
    return _rows(pattern)[..., 0].mean(-1)


def induction_score(pattern: torch.Tensor, seq_len: int, offset: int = 1) -> torch.Tensor:
    """Mean A[i, i-S+1] over second-half positions i of `offset` + [S random tokens] × 2. (..., T, T) -> (...)."""
    S = seq_len
    T = pattern.shape[-1]
    if S < 1 or T != offset + 2 * S:
        raise ValueError(f"pattern length {T} != offset {offset} + 2 * seq_len {S}")
    q = torch.arange(offset + S, offset + 2 * S)  # second-half query positions
    return pattern.double()[..., q, q - S + 1].mean(-1)


def duplicate_token_score(pattern: torch.Tensor, seq_len: int, offset: int = 1) -> torch.Tensor:
    """Mean A[i, i-S] over second-half positions i of `offset` + [S random tokens] × 2. (..., T, T) -> (...)."""
    S = seq_len
    T = pattern.shape[-1]
    if S < 1 or T != offset + 2 * S:
        raise ValueError(f"pattern length {T} != offset {offset} + 2 * seq_len {S}")
    q = torch.arange(offset + S, offset + 2 * S)
    return pattern.double()[..., q, q - S].mean(-1)


def duplicate_token_score_on(pattern: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Mean over queries q whose token occurred earlier of the attention on those earlier occurrences.
    (..., T, T), tokens (T,) -> (...); NaN when no token of the prompt repeats."""
    D = duplicate_token_detection_pattern(tokens)  # (T, T)
    has = D.sum(-1) > 0  # (T,)
    if not bool(has.any()):
        return torch.full(pattern.shape[:-2], float("nan"), dtype=torch.float64)
    mass = (pattern.double() * D).sum(-1)  # (..., T)
    return mass[..., has].mean(-1)


def previous_token_detection_pattern(n: int) -> torch.Tensor:
    """TransformerLens's previous-token detection pattern: ones at (q, q-1). -> (n, n) float64."""
    D = torch.zeros(n, n, dtype=torch.float64)
    D[torch.arange(1, n), torch.arange(0, n - 1)] = 1.0
    return D


def duplicate_token_detection_pattern(tokens: torch.Tensor) -> torch.Tensor:
    """TransformerLens's duplicate-token pattern: ones at (q, k) for k < q with tokens[k] == tokens[q]. -> (T, T)."""
    t = tokens.reshape(-1)
    return torch.tril((t[:, None] == t[None, :]).double(), diagonal=-1)


def induction_detection_pattern(tokens: torch.Tensor) -> torch.Tensor:
    """TransformerLens's induction pattern: the duplicate-token pattern shifted one key to the right."""
    D = duplicate_token_detection_pattern(tokens)
    out = torch.zeros_like(D)
    out[:, 1:] = D[:, :-1]
    return torch.tril(out)


def detection_score(pattern: torch.Tensor, detection: torch.Tensor, *, exclude_bos: bool = False,
                    exclude_current_token: bool = False) -> torch.Tensor:
    """TransformerLens's "mul" score: sum(A * D) / sum(A), with key 0 / the diagonal zeroed when excluded.
    (..., T, T), (T, T) -> (...)."""
    a = pattern.double().clone()
    if exclude_bos:
        a[..., :, 0] = 0
    if exclude_current_token:
        a.diagonal(dim1=-2, dim2=-1).zero_()
    return (a * detection).sum((-2, -1)) / a.sum((-2, -1))


def js_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon distance (base 2: sqrt of the JS divergence in bits, in [0, 1]) between
    corresponding rows of two pattern stacks, averaged over query positions 1..T-1. (..., T, T) x2 -> (...)."""
    if a.shape != b.shape:
        raise ValueError(f"pattern shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    p, q = _rows(a).clamp_min(0), _rows(b).clamp_min(0)
    m = 0.5 * (p + q)

    def kl(x: torch.Tensor) -> torch.Tensor:  # KL(x || m) in nats; 0 ln 0 = 0, and x > 0 implies m > 0
        return (torch.special.xlogy(x, x) - torch.special.xlogy(x, m)).sum(-1)

    jsd_bits = (0.5 * kl(p) + 0.5 * kl(q)) / math.log(2)
    return jsd_bits.clamp(0.0, 1.0).sqrt().mean(-1)


def candidate_token_ids(tokenizer, d_vocab: int) -> torch.Tensor:
    """Token ids usable for random induction sequences: ids < min(d_vocab, len(tokenizer)) minus special
    and added tokens (BOS/EOS/PAD, Gemma's <unusedN>, image/control tokens) — those are either never seen
    in ordinary text or change the model's behaviour (a BOS mid-sequence resets attention)."""
    n = min(int(d_vocab), len(tokenizer)) if tokenizer is not None else int(d_vocab)
    keep = torch.ones(n, dtype=torch.bool)
    if tokenizer is not None:
        excluded = set(getattr(tokenizer, "all_special_ids", []) or [])
        excluded |= set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        for i in excluded:
            if 0 <= int(i) < n:
                keep[int(i)] = False
    return keep.nonzero().flatten()


def induction_tokens(candidates: torch.Tensor, seq_len: int, batch: int, seed: int,
                     bos_id: int | None = None) -> torch.Tensor:
    """Random repeated sequences for the induction score. -> (batch, [1 +] 2 * seq_len) int64.

    Choices: each of the `batch` rows draws S = `seq_len` tokens uniformly from `candidates` WITHOUT
    replacement (so every token occurs once per half and the induction target is unambiguous — this is
    why S is capped at the number of candidates on tiny vocabularies), repeats them, and prepends
    `bos_id` when given. Seeded with its own CPU generator, so the sequence depends only on
    (candidates, seq_len, batch, seed), not on global RNG state.
    """
    if seq_len < 1 or seq_len > len(candidates):
        raise UserError(
            f"induction sequence length {seq_len} must be in 1..{len(candidates)} "
            "(the number of non-special tokens in the vocabulary)"
        )
    g = torch.Generator().manual_seed(int(seed))
    rows = [candidates[torch.randperm(len(candidates), generator=g)[:seq_len]] for _ in range(batch)]
    half = torch.stack(rows)  # (batch, S)
    toks = torch.cat([half, half], dim=1)  # (batch, 2S)
    if bos_id is not None:
        toks = torch.cat([torch.full((batch, 1), int(bos_id), dtype=toks.dtype), toks], dim=1)
    return toks.long()
