"""Exact activation patching: one general batched patcher + the per-component `run_with_hooks` loop.

Vocabulary (TransformerLens). A *component* kind names where a patch goes and what one index of it is:

    kind       hook (layer L)                 one component            grid
    heads      blocks.L.attn.hook_z           (L, head): z[:, :, h]    n_layers × n_heads
    q          blocks.L.attn.hook_q           (L, head): q[:, :, h]    n_layers × n_heads
    k          blocks.L.attn.hook_k           (L, kv head)             n_layers × n_kv_heads (GQA: fewer)
    resid      blocks.L.hook_resid_pre        (L, position p)          n_layers × T
    attn_out   blocks.L.hook_attn_out         L (all positions)        n_layers × 1
    mlp_out    blocks.L.hook_mlp_out          L (all positions)        n_layers × 1

A patch runs the BASE prompt and replaces the component's activation with the SOURCE prompt's:
denoising = base corrupt, source clean ("is this component sufficient to restore the behaviour?");
noising = base clean, source corrupt ("is it necessary?").

Batched (`batched=True`), like the ablation sweep (interp/ablation.py): per layer L, ONE forward on the batch
expanded k times — copy c patches component c of layer L. The expanded pass starts from the base run's cached
`blocks.L.hook_resid_pre`: it is fed one token row (the prefix 0..L−1 runs on that row) and a hook on
`blocks.L.hook_resid_pre` swaps in the cached residual expanded to (k·B, T, d_model). Last-position metrics
stop the pass at `ln_final.hook_in` and unembed only the last row (interp.patching.metrics). Cost for a
heads sweep: Σ_L k·(n_layers − L) block passes + k·n_layers last-row unembeddings, against
n_layers·k full forwards (n_layers blocks + a T-row unembedding each) for the loop.

The loop (`batched=False`) is TransformerLens's `generic_activation_patch`: one `run_with_hooks` per
component on the full model with full logits. Tests check both agree to 1e-5 (GPT-2, Gemma GQA).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.patching.metrics import RowTargets, final_logits, metric_from_last_logits, metric_from_logits

COMPONENTS = ("heads", "resid", "attn_out", "mlp_out", "q", "k")
HOOKS = {
    "heads": "blocks.{layer}.attn.hook_z",  # (B, T, n_heads, d_head)
    "q": "blocks.{layer}.attn.hook_q",  # (B, T, n_heads, d_head)
    "k": "blocks.{layer}.attn.hook_k",  # (B, T, n_kv_heads, d_head)
    "resid": "blocks.{layer}.hook_resid_pre",  # (B, T, d_model)
    "attn_out": "blocks.{layer}.hook_attn_out",  # (B, T, d_model)
    "mlp_out": "blocks.{layer}.hook_mlp_out",  # (B, T, d_model)
}
RESID_PRE = "blocks.{layer}.hook_resid_pre"
FINAL_RESID = "ln_final.hook_in"
ROWS_PER_FORWARD = 256  # cap on k·B rows of one expanded forward
TOKENS_PER_FORWARD = 16384  # ... and on k·B·T tokens


class _Stop(Exception):
    """Raised by the hook on ln_final.hook_in once the final residual is captured (skips the unembedding)."""


def check_component(kind: str) -> str:
    if kind not in COMPONENTS:
        raise UserError(f"unknown component {kind!r}; choose from: {', '.join(COMPONENTS)}")
    return kind


def n_slots(bridge, kind: str, seq_len: int) -> int:
    """Components per layer of `kind` (heads, kv heads, positions, or 1)."""
    cfg = bridge.cfg
    if kind in ("heads", "q"):
        return int(cfg.n_heads)
    if kind == "k":
        return int(getattr(cfg, "n_key_value_heads", None) or cfg.n_heads)
    if kind == "resid":
        return int(seq_len)
    return 1


def _device(bridge) -> torch.device:
    return next(bridge.original_model.parameters()).device


# ----------------------------------------------------------------------------- one scored run
def run_metric(bridge, tokens: torch.Tensor, targets: RowTargets, kind: str,
               fwd_hooks: Sequence[tuple[str, Callable]] = (), full: bool = False) -> torch.Tensor:
    """Metric per row (rows,) of one forward of `tokens` with `fwd_hooks` (rows may exceed tokens' rows when a
    hook expands the batch). Last-position metrics stop at ln_final.hook_in unless `full`."""
    if full or kind == "loss":
        logits = bridge.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))
        return metric_from_logits(kind, logits, targets)
    box: dict[str, torch.Tensor] = {}

    def grab(r: torch.Tensor, hook: Any = None) -> torch.Tensor:
        box["r"] = r
        raise _Stop

    try:
        bridge.run_with_hooks(tokens, fwd_hooks=[*fwd_hooks, (FINAL_RESID, grab)])
    except _Stop:
        pass
    return metric_from_last_logits(kind, final_logits(bridge, box["r"][:, -1]), targets)


def cache_acts(bridge, tokens: torch.Tensor, names: set[str]) -> dict[str, torch.Tensor]:
    """Activations `names` of one clean forward (no unembedding needed, so it stops at the last block)."""
    box: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def fn(t: torch.Tensor, hook: Any = None) -> torch.Tensor:
            box[name] = t.detach()
            return t
        return fn

    def stop(r: torch.Tensor, hook: Any = None) -> torch.Tensor:
        raise _Stop

    try:
        bridge.run_with_hooks(tokens, fwd_hooks=[*((n, keep(n)) for n in sorted(names)), (FINAL_RESID, stop)])
    except _Stop:
        pass
    return box


# ----------------------------------------------------------------------------- patch setters
def _patch_copies(act: torch.Tensor, src: torch.Tensor, kind: str, slots: Sequence[int], k: int) -> torch.Tensor:
    """act (k·B, T, ...) of k copies; copy c gets `src` (B, T, ...) at component slots[c]."""
    a = act.view(k, -1, *act.shape[1:])  # (k, B, T, ...)
    s = src.to(act.dtype).unsqueeze(0)  # (1, B, T, ...)
    dev = act.device
    if kind in ("heads", "q", "k"):
        n = act.shape[2]
        sel = torch.zeros(k, n, dtype=torch.bool, device=dev)
        sel[torch.arange(k, device=dev), torch.tensor(list(slots), device=dev)] = True
        sel = sel.view(k, 1, 1, n, 1)
    elif kind == "resid":
        t = act.shape[1]
        sel = torch.zeros(k, t, dtype=torch.bool, device=dev)
        sel[torch.arange(k, device=dev), torch.tensor(list(slots), device=dev)] = True
        sel = sel.view(k, 1, t, 1)
    else:  # attn_out / mlp_out: the whole activation
        sel = torch.ones(k, *([1] * (a.dim() - 1)), dtype=torch.bool, device=dev)
    return torch.where(sel, s, a).view_as(act)


def patch_hook(src: torch.Tensor, kind: str, slots: Sequence[int]) -> Callable:
    """A forward hook patching `src` at `slots` into a batch of len(slots) copies (TL patch-setter style)."""
    k = len(slots)

    def fn(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
        return _patch_copies(act, src, kind, slots, k)
    return fn


# ----------------------------------------------------------------------------- the general patcher
@dataclass(frozen=True)
class Runs:
    """One group of B pairs of equal length T: base / source tokens and the metric's targets."""

    base: torch.Tensor  # (B, T)
    source: torch.Tensor  # (B, T)
    targets: RowTargets


