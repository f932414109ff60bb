"""`interp ablate-sweep --estimate atp`: the Δloss of ablating every head alone, estimated from gradients.

For head (L, h) with clean z and ablation value r (zero / mean / resample, `interp.ablation.ablation_values`),
the exact sweep measures Δloss = loss(z_h := r) − loss(clean). Attribution patching estimates it to first order,
for every head at once, from ONE forward with grad and ONE backward per chunk of windows:

    Δloss(L, h) ≈ Σ_{windows, positions} (r − z_h) · ∂loss/∂z_h

(loss = mean next-token loss over the eval tokens). Cost: ≈ 3 forward passes + the clean pass that collects
the ablation values (mean / resample), against n_layers × n_heads ablated forwards for the per-head loop.
`verify_top=K` re-measures the K largest estimates with the exact batched sweep (`interp.ablation.sweep`) and
reports estimate vs exact and their Spearman / Pearson over those K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.results import FrozenResult

Z_HOOK = "blocks.{layer}.attn.hook_z"  # (B, T, n_heads, d_head)


@dataclass(frozen=True)
class AtpSweepResult(FrozenResult):
    """Same fields as `interp.ablation.SweepResult` (so its figures and report section apply) + the estimate."""

    kind: str = "ablation_sweep"
    model: str = ""
    source: str = ""
    method: str = "zero"
    seed: int = 0
    batched: bool = True
    estimate: str = "atp"
    n_layers: int = 0
    n_heads: int = 0
    heads_spec: str = "*.*"
    n_windows: int = 0
    window_len: int = 0
    bos: bool = False
    n_tokens_scored: int = 0
    clean_loss: float = 0.0
    delta_loss: tuple[tuple[float | None, ...], ...] = ()  # ESTIMATED Δloss (L, H)
    ablated_loss: tuple[tuple[float | None, ...], ...] = ()
    frac_hurt: tuple[tuple[float | None, ...], ...] = ()  # not estimable: None
    ranking: tuple[dict, ...] = ()
    verify: tuple[dict, ...] = ()  # {"head", "estimate", "exact"} for the top-K estimates
    verify_spearman: float | None = None
    verify_pearson: float | None = None
    cost: str = "1 clean pass (values) + 1 forward with grad + 1 backward per chunk of windows"


def estimate_sweep(bridge, windows: torch.Tensor, config, heads: Sequence[tuple[int, int]] | None = None,
                   verify_top: int = 0, progress: bool = False, model_name: str = "", source: str = ""
                   ) -> AtpSweepResult:
    """AtP estimate of the single-head ablation sweep on eval `windows` (N, T); `config`: an AblationConfig."""
    from interp.ablation import ablation_values, sweep, token_losses
    from interp.ablation.inputs import check_windows, starts_with_bos
    from interp.ablation.values import auto_rows, device_of
    from interp.heads import HeadSpec, format_heads
    from interp.patching.metrics import pearson, spearman

    windows = check_windows(bridge, windows)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    spec = HeadSpec.all() if heads is None else HeadSpec(tuple((int(a), int(b)) for a, b in heads))
    heads = spec.resolve(n_layers, n_heads)
    if not heads:
        raise UserError("no heads to sweep")
    if not isinstance(verify_top, int) or verify_top < 0 or verify_top > len(heads):
        raise UserError(f"verify_top must be between 0 and the {len(heads)} heads swept, got {verify_top!r}")
    n, t = windows.shape
    dev = device_of(bridge)
    values = ablation_values(bridge, windows, heads, config.method, config.seed, config.batch_size, progress)
    rows = config.batch_size or auto_rows(bridge, t)
    est = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    clean_sum = 0.0
    for s0 in range(0, n, rows):
        sl = slice(s0, min(n, s0 + rows))
        x = windows[sl].to(dev)
        zs: dict[int, torch.Tensor] = {}

        def keep(layer: int, box: dict[int, torch.Tensor] = zs):
            def fn(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
                box[layer] = act
                return act
            return fn

        with torch.enable_grad():
            logits = bridge.run_with_hooks(x, fwd_hooks=[(Z_HOOK.format(layer=layer), keep(layer))
                                                         for layer in values.heads])
            loss = token_losses(logits, x).sum()  # summed over tokens; divided by n_tok below
            grads = torch.autograd.grad(loss, [zs[layer] for layer in values.heads])
        clean_sum += float(loss.detach())
        for layer, g in zip(values.heads, grads, strict=True):
            hs = values.heads[layer]
            z = zs[layer].detach()[:, :, hs]  # (B, T, n_sel, d_head)
            repl = values.for_rows(layer, sl, t)  # broadcastable to z
            delta = (torch.as_tensor(repl, dtype=z.dtype, device=z.device) - z) if not isinstance(repl, float) else \
                (repl - z)
            est[layer, hs] += (g[:, :, hs].double() * delta.double()).sum(dim=(0, 1, 3)).cpu()
    n_tok = n * (t - 1)
    clean_loss = clean_sum / n_tok
    est /= n_tok
    chosen = set(heads)
    grid_d = [[float(est[lyr, h]) if (lyr, h) in chosen else None for h in range(n_heads)] for lyr in range(n_layers)]
    grid_a = [[None if v is None else clean_loss + v for v in row] for row in grid_d]
    order = sorted(heads, key=lambda hd: (-float(est[hd]), hd))
    verify: list[dict] = []
    sp = pe = None
    if verify_top:
        top = sorted(heads, key=lambda hd: (-abs(float(est[hd])), hd))[:verify_top]
        ex = sweep(bridge, windows, config, heads=top, progress=progress)
        verify = [{"head": f"{lyr}.{h}", "estimate": float(est[lyr, h]), "exact": ex.delta_loss[lyr][h]}
                  for lyr, h in top]
        sp = spearman([v["estimate"] for v in verify], [v["exact"] for v in verify])
        pe = pearson([v["estimate"] for v in verify], [v["exact"] for v in verify])
    return AtpSweepResult(
        model=model_name, source=source, method=config.method, seed=config.seed, n_layers=n_layers, n_heads=n_heads,
        heads_spec=format_heads(heads) if len(heads) != n_layers * n_heads else "*.*", n_windows=n, window_len=t,
        bos=starts_with_bos(bridge, windows), n_tokens_scored=n_tok, clean_loss=clean_loss,
        delta_loss=tuple(tuple(r) for r in grid_d), ablated_loss=tuple(tuple(r) for r in grid_a),
        frac_hurt=tuple(tuple(None for _ in range(n_heads)) for _ in range(n_layers)),
        ranking=tuple({"head": f"{lyr}.{h}", "delta_loss": grid_d[lyr][h], "frac_hurt": None} for lyr, h in order),
        verify=tuple(verify), verify_spearman=sp, verify_pearson=pe,
    )


def ablate_sweep_atp(model: Any, heads: str = "*.*", *, method: str = "zero", text: Any = None,
                     split: str | None = None, documents: Sequence[str] | None = None, max_tokens: int = 20_000,
                     context: int | None = None, batch_size: int | None = None, verify_top: int = 0,
                     device: str = "cpu", seed: int = 0, progress: bool = False) -> AtpSweepResult:
    """`interp ablate-sweep --estimate atp`: arguments as `interp.ablation.ablate_sweep`, + `verify_top`."""
    from interp.ablation import AblationConfig, parse_heads
    from interp.ablation.inputs import check_context, check_max_tokens, load_model, make_windows, read_text

    config = AblationConfig(method=method, seed=seed, batch_size=batch_size, max_new_tokens=0)
    spec = parse_heads(heads)
    check_max_tokens(max_tokens)
    check_context(context)
    if not isinstance(verify_top, int) or verify_top < 0:
        raise UserError(f"verify_top must be >= 0, got {verify_top!r}")
    docs, src = read_text(model, text, split, documents)
    bridge, name = load_model(model, device)
    chosen = spec.resolve_for(bridge)
    windows = make_windows(bridge, docs, context, max_tokens)
    return estimate_sweep(bridge, windows, config, heads=chosen, verify_top=verify_top, progress=progress,
                          model_name=name, source=src)
