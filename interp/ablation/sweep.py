"""Ablate every single head, one at a time, BATCHED — `ablate_sweep(model, ...)` (what `interp ablate-sweep` runs).

Per chunk of windows, one clean `run_with_cache` stores `blocks.L.hook_resid_pre` for every layer; then for
layer L the rest of the network runs ONCE on the batch expanded k times (copy i = head heads_L[i] ablated).
The expanded pass starts from the cached residual: it is fed one token row (the cheap prefix 0..L-1 runs on
that row) and a hook on `blocks.L.hook_resid_pre` swaps in the cached residual, expanded to (k·B, T, d_model)
— the blocks after it just see a bigger batch (masks and rotary embeddings were built for one row and
broadcast; checked on GPT-2, Gemma GQA and Gemma-3-270M). Compared with the per-head `run_with_hooks` loop
(`sweep(..., batched=False)`, kept as the reference) this skips the clean prefix of every ablated forward: a
head of layer L costs n_layers − L block passes instead of n_layers. The unembedding + log-sum-exp is still
paid once per head (~1.5 blocks' worth on the `small` preset), so the exact speed-up is bounded (~1.4× there
in work; benchmarks/ablation_sweep.py measures it). Tests check both paths give the same Δloss to 1e-5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from interp.ablation.ablate import parse_heads
from interp.ablation.inputs import (
    check_context,
    check_max_tokens,
    check_windows,
    load_model,
    make_windows,
    read_text,
    starts_with_bos,
    windows_sha256,
)
from interp.ablation.values import (
    RESID_PRE_HOOK,
    Z_HOOK,
    AblationConfig,
    ablation_hooks,
    ablation_values,
    auto_rows,
    chunks,
    device_of,
    progress_bar,
    token_losses,
)
from interp.errors import UserError
from interp.heads import Head, HeadSpec, format_heads
from interp.results import FrozenResult


@dataclass(frozen=True)
class SweepResult(FrozenResult):
    kind: str = "ablation_sweep"
    model: str = ""
    source: str = ""
    method: str = "zero"
    seed: int = 0
    batched: bool = True
    n_layers: int = 0
    n_heads: int = 0
    heads_spec: str = "*.*"
    n_windows: int = 0
    window_len: int = 0
    bos: bool = False  # windows start with BOS
    windows_sha256: str = ""
    n_tokens_scored: int = 0
    clean_loss: float = 0.0
    # (n_layers, n_heads) grids; None where a head was not swept
    delta_loss: tuple[tuple[float | None, ...], ...] = ()
    ablated_loss: tuple[tuple[float | None, ...], ...] = ()
    frac_hurt: tuple[tuple[float | None, ...], ...] = ()
    ranking: tuple[dict, ...] = ()  # heads by Δloss, largest first: {"head": "L.H", "delta_loss", "frac_hurt"}


def _full_width(value: torch.Tensor | float, hs: list[int], n_heads: int, dev: torch.device) -> torch.Tensor:
    """Replacement for the selected heads `hs` (…, n_sel, d_head) → all heads (1, …, n_heads, d_head), as a
    leading copy axis for broadcasting against z viewed as (k, B, T, n_heads, d_head)."""
    if not isinstance(value, torch.Tensor):
        return torch.tensor(float(value), device=dev)
    full = value.new_zeros(*value.shape[:-2], n_heads, value.shape[-1])
    full[..., hs, :] = value
    return full.unsqueeze(0)


def _batched(bridge, windows, values, rows, n_heads, sum_abl, hurt, bar) -> float:
    """The expanded-batch sweep; accumulates per-head ablated loss sums / hurt counts; returns the clean sum."""
    n, t = windows.shape
    dev = device_of(bridge)
    by_layer = values.heads
    clean_sum = 0.0
    max_k = max(len(hs) for hs in by_layer.values())
    names = {RESID_PRE_HOOK.format(layer=layer) for layer in by_layer}
    for sl in chunks(n, max(1, rows // max_k)):
        x = windows[sl].to(dev)
        b = x.shape[0]
        logits, cache = bridge.run_with_cache(x, names_filter=names.__contains__)
        clean = token_losses(logits, x)  # (B, T-1)
        del logits
        clean_sum += clean.double().sum().item()
        for layer, hs in by_layer.items():
            k = len(hs)
            resid = cache[RESID_PRE_HOOK.format(layer=layer)]  # (B, T, d_model)
            big = resid.unsqueeze(0).expand(k, *resid.shape).reshape(k * b, *resid.shape[1:])  # (k·B, T, d_model)
            sel = torch.zeros(k, n_heads, dtype=torch.bool, device=dev)
            sel[torch.arange(k, device=dev), torch.tensor(hs, device=dev)] = True
            sel = sel.view(k, 1, 1, n_heads, 1)  # copy i ablates head hs[i]
            repl = _full_width(values.for_rows(layer, sl, t), hs, n_heads, dev)

            def inject(r: torch.Tensor, hook: Any = None, big: torch.Tensor = big) -> torch.Tensor:
                return big

            def ablate_copies(z: torch.Tensor, hook: Any = None, k: int = k, sel: torch.Tensor = sel,
                              repl: torch.Tensor = repl) -> torch.Tensor:
                z5 = z.view(k, -1, *z.shape[1:])  # (k, B, T, n_heads, d_head)
                return torch.where(sel, repl.to(z.dtype), z5).view_as(z)

            out = bridge.run_with_hooks(x[:1], fwd_hooks=[(RESID_PRE_HOOK.format(layer=layer), inject),
                                                          (Z_HOOK.format(layer=layer), ablate_copies)])
            abl = token_losses(out, x.repeat(k, 1)).view(k, b, t - 1)
            del out
            d = abl - clean
            for i, h in enumerate(hs):
                sum_abl[(layer, h)] += abl[i].double().sum().item()
                hurt[(layer, h)] += int((d[i] > 0).sum().item())
            bar.update(b * k)
        del cache
    return clean_sum


def _loop(bridge, windows, values, heads, rows, sum_abl, hurt, bar) -> float:
    """The reference: one `run_with_hooks` per head and chunk."""
    n, t = windows.shape
    dev = device_of(bridge)
    clean_tok = torch.empty(n, t - 1)
    for sl in chunks(n, rows):
        x = windows[sl].to(dev)
        clean_tok[sl] = token_losses(bridge(x), x).cpu()
    for layer, h in heads:
        one = values.only(layer, h)
        for sl in chunks(n, rows):
            x = windows[sl].to(dev)
            abl = token_losses(bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(one, sl)), x).cpu()
            sum_abl[(layer, h)] += abl.double().sum().item()
            hurt[(layer, h)] += int(((abl - clean_tok[sl]) > 0).sum().item())
            bar.update(sl.stop - sl.start)
    return clean_tok.double().sum().item()


@torch.no_grad()
def sweep(bridge, token_windows: torch.Tensor, config: AblationConfig, heads: Sequence[Head] | None = None,
          batched: bool = True, progress: bool = False, model_name: str = "", source: str = "") -> SweepResult:
    """Ablate each head of `heads` (default: all) ALONE; Δloss per head on `token_windows` (N, T).

    batched=True expands the batch over the heads of one layer and starts from the cached clean
    `hook_resid_pre`; batched=False is the plain per-head `run_with_hooks` loop (the reference)."""
    windows = check_windows(bridge, token_windows)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    spec = HeadSpec.all() if heads is None else HeadSpec(tuple((int(a), int(b)) for a, b in heads))
    heads = spec.resolve(n_layers, n_heads)  # range / duplicate check
    if not heads:
        raise UserError("no heads to sweep")
    n, t = windows.shape
    values = ablation_values(bridge, windows, heads, config.method, config.seed, config.batch_size, progress)
    rows = config.batch_size or auto_rows(bridge, t)
    sum_abl = {hd: 0.0 for hd in heads}
    hurt = {hd: 0 for hd in heads}
    with progress_bar(n * len(heads), f"sweep {len(heads)} heads ({'batched' if batched else 'loop'})",
                      progress) as bar:
        if batched:
            clean_sum = _batched(bridge, windows, values, rows, n_heads, sum_abl, hurt, bar)
        else:
            clean_sum = _loop(bridge, windows, values, heads, rows, sum_abl, hurt, bar)
    n_tok = n * (t - 1)
    clean_loss = clean_sum / n_tok
    grid_d: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    grid_a: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    grid_h: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    for (layer, h), s in sum_abl.items():
        grid_a[layer][h] = s / n_tok
        grid_d[layer][h] = s / n_tok - clean_loss
        grid_h[layer][h] = hurt[(layer, h)] / n_tok
    ranking = sorted(heads, key=lambda hd: (-(grid_d[hd[0]][hd[1]] or 0.0), hd))
    return SweepResult(
        model=model_name, source=source, method=config.method, seed=config.seed, batched=batched,
        n_layers=n_layers, n_heads=n_heads,
        heads_spec=format_heads(heads) if len(heads) != n_layers * n_heads else "*.*",
        n_windows=n, window_len=t, bos=starts_with_bos(bridge, windows), windows_sha256=windows_sha256(windows),
        n_tokens_scored=n_tok, clean_loss=clean_loss,
        delta_loss=tuple(tuple(r) for r in grid_d), ablated_loss=tuple(tuple(r) for r in grid_a),
        frac_hurt=tuple(tuple(r) for r in grid_h),
        ranking=tuple({"head": f"{lyr}.{h}", "delta_loss": grid_d[lyr][h], "frac_hurt": grid_h[lyr][h]}
                      for lyr, h in ranking),
    )


def ablate_sweep(model: Any, heads: str | Sequence[Head] = "*.*", *, method: str = "zero",
                 text: str | Path | None = None, split: str | None = None, documents: Sequence[str] | None = None,
                 max_tokens: int = 20_000, context: int | None = None, batch_size: int | None = None,
                 batched: bool = True, device: str = "cpu", seed: int = 0, progress: bool = False) -> SweepResult:
    """Ablate every head of `heads` (default all, "*.*") ALONE, batched; Δloss grid layers × heads —
    what `interp ablate-sweep` runs. Arguments as `interp.ablation.ablate` (no generation here)."""
    config = AblationConfig(method=method, seed=seed, batch_size=batch_size, max_new_tokens=0)
    spec = parse_heads(heads)
    check_max_tokens(max_tokens)
    check_context(context)
    docs, source = read_text(model, text, split, documents)
    bridge, name = load_model(model, device)
    chosen = spec.resolve_for(bridge)
    windows = make_windows(bridge, docs, context, max_tokens)
    return sweep(bridge, windows, config, heads=chosen, batched=batched, progress=progress, model_name=name,
                 source=source)
