"""nanoGPT's model and CPU training recipe, re-implemented as the benchmark baseline.

After karpathy/nanoGPT `model.py` (MIT): pre-LN GPT-2 blocks with biases, fused causal SDPA attention,
4x GELU MLP, tied embeddings, N(0, 0.02) init with 1/sqrt(2 n_layer) scaled residual projections; and
its `train.py` recipe for `config/train_shakespeare_char.py` on CPU: char-level vocabulary, batches of
random windows (`torch.randint`), AdamW(β=(0.9, 0.99), wd 0.1 on ≥2-D params), warmup 100 + cosine to
lr/10 over `lr_decay_iters`, grad clip 1.0, val loss = mean of `eval_iters` random val batches.
Written here (not fetched) because the benchmark machine has no network; kept minimal and faithful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class NanoConfig:
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
        self.n_head, self.n_embd = c.n_head, c.n_embd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d_head)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(c.n_embd, bias=c.bias), CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias), nn.GELU(),
                                 nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c: NanoConfig) -> None:
        super().__init__()
        self.c = c
        self.wte, self.wpe = nn.Embedding(c.vocab_size, c.n_embd), nn.Embedding(c.block_size, c.n_embd)
        self.h = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("attn.c_proj.weight") or n.endswith("mlp.2.weight"):
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
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.h:
            x = b(x)
        logits = self.lm_head(self.ln_f(x))
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
