"""Logit lens and tuned lens: read every layer's residual as a next-token distribution.

    logit lens   (nostalgebraist 2020)  logits_L = unembed(ln_final(resid_post_L))
    tuned lens   (Belrose et al. 2023)  logits_L = unembed(ln_final(h + A_L h + b_L)),  h = resid_post_L,
                 one affine translator (A_L, b_L) per layer, A_L = 0 and b_L = 0 at the start (= the logit lens),
                 trained to minimise KL(p_final ‖ p_L) on the model's own text windows; the last layer keeps
                 the identity (its logit lens IS the model's output).

The final norm + unembedding is the model's own (`interp.patching.metrics.final_logits`), so the logit lens
at the last layer equals the model's logits (tested). Translators are saved beside the model as
`tuned_lens.safetensors` (metadata: tokens trained on, text hash, seed) and reused when present.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from interp.patching.metrics import final_logits

LENS_FILE = "tuned_lens.safetensors"


def resid_posts(bridge: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Every layer's residual (n_layers, B, T, d_model) from one forward that stops at ln_final."""
    n = int(bridge.cfg.n_layers)
    box: dict[int, torch.Tensor] = {}

    class Stop(Exception):
        pass

    def keep(layer: int):
        def fn(t: torch.Tensor, hook: Any) -> torch.Tensor:
            box[layer] = t
            if layer == n - 1:
                raise Stop
            return t
        return fn

    try:
        bridge.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{i}.hook_resid_post", keep(i)) for i in range(n)])
    except Stop:
        pass
    return torch.stack([box[i] for i in range(n)])


class TunedLens(torch.nn.Module):
    """Per-layer affine translators h ↦ h + A_L h + b_L (A: (n_layers, d, d), b: (n_layers, d))."""

    def __init__(self, n_layers: int, d_model: int) -> None:
        super().__init__()
        self.A = torch.nn.Parameter(torch.zeros(n_layers, d_model, d_model))
        self.b = torch.nn.Parameter(torch.zeros(n_layers, d_model))

    def forward(self, resid: torch.Tensor) -> torch.Tensor:  # (n_layers, ..., d) → same
        shp = resid.shape
        r = resid.reshape(shp[0], -1, shp[-1])
        out = r + torch.einsum("lnd,led->lne", r, self.A) + self.b[:, None]
        out = out.reshape(shp).clone()
        out[-1] = resid[-1]  # the last layer: identity
        return out


def lens_logits(bridge: Any, resid: torch.Tensor, tuned: TunedLens | None = None) -> torch.Tensor:
    """resid (n_layers, ..., d) → logits (n_layers, ..., V) through the (tuned) lens."""
    return final_logits(bridge, tuned(resid) if tuned is not None else resid)


def kl_to_final(logits: torch.Tensor) -> torch.Tensor:
    """KL(p_final ‖ p_L) per layer and position (n_layers, ...), nats; the final layer is logits[-1]."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    p_final = logp[-1:].exp()
    return (p_final * (logp[-1:] - logp)).sum(-1)


def windows(tokens: Sequence[int], n_ctx: int) -> torch.Tensor:
    """Non-overlapping windows of n_ctx tokens: (N, n_ctx)."""
    n = len(tokens) // n_ctx
    return torch.tensor(list(tokens[: n * n_ctx]), dtype=torch.long).view(n, n_ctx)


def train_tuned_lens(bridge: Any, train: torch.Tensor, steps: int, batch: int = 8, lr: float = 1e-3,
                     seed: int = 0, progress: Any = None) -> TunedLens:
    """Fit the translators on windows `train` (N, T): `steps` Adam steps of `batch` windows (seeded order)."""
    n_layers, d = int(bridge.cfg.n_layers), int(bridge.cfg.d_model)
    lens = TunedLens(n_layers, d)
    opt = torch.optim.Adam(lens.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(train.shape[0], generator=gen)
    pos = 0
    for _ in range(steps):
        if pos + batch > order.numel():
            order, pos = torch.randperm(train.shape[0], generator=gen), 0
        idx = order[pos:pos + batch]
        pos += batch
        with torch.no_grad():
            resid = resid_posts(bridge, train[idx])  # (L, b, T, d)
            target = torch.log_softmax(final_logits(bridge, resid[-1]).float(), dim=-1)
        logits = final_logits(bridge, lens(resid)[:-1])  # (L-1, b, T, V)
        logp = torch.log_softmax(logits.float(), dim=-1)
        loss = (target.exp() * (target - logp)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    return lens


def save_lens(lens: TunedLens, path: Path, meta: dict[str, str]) -> Path:
    from safetensors.torch import save

    from interp.results import atomic_write_bytes

    blob = save({"A": lens.A.detach().contiguous(), "b": lens.b.detach().contiguous()}, metadata=meta)
    return atomic_write_bytes(path, blob)


def load_lens(path: Path, n_layers: int, d_model: int) -> tuple[TunedLens, dict[str, str]] | None:
    """The saved translators when `path` exists and fits the model's shape, else None."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        a, b = f.get_tensor("A"), f.get_tensor("b")
    if tuple(a.shape) != (n_layers, d_model, d_model) or tuple(b.shape) != (n_layers, d_model):
        return None
    lens = TunedLens(n_layers, d_model)
    with torch.no_grad():
        lens.A.copy_(a)
        lens.b.copy_(b)
    return lens, meta
