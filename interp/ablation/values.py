"""What replaces an ablated head's z, and the hooks that put it there.

A head's contribution to the residual stream is `z_h @ W_O[h]`, where `z = blocks.L.attn.hook_z`
(B, T, n_heads, d_head) is the per-head attention output before the output projection. Ablating head
(L, h) replaces `z[:, :, h]` in a forward hook:

    zero      z_h := 0
    mean      z_h := mean of z_h over every eval position (one clean pass first)
    resample  z_h := z_h at a random other eval position (another window when there are several,
              else another position of the same window; seeded), fetched from that clean pass
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.heads import Head

METHODS = ("zero", "mean", "resample")
Z_HOOK = "blocks.{layer}.attn.hook_z"  # (B, T, n_heads, d_head)
RESID_PRE_HOOK = "blocks.{layer}.hook_resid_pre"  # (B, T, d_model)
DEFAULT_PROMPT = "The cat sat on"
MAX_RESAMPLE_BYTES = 4 * 2**30  # z kept for resampling; above this ask for fewer max_tokens
LOGITS_BYTES_PER_FORWARD = 2**29  # auto batch size keeps one forward's logits under 512 MiB
TOKENS_PER_FORWARD = 8192  # ... and under this many tokens


@dataclass(frozen=True)
class AblationConfig:
    """How to ablate (validated here; errors name the field)."""

    method: str = "zero"
    seed: int = 0
    batch_size: int | None = None  # rows (windows) per forward; None = auto (≤ 8192 tokens, ≤ 512 MiB logits)
    prompt: str = DEFAULT_PROMPT
    max_new_tokens: int = 40  # greedy continuation of `prompt`, clean vs ablated (0 = skip)
    n_buckets: int = 8  # position-in-window buckets of the Δloss profile

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserError(f"unknown ablation method {self.method!r}; choose one of: {', '.join(METHODS)}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise UserError(f"`seed` must be an integer >= 0, got {self.seed!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size <= 0):
            raise UserError(f"`batch_size` must be a positive integer, got {self.batch_size!r}")
        from interp.decoding import MAX_NEW_TOKENS

        if not isinstance(self.max_new_tokens, int) or not 0 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise UserError(f"`max_new_tokens` must be an integer in 0..{MAX_NEW_TOKENS}, got {self.max_new_tokens!r}")
        if self.max_new_tokens > 0 and (not isinstance(self.prompt, str) or not self.prompt.strip()):
            raise UserError("`prompt` is empty; pass some text to continue (or `max_new_tokens` 0)")
        if not isinstance(self.n_buckets, int) or self.n_buckets <= 0:
            raise UserError(f"`n_buckets` must be a positive integer, got {self.n_buckets!r}")


def device_of(bridge) -> torch.device:
    return next(bridge.original_model.parameters()).device


def auto_rows(bridge, seq_len: int) -> int:
    """Windows per forward: ≤ TOKENS_PER_FORWARD tokens and ≤ LOGITS_BYTES_PER_FORWARD of float32 logits."""
    v = int(bridge.cfg.d_vocab)
    return max(1, min(TOKENS_PER_FORWARD // seq_len, LOGITS_BYTES_PER_FORWARD // (seq_len * v * 4)))


def token_losses(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Next-token loss (nats): logits (B, T, V), tokens (B, T) → (B, T-1), float32."""
    lg = logits[:, :-1].float()
    return torch.logsumexp(lg, dim=-1) - lg.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def progress_bar(total: int, desc: str, enabled: bool):
    from interp import progress

    return progress.progress_bar(total=total, desc=desc, file=sys.stderr, disable=not enabled or None, leave=False)


def resample_sources(n_windows: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """For every eval position (w, t), a random source position, as a flat index into N·T (N, T).

    The source is in another window when there are several (uniform window ≠ w, uniform position), else
    another position of the single window."""
    n, t = n_windows, seq_len
    if n > 1:
        w = (torch.arange(n)[:, None] + torch.randint(1, n, (n, t), generator=generator)) % n
        p = torch.randint(0, t, (n, t), generator=generator)
    elif t > 1:
        w = torch.zeros(1, t, dtype=torch.long)
        p = (torch.arange(t)[None, :] + torch.randint(1, t, (1, t), generator=generator)) % t
    else:
        w, p = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long)
    return w * t + p


