"""In-context-learning score (Olsson et al. 2022) and the token sampling for the induction score.

ICL score: how much better a model predicts tokens late in its context than early ones — Olsson et al.
take the loss at the 500th token minus the loss at the 50th; it drops (becomes negative) when induction
heads form. Small contexts here, so the two points become two bands of positions of each window of T tokens:

    early = positions max(1, T // 16) .. max(1, T // 8)     late = positions 7T // 8 .. T - 1
    icl(window) = mean loss over late − mean loss over early      (nats; negative = context helps)

The score is the mean over windows, with a seeded percentile bootstrap interval over windows (the same windows
at every checkpoint, so two checkpoints' scores are paired). The windows are consecutive, non-overlapping
n_ctx-token slices of a held-out text (the run's val split for an interp run), like the trainer's val loss.

Induction sampling: `frequent_token_ids` picks the token ids that occur most often in a text the model was
trained on (its train split), so the induction score's random repeated sequences use tokens the model has
seen — a random draw over a BPE vocabulary mostly picks pieces a small model never saw, and scores ~0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interp.errors import UserError

N_BOOT = 1000


def bands(T: int) -> tuple[range, range]:
    """(early, late) query positions of a T-token window (loss at position p predicts token p + 1)."""
    if T < 8:
        raise UserError(f"the in-context-learning score needs windows of at least 8 tokens, got {T}")
    e0, e1 = max(1, T // 16), max(1, T // 8)
    return range(e0, e1 + 1), range(7 * T // 8, T)


def text_windows(tokenizer, text: str, n_ctx: int, n_windows: int) -> torch.Tensor:
    """The first `n_windows` consecutive non-overlapping (n_ctx + 1)-token windows of `text`. -> (W, n_ctx + 1)."""
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    W = min(n_windows, len(ids) // (n_ctx + 1))
    if W < 2:
        raise UserError(f"the text for the in-context-learning score has {len(ids)} tokens, fewer than two windows of "
                        f"{n_ctx + 1}; give a longer text")
    return torch.tensor(ids[: W * (n_ctx + 1)], dtype=torch.long).reshape(W, n_ctx + 1)


@dataclass(frozen=True)
class ICLScore:
    score: float  # mean over windows of (late − early) loss, nats
    low: float  # bootstrap 95% interval
    high: float
    loss_early: float
    loss_late: float
    loss: float  # mean loss over all positions of the windows


def icl_from_losses(losses: torch.Tensor, seed: int = 0) -> ICLScore:
    """ICL score from per-position losses (W, T) (pure; the bootstrap is seeded)."""
    from scipy.stats import bootstrap

    early, late = bands(losses.shape[1])
    le = losses[:, list(early)].double().mean(1)  # (W,)
    ll = losses[:, list(late)].double().mean(1)
    diff = (ll - le).numpy()
    ci = bootstrap((diff,), lambda d, axis=-1: d.mean(axis=axis), n_resamples=N_BOOT, method="percentile",
                   confidence_level=0.95, random_state=seed, vectorized=True).confidence_interval
    return ICLScore(float(diff.mean()), float(ci.low), float(ci.high), float(le.mean()), float(ll.mean()),
                    float(losses.double().mean()))


@torch.no_grad()
def position_losses(logits: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """Next-token loss at every position. logits (W, T, d_vocab), windows (W, T + 1) -> (W, T)."""
    return F.cross_entropy(logits.float().transpose(1, 2), windows[:, 1:], reduction="none")


def frequent_token_ids(tokenizer, text: str, n: int, d_vocab: int) -> torch.Tensor:
    """Up to `n` non-special token ids (< d_vocab) that occur at least twice in `text`, most frequent first
    (ties by id). -> (≤ n,) int64."""
    counts = Counter(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
    special = set(getattr(tokenizer, "all_special_ids", []) or []) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    ranked = sorted(((c, i) for i, c in counts.items() if c >= 2 and i not in special and 0 <= i < d_vocab),
                    key=lambda ci: (-ci[0], ci[1]))
    return torch.tensor([i for _, i in ranked[:n]], dtype=torch.long)
