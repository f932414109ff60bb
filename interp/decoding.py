"""Autoregressive decoding: greedy, temperature and top-k sampling, seeded.

`generate` works on any `logits_fn(tokens) -> logits` — an HF model, a `TransformerBridge`, or a bridge
wrapped in ablation hooks — so clean and intervened generations share one code path. No KV cache:
the models here are small and the generations short; each step re-runs the (context-truncated) prefix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.results import FrozenResult

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

    `progress`: a bar on stderr (interp.progress; shown for long generations, `PROGRESS_MIN_TOKENS` or more)."""
    import sys

    from interp.progress import progress_bar

    g = torch.Generator()
    g.manual_seed(seed)
    ids = input_ids
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    show = progress and max_new_tokens >= PROGRESS_MIN_TOKENS
    for _ in progress_bar(range(max_new_tokens), desc="generate", unit="tok", file=sys.stderr, leave=False,
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


# ----------------------------------------------------------------------------- `interp generate`


@dataclass(frozen=True)
class Generation(FrozenResult):
    kind: str = "generation"
    model: str = ""
    prompt: str = ""
    decoding: str = "greedy"
    seed: int = 0
    prompt_tokens: int = 0
    prompt_tokens_dropped: int = 0
    n_ctx: int = 0
    slid_window: bool = False  # generation went past n_ctx: the model saw only the last n_ctx tokens
    completion: str = ""
    completion_tokens: tuple[int, ...] = ()
    distinct_1: float = 0.0
    distinct_2: float = 0.0


def generate_text(model: Any, prompt: str, *, max_new_tokens: int = 40, temperature: float = 0.0,
                  top_k: int | None = None, device: str = "cpu", seed: int = 0, progress: bool = False) -> Generation:
    """Continue `prompt` with greedy (temperature 0), temperature or top-k decoding (seeded).

    `model` is a model reference (run dir, HF dir, hub id, ...) or a loaded HF causal LM with `.tokenizer` set.
    Past the context window the window slides (as nanoGPT's `generate`): each new token sees the last n_ctx
    tokens. The prompt keeps its last n_ctx − 1 tokens (BOS first, `interp.tokens`).
    """
    from interp import hooked
    from interp.tokens import encode_prompt

    if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise UserError(f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}, got {max_new_tokens!r}")
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError("prompt is empty; pass some text to continue")
    dec = Decoding(temperature=temperature or (1.0 if top_k else 0.0), top_k=top_k)  # top-k alone: T = 1
    if not isinstance(model, (str, os.PathLike)) and getattr(model, "tokenizer", None) is None:
        raise UserError("this model has no tokenizer; save one next to the weights (tokenizer.save_pretrained)")
    hf, tok, info = hooked.load_hf_model(model, device)
    name = info.name
    n_ctx = int(getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", 1024))
    p = encode_prompt(tok, prompt, n_ctx=n_ctx, reserve=1)
    ids = torch.tensor([p.ids], device=device)  # (1, T)
    full = generate(hf_logits_fn(hf), ids, max_new_tokens, n_ctx, dec, seed=seed, progress=progress)
    new = full[0, ids.shape[1]:].tolist()
    return Generation(model=name, prompt=prompt, decoding=dec.name, seed=seed, prompt_tokens=len(p.ids),
                      prompt_tokens_dropped=p.n_dropped, n_ctx=n_ctx, slid_window=len(p.ids) + len(new) > n_ctx,
                      completion=tok.decode(new), completion_tokens=tuple(new),
                      distinct_1=distinct_n(new, 1), distinct_2=distinct_n(new, 2))