@dataclass
class AblationValues:
    """What replaces an ablated head's z, per layer, for the heads `heads[layer]` (sorted head ids).

    zero: nothing stored. mean: `mean[layer]` (n_sel, d_head). resample: `bank[layer]` (N, T, n_sel, d_head)
    = z at each eval position's resample source, and `gen[layer]` (gen_positions, n_sel, d_head) = z at
    random eval positions, indexed by position, for generation."""

    method: str
    heads: dict[int, list[int]]
    mean: dict[int, torch.Tensor]
    bank: dict[int, torch.Tensor]
    gen: dict[int, torch.Tensor]

    def only(self, layer: int, head: int) -> AblationValues:
        """The values of one head (for the per-head loop)."""
        i = [self.heads[layer].index(head)]
        return AblationValues(self.method, {layer: [head]},
                              {layer: self.mean[layer][i]} if layer in self.mean else {},
                              {layer: self.bank[layer][:, :, i]} if layer in self.bank else {},
                              {layer: self.gen[layer][:, i]} if layer in self.gen else {})

    def for_rows(self, layer: int, rows: slice | None, seq_len: int) -> torch.Tensor | float:
        """Replacement broadcastable to (B, T, n_sel, d_head): eval rows `rows`, or generation (None)."""
        if self.method == "zero":
            return 0.0
        if self.method == "mean":
            return self.mean[layer]  # (n_sel, d_head)
        if rows is None:
            return self.gen[layer][:seq_len]  # (T, n_sel, d_head)
        return self.bank[layer][rows]  # (B, T, n_sel, d_head)


_Values = AblationValues  # the old private name


@torch.no_grad()
def ablation_values(bridge, windows: torch.Tensor, heads: Sequence[Head], method: str, seed: int = 0,
                    batch_size: int | None = None, progress: bool = False, gen_positions: int = 0) -> AblationValues:
    """One clean pass over `windows` (N, T) collecting what `method` replaces each head's z with.

    resample also draws `gen_positions` position-indexed replacements for generation (0: none)."""
    by_layer: dict[int, list[int]] = {}
    for layer, h in heads:
        by_layer.setdefault(layer, []).append(h)
    by_layer = {k: sorted(v) for k, v in sorted(by_layer.items())}
    vals = AblationValues(method, by_layer, {}, {}, {})
    if method == "zero" or not heads:
        return vals
    n, t = windows.shape
    d_head = int(bridge.cfg.d_head)
    if method == "resample":
        need = 2 * n * t * len(heads) * d_head * 4  # z of every position + the resampled bank
        if need > MAX_RESAMPLE_BYTES:
            raise UserError(f"resample ablation would keep {need / 2**30:.1f} GiB of z activations; "
                            "lower `max_tokens` or ablate fewer heads")
    dev = device_of(bridge)
    names = {Z_HOOK.format(layer=layer): layer for layer in by_layer}
    sums = {layer: torch.zeros(len(hs), d_head, dtype=torch.float64, device=dev) for layer, hs in by_layer.items()}
    zs: dict[int, list[torch.Tensor]] = {layer: [] for layer in by_layer}
    rows = batch_size or auto_rows(bridge, t)
    last = max(by_layer) + 1
    stop = last if last < int(bridge.cfg.n_layers) else None  # no need to run past the last ablated layer
    with progress_bar(n, f"clean pass ({method} values)", progress) as bar:
        for sl in chunks(n, rows):
            _, cache = bridge.run_with_cache(windows[sl].to(dev), names_filter=names.__contains__, stop_at_layer=stop)
            for name, layer in names.items():
                z = cache[name][:, :, by_layer[layer]]  # (B, T, n_sel, d_head)
                if method == "mean":
                    sums[layer] += z.double().sum(dim=(0, 1))
                else:
                    zs[layer].append(z.float())
            bar.update(sl.stop - sl.start)
    if method == "mean":
        vals.mean = {layer: (s / (n * t)).float() for layer, s in sums.items()}
        return vals
    g = torch.Generator().manual_seed(seed)
    src = resample_sources(n, t, g).to(dev)  # (N, T) flat source positions
    gen_src = torch.randint(0, n * t, (gen_positions,), generator=g).to(dev)  # (gen_positions,)
    for layer in by_layer:
        flat = torch.cat(zs[layer]).flatten(0, 1)  # (N·T, n_sel, d_head)
        vals.bank[layer] = flat[src]  # (N, T, n_sel, d_head)
        vals.gen[layer] = flat[gen_src]  # (gen_positions, n_sel, d_head)
        zs[layer] = []
    return vals


def ablation_hooks(values: AblationValues, rows: slice | None = None) -> list[tuple[str, Callable]]:
    """`fwd_hooks` that ablate every head in `values.heads` (eval rows `rows`, or generation when None)."""
    hooks = []
    for layer, hs in values.heads.items():
        def hook(z: torch.Tensor, hook: Any = None, layer: int = layer, hs: list[int] = hs) -> torch.Tensor:
            z = z.clone()  # (B, T, n_heads, d_head)
            z[:, :, hs] = torch.as_tensor(values.for_rows(layer, rows, z.shape[1]), dtype=z.dtype,
                                          device=z.device).expand(z.shape[0], z.shape[1], len(hs), z.shape[3])
            return z
        hooks.append((Z_HOOK.format(layer=layer), hook))
    return hooks
