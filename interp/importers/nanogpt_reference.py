"""nanoGPT's model (and its CPU training recipe), re-implemented faithfully — the reference the nanoGPT
importer (`interp.importers.nanogpt`) is tested against, and the baseline of `benchmarks/train_throughput.py`.

After karpathy/nanoGPT `model.py` (MIT), with its module names, so `GPT(...).state_dict()` has exactly the
keys of a real nanoGPT `ckpt.pt['model']` (`transformer.wte.weight`, `transformer.h.0.attn.c_attn.weight`,
`transformer.h.0.mlp.c_fc.weight`, ..., `lm_head.weight` tied to `transformer.wte.weight`): pre-LN GPT-2
blocks, LayerNorm with optional bias (eps 1e-5), fused causal SDPA attention, 4x exact-GELU MLP, tied
embeddings, N(0, 0.02) init with 0.02/sqrt(2 n_layer) for every `c_proj.weight`. One deliberate difference:
`forward(idx)` without targets returns the logits of EVERY position (nanoGPT returns only the last one, an
inference shortcut), so importers can be compared position by position.

`NanoTrainer` is its `train.py` recipe for `config/train_shakespeare_char.py` on CPU: char-level vocabulary,
batches of random windows (`torch.randint`), AdamW(β=(0.9, 0.99), wd 0.1 on ≥2-D params), warmup 100 +
cosine to lr/10, grad clip 1.0, val loss = mean of `eval_iters` random val batches.
Written here (not fetched) because the machines have no network; kept minimal and faithful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class NanoConfig:
    """nanoGPT's `GPTConfig` (its `model_args` in a checkpoint)."""

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.attn_dropout, self.resid_dropout = nn.Dropout(c.dropout), nn.Dropout(c.dropout)
        self.n_head, self.n_embd, self.dropout = c.n_head, c.n_embd, c.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d_head)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                                           is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))


class MLP(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(c.n_embd, eps=1e-5, bias=c.bias), CausalSelfAttention(c)
        self.ln_2, self.mlp = nn.LayerNorm(c.n_embd, eps=1e-5, bias=c.bias), MLP(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.c = self.config = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList(Block(c) for _ in range(c.n_layer)),
            ln_f=nn.LayerNorm(c.n_embd, eps=1e-5, bias=c.bias),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) -> (logits (B, T, vocab_size), loss or None)."""
        T = idx.shape[1]
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T, device=idx.device)))
        for b in self.transformer.h:
            x = b(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


class NanoTrainer:
    """nanoGPT's train.py loop, stepwise (so a benchmark can interleave it with another trainer)."""

    def __init__(self, text: str, cfg: NanoConfig | None = None, batch_size: int = 12, max_iters: int = 2000,
                 lr: float = 1e-3, min_lr: float = 1e-4, warmup_iters: int = 100, seed: int = 1337) -> None:
        chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(chars)}
        data = torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        n = int(0.9 * len(data))
        self.train_data, self.val_data = data[:n], data[n:]
        torch.manual_seed(seed)
        self.cfg = cfg or NanoConfig(vocab_size=len(chars))
        self.model = GPT(self.cfg)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                     lr=lr, betas=(0.9, 0.99))
        self.batch_size, self.max_iters, self.lr, self.min_lr, self.warmup = batch_size, max_iters, lr, min_lr, warmup_iters
        self.iter = 0
        self.gen = torch.Generator().manual_seed(seed)

    def get_batch(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.train_data if split == "train" else self.val_data
        bs = self.cfg.block_size
        ix = torch.randint(len(d) - bs, (self.batch_size,), generator=self.gen)
        return torch.stack([d[i : i + bs] for i in ix]), torch.stack([d[i + 1 : i + 1 + bs] for i in ix])

    def get_lr(self, it: int) -> float:
        if it < self.warmup:
            return self.lr * (it + 1) / (self.warmup + 1)
        ratio = min(1.0, (it - self.warmup) / (self.max_iters - self.warmup))
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (self.lr - self.min_lr)

    def step(self) -> float:
        for g in self.opt.param_groups:
            g["lr"] = self.get_lr(self.iter)
        x, y = self.get_batch("train")
        _, loss = self.model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.iter += 1
        return loss.item()

    @torch.no_grad()
    def val_loss(self, eval_iters: int = 200) -> float:
        """nats per character (char-level model), mean over `eval_iters` random val batches."""
        self.model.eval()
        losses = [self.model(*self.get_batch("val"))[1].item() for _ in range(eval_iters)]
        self.model.train()
        return sum(losses) / len(losses)