def _chunk_size(k: int, b: int, t: int) -> int:
    return max(1, min(k, ROWS_PER_FORWARD // max(1, b), TOKENS_PER_FORWARD // max(1, b * t)))


@torch.no_grad()
def generic_patch(bridge, runs: Runs, kind: str, metric: str, layers: Sequence[int] | None = None,
                  batched: bool = True, fwd_hooks: Sequence[tuple[str, Callable]] = (),
                  progress: Callable[[int], None] | None = None,
                  sources: dict[str, torch.Tensor] | None = None,
                  slots_by_layer: dict[int, list[int]] | None = None) -> torch.Tensor:
    """Patch every component of `kind` (in `layers`, default all) from source into base, one at a time.

    Returns the metric of each patched run, (n_layers, n_slots, B) float32 on CPU (NaN for layers skipped).
    `fwd_hooks` stay active in every pass (e.g. a frozen LayerNorm scale). `progress(n)` is called with the
    number of components done. `sources` overrides the source activations (hook name → tensor);
    `slots_by_layer` patches only those components (e.g. the top-K estimates to verify)."""
    check_component(kind)
    n_layers = int(bridge.cfg.n_layers)
    b, t = runs.base.shape
    s = n_slots(bridge, kind, t)
    if slots_by_layer is None:
        layers = list(range(n_layers)) if layers is None else list(layers)
        slots_by_layer = {layer: list(range(s)) for layer in layers}
    layers = sorted(slots_by_layer)
    out = torch.full((n_layers, s, b), float("nan"))
    dev = _device(bridge)
    base, source = runs.base.to(dev), runs.source.to(dev)
    names = {HOOKS[kind].format(layer=layer) for layer in layers}
    with bridge.hooks(fwd_hooks=list(fwd_hooks)):
        src = dict(sources) if sources is not None else cache_acts(bridge, source, names)
        if not batched:  # the TransformerLens-style reference loop: a full forward per component
            for layer in layers:
                name = HOOKS[kind].format(layer=layer)
                for slot in slots_by_layer[layer]:
                    hk = patch_hook(src[name], kind, [slot])
                    out[layer, slot] = run_metric(bridge, base, runs.targets, metric, [(name, hk)], full=True).cpu()
                    if progress:
                        progress(1)
            return out
        resid = cache_acts(bridge, base, {RESID_PRE.format(layer=layer) for layer in layers})
        for layer in layers:
            name = HOOKS[kind].format(layer=layer)
            r = resid[RESID_PRE.format(layer=layer)]  # (B, T, d_model)
            todo = slots_by_layer[layer]
            step = _chunk_size(len(todo), b, t)
            for c0 in range(0, len(todo), step):
                slots = todo[c0:c0 + step]
                k = len(slots)
                big = r.unsqueeze(0).expand(k, *r.shape).reshape(k * b, *r.shape[1:])  # (k·B, T, d_model)
                if kind == "resid":
                    big = _patch_copies(big, src[name], kind, slots, k)
                    hooks = [(RESID_PRE.format(layer=layer), lambda x, hook=None, big=big: big)]
                else:
                    hooks = [(RESID_PRE.format(layer=layer), lambda x, hook=None, big=big: big),
                             (name, patch_hook(src[name], kind, slots))]
                vals = run_metric(bridge, base[:1], runs.targets.repeat(k), metric, hooks)  # (k·B,)
                out[layer, slots] = vals.view(k, b).float().cpu()
                if progress:
                    progress(k)
    return out


@torch.no_grad()
def baselines(bridge, runs: Runs, metric: str, fwd_hooks: Sequence[tuple[str, Callable]] = ()
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Metric per row (B,) of the unpatched base and source runs."""
    dev = _device(bridge)
    with bridge.hooks(fwd_hooks=list(fwd_hooks)):
        vb = run_metric(bridge, runs.base.to(dev), runs.targets, metric).float().cpu()
        vs = run_metric(bridge, runs.source.to(dev), runs.targets, metric).float().cpu()
    return vb, vs


@torch.no_grad()
def logit_scale(bridge, tokens: torch.Tensor, fwd_hooks: Sequence[tuple[str, Callable]] = ()) -> torch.Tensor:
    """Std over the vocabulary of the final-position logits, per row (B,): the natural scale of every patching
    metric (logit-diff, log-prob and loss are all in logit units / nats)."""
    logits = bridge.run_with_hooks(tokens.to(_device(bridge)), fwd_hooks=list(fwd_hooks))  # (B, T, V)
    return logits[:, -1].float().std(-1).cpu()


@torch.no_grad()
def patch_together(bridge, runs: Runs, heads: Sequence[tuple[int, int]], metric: str,
                   fwd_hooks: Sequence[tuple[str, Callable]] = ()) -> torch.Tensor:
    """Metric per row (B,) with ALL `heads` (layer, head) patched at once (hook_z, source → base), one forward."""
    dev = _device(bridge)
    by_layer: dict[int, list[int]] = {}
    for layer, h in heads:
        by_layer.setdefault(int(layer), []).append(int(h))
    names = {HOOKS["heads"].format(layer=layer) for layer in by_layer}
    with bridge.hooks(fwd_hooks=list(fwd_hooks)):
        src = cache_acts(bridge, runs.source.to(dev), names)
        hooks = []
        for layer, hs in sorted(by_layer.items()):
            name = HOOKS["heads"].format(layer=layer)

            def fn(z: torch.Tensor, hook: Any = None, name: str = name, hs: list[int] = hs) -> torch.Tensor:
                z = z.clone()
                z[:, :, hs] = src[name][:, :, hs].to(z.dtype)
                return z
            hooks.append((name, fn))
        return run_metric(bridge, runs.base.to(dev), runs.targets, metric, hooks).float().cpu()
