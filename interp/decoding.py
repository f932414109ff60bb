"""Autoregressive decoding: greedy, temperature and top-k sampling, seeded.

`generate` works on any `logits_fn(tokens) -> logits` — an HF model, a `TransformerBridge`, or a bridge
wrapped in ablation hooks — so clean and intervened generations share one code path. No KV cache:
the models here are small and the generations short; each step re-runs the (context-truncated) prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from interp.errors import UserError

LogitsFn = Callable[[torch.Tensor], torch.Tensor]  # (B, T) int64 -> (B, T, d_vocab)


@dataclass(frozen=True)
class Decoding:
    """How to pick the next token. `spec` strings: "greedy", "t0.7" (temperature), "k50" (top-k, T=1),
    "k50t0.8" (top-k with temperature)."""

    temperature: float = 0.0  # 0 → greedy
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k <= 0:
            raise UserError(f"top-k must be a positive integer, got {self.top_k}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0 and self.top_k is None

    @property
    def name(self) -> str:
        if self.greedy:
            return "greedy"
        s = f"k{self.top_k}" if self.top_k is not None else ""
        if self.temperature not in (0.0, 1.0) or not s:
            s += f"t{self.temperature:g}"
        return s

    @classmethod
    def parse(cls, spec: str) -> Decoding:
        s = spec.strip().lower()
        if s == "greedy":
            return cls()
        m = re.fullmatch(r"(?:k(\d+))?(?:t(\d+(?:\.\d*)?|\.\d+))?", s)
        if not s or not m or not (m.group(1) or m.group(2)):
            raise UserError(f"bad decoding {spec!r}; use greedy, t0.7 (temperature), k50 (top-k) or k50t0.8")
        k = int(m.group(1)) if m.group(1) else None
        t = float(m.group(2)) if m.group(2) else 1.0
        return cls(temperature=t, top_k=k)


def next_token(logits: torch.Tensor, decoding: Decoding, generator: torch.Generator | None) -> torch.Tensor:
    """logits (B, d_vocab) → token ids (B,)."""
    if decoding.greedy:
        return logits.argmax(-1)
    logits = logits.float()
    if decoding.top_k is not None:
        k = min(decoding.top_k, logits.shape[-1])
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if decoding.temperature == 0.0:  # top-k with T=0 is greedy
        return logits.argmax(-1)
    probs = torch.softmax(logits / decoding.temperature, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


MAX_NEW_TOKENS = 100_000  # upper bound for every command that generates (generate -n, ablate -n)
PROGRESS_MIN_TOKENS = 1_000


@torch.no_grad()
def generate(
    logits_fn: LogitsFn,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    n_ctx: int,
    decoding: Decoding = Decoding(),
    seed: int = 0,
    eos_token_id: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """input_ids (B, T) → (B, T + new) token ids. Stops early only if every row emitted `eos_token_id`.

    `progress`: a tqdm bar on stderr (shown for long generations, `PROGRESS_MIN_TOKENS` or more)."""
    import sys

    from tqdm import tqdm

    g = torch.Generator()
    g.manual_seed(seed)
    ids = input_ids
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    show = progress and max_new_tokens >= PROGRESS_MIN_TOKENS
    for _ in tqdm(range(max_new_tokens), desc="generate", unit="tok", file=sys.stderr, leave=False,
                  disable=None if show else True, mininterval=1.0):
        logits = logits_fn(ids[:, -n_ctx:])[:, -1, :]  # (B, d_vocab)
        nxt = next_token(logits, decoding, g)
        if eos_token_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, eos_token_id), nxt)
            done |= nxt == eos_token_id
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if eos_token_id is not None and bool(done.all()):
            break
    return ids


def hf_logits_fn(model) -> LogitsFn:
    """Adapter: an HF causal LM as a logits function."""
    return lambda ids: model(ids).logits


def distinct_n(tokens: list, n: int) -> float:
    """Fraction of distinct n-grams among all n-grams (1.0 = no repetition; 0 if no n-grams)."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
