"""Attribution patching: first-order estimates of every component's patching effect (AtP, AtP*).

AtP (Nanda 2023; Syed et al. 2023). For a component with base activation a and source activation a',
the effect of patching it, M(base with a := a') − M(base), is estimated to first order as

    ĉ_AtP(n) = (a' − a) · ∂M/∂a |_base          (summed over the component's positions and features)

for every component at once from one source forward (no grad), one base forward with grad and ONE backward.
Cost: 2 forwards + 1 backward ≈ 4 forward passes, whatever the number of components (the per-head exact loop
is n_layers × n_heads forwards). With a last-position metric neither pass computes the T-row unembedding.

AtP* (Kramár et al. 2024), two fixes:

- QK fix (components `q`, `k`). AtP linearizes through the attention softmax, which fails when it saturates.
  For a query or key patch we instead recompute the attention of that layer EXACTLY with the patched q / k
  (the model's own attention code: one partial forward per layer, on the batch expanded over the layer's
  heads, from the cached base `hook_resid_pre`, stopped at that layer's `hook_z`) and linearize only after
  the pattern:  ĉ(n) = Σ_heads (z_patched − z) · ∂M/∂z. For `heads` (hook_z, after the softmax) there is no
  softmax between the patch and z, so AtP and AtP* signed estimates coincide. Cost: + n_layers one-block
  passes on (kv) heads × B rows.
- GradDrop, against cancellation of paths. For each layer ℓ, the gradient reaching `hook_resid_pre` of
  layer ℓ through block ℓ is dropped (only the skip path's gradient G_{ℓ+1} = ∂M/∂resid_pre[ℓ+1] goes on),
  and the estimates of every component upstream are recomputed with it: AtP_ℓ(n). Components in layer ≥ ℓ
  keep AtP(n). The AtP* *score* (used for ranking and `--verify-top`) is  mean_ℓ |AtP_ℓ(n)|  over
  ℓ = 0..n_layers−1 of the row-mean estimate. Cost: + (n_layers − 1) partial backwards (layer ℓ to the
  embedding only), ≈ n_layers²/2 block backwards.

So AtP* ≈ 4 + n_layers forward-equivalents (vs n_layers × n_heads full forwards for the exact loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from interp.patching.core import (
    FINAL_RESID,
    HOOKS,
    RESID_PRE,
    Runs,
    _device,
    _Stop,
    cache_acts,
    n_slots,
    patch_hook,
)
from interp.patching.metrics import final_logits, metric_from_last_logits, metric_from_logits


def _contract(kind: str, grad: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """grad, delta (B, T, ...) → per-row effect per slot (B, n_slots)."""
    prod = (grad.float() * delta.float())
    if kind in ("heads", "q", "k"):
        return prod.sum(dim=(1, 3))  # (B, n_heads)
    if kind == "resid":
        return prod.sum(dim=2)  # (B, T)
    return prod.sum(dim=(1, 2))[:, None]  # (B, 1)


def _grad_run(bridge, tokens: torch.Tensor, names: list[str], targets, metric: str):
    """Base forward with grad, keeping `names` activations in the graph: (metric per row, {name: tensor})."""
    acts: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def fn(t: torch.Tensor, hook: Any = None) -> torch.Tensor:
            acts[name] = t
            return t
        return fn

    hooks = [(n, keep(n)) for n in names]
    if metric == "loss":
        hooks.append((FINAL_RESID, keep(FINAL_RESID)))
        logits = bridge.run_with_hooks(tokens, fwd_hooks=hooks)
        return metric_from_logits(metric, logits, targets), acts

    def grab(r: torch.Tensor, hook: Any = None) -> torch.Tensor:
        acts[FINAL_RESID] = r
        raise _Stop

    try:
        bridge.run_with_hooks(tokens, fwd_hooks=[*hooks, (FINAL_RESID, grab)])
    except _Stop:
        pass
    return metric_from_last_logits(metric, final_logits(bridge, acts[FINAL_RESID][:, -1]), targets), acts


@torch.no_grad()
def _qk_patched_z(bridge, base_resid: torch.Tensor, layer: int, kind: str, src: torch.Tensor, s: int,
                  base: torch.Tensor) -> torch.Tensor:
    """z of `layer` when q/k slot c alone is patched, for every slot c: (s, B, T, n_heads, d_head)."""
    b = base_resid.shape[0]
    big = base_resid.unsqueeze(0).expand(s, *base_resid.shape).reshape(s * b, *base_resid.shape[1:])
    box: dict[str, torch.Tensor] = {}

    def grab(z: torch.Tensor, hook: Any = None) -> torch.Tensor:
        box["z"] = z
        raise _Stop

    hooks = [(RESID_PRE.format(layer=layer), lambda x, hook=None: big),
             (HOOKS[kind].format(layer=layer), patch_hook(src, kind, list(range(s)))),
             (HOOKS["heads"].format(layer=layer), grab)]
    try:
        bridge.run_with_hooks(base[:1], fwd_hooks=hooks)
    except _Stop:
        pass
    z = box["z"]
    return z.view(s, b, *z.shape[1:])


def attribution(bridge, runs: Runs, kinds: Sequence[str], metric: str, star: bool = False,
                fwd_hooks: Sequence[tuple[str, Callable]] = (), sources: dict[str, torch.Tensor] | None = None,
                ) -> dict[str, dict[str, torch.Tensor]]:
    """AtP (star=False) or AtP* estimates for every component of each kind in `kinds`.

    Returns {kind: {"estimate": (n_layers, n_slots, B) estimated metric change per row,
                    "score": (n_layers, n_slots) ranking score (|row-mean estimate|; AtP*: GradDrop mean)}}.
    `sources` overrides the source activations (hook name → tensor), e.g. for a tiny synthetic perturbation."""
    n_layers = int(bridge.cfg.n_layers)
    dev = _device(bridge)
    base, source = runs.base.to(dev), runs.source.to(dev)
    b, t = base.shape
    names = [HOOKS[k].format(layer=layer) for k in kinds for layer in range(n_layers)]
    qk = [k for k in kinds if star and k in ("q", "k")]
    extra = [HOOKS["heads"].format(layer=layer) for layer in range(n_layers)] if qk else []
    extra += [RESID_PRE.format(layer=layer) for layer in range(n_layers)]
    all_names = list(dict.fromkeys(names + extra))
    with bridge.hooks(fwd_hooks=list(fwd_hooks)):
        src = dict(sources) if sources is not None else cache_acts(bridge, source, set(names))
        with torch.enable_grad():
            vals, acts = _grad_run(bridge, base, all_names, runs.targets, metric)
            want = [acts[n] for n in all_names]
            has_final = FINAL_RESID in acts
            if has_final:
                want.append(acts[FINAL_RESID])
            grads = torch.autograd.grad(vals.sum(), want, retain_graph=star, allow_unused=True)
        g = {n: (gr if gr is not None else torch.zeros_like(acts[n])) for n, gr in zip(all_names, grads, strict=False)}
        g_final = grads[-1] if has_final else None
        out: dict[str, dict[str, torch.Tensor]] = {}
        for kind in kinds:
            s = n_slots(bridge, kind, t)
            est = torch.zeros(n_layers, s, b)
            for layer in range(n_layers):
                name = HOOKS[kind].format(layer=layer)
                if kind in qk:
                    zname = HOOKS["heads"].format(layer=layer)
                    zp = _qk_patched_z(bridge, acts[RESID_PRE.format(layer=layer)].detach(), layer, kind,
                                       src[name], s, base)  # (s, B, T, H, d)
                    dz = zp - acts[zname].detach().unsqueeze(0)
                    est[layer] = (g[zname].float().unsqueeze(0) * dz.float()).sum(dim=(2, 3, 4)).cpu()
                else:
                    est[layer] = _contract(kind, g[name], src[name] - acts[name].detach()).T.cpu()
            out[kind] = {"estimate": est, "score": est.mean(-1).abs()}
        if star:
            _graddrop(bridge, kinds, acts, src, g, g_final, out)
    return out


def _graddrop(bridge, kinds, acts, src, g, g_final, out) -> None:
    """Replace each kind's "score" with the GradDrop score (module doc). Needs the graph of the grad run."""
    n_layers = int(bridge.cfg.n_layers)
    mean_abs = {kind: out[kind]["estimate"].mean(-1).abs() for kind in kinds}  # |AtP(n)| (n_layers, s)
    total = {kind: mean_abs[kind].clone() for kind in kinds}  # the ℓ = 0 term: nothing upstream of block 0
    for drop in range(1, n_layers):
        g_skip = g[RESID_PRE.format(layer=drop + 1)] if drop + 1 < n_layers else g_final
        # upstream of block `drop`: its input resid_pre[drop] and everything in layers < drop
        up = [(kind, layer) for kind in kinds if kind not in ("q", "k")
              for layer in range(drop + (kind == "resid"))]
        inner = [(kind, layer) for kind, layer in up if not (kind == "resid" and layer == drop)]
        gd = torch.autograd.grad(acts[RESID_PRE.format(layer=drop)], [acts[HOOKS[k].format(layer=lyr)] for k, lyr in inner],
                                 grad_outputs=g_skip, retain_graph=True, allow_unused=True) if inner else []
        grads = dict(zip(inner, gd, strict=True))
        for kind in kinds:
            for layer in range(n_layers):
                if (kind, layer) not in up:
                    total[kind][layer] += mean_abs[kind][layer]  # block `drop` is not downstream: AtP(n)
                    continue
                gr = g_skip if (kind, layer) not in grads else grads[(kind, layer)]
                name = HOOKS[kind].format(layer=layer)
                if gr is None:
                    continue  # no path left once block `drop` is dropped: AtP_ℓ(n) = 0
                total[kind][layer] += _contract(kind, gr, src[name] - acts[name].detach()).mean(0).abs().cpu()
    for kind in kinds:
        if kind not in ("q", "k"):  # QK-fixed estimates keep |estimate| as their score
            out[kind]["score"] = total[kind] / n_layers
