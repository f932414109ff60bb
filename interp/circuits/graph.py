"""The residual graph of a decoder-only transformer and ONE masked forward that every method uses.

Nodes (TransformerLens vocabulary). Sources, in this order: `input` (blocks.0.hook_resid_pre: token +
position embeddings, Gemma's scaling included), then per layer L every head `L.H` (its residual write
z[:, :, H] @ W_O[H], from blocks.L.attn.hook_z) and the MLP `mL` (blocks.L.hook_mlp_out). Destinations: per
layer L the query / key / value input of every head (`L.H.q`, `L.G.k`, `L.G.v`; G runs over the n_kv_heads
key/value heads, so a GQA model has fewer k/v destinations), the MLP input `mL` (blocks.L.ln2.hook_in) and
`logits` (ln_final.hook_in). An edge joins every source upstream of a destination to it: `0.1->1.2.q`,
`input->m0`, `m1->logits`.

The masked forward. Each edge e = (s, d) has a mask value m_e (0 = clean, 1 = patched to corrupt) and the
destination's input is rebuilt as

    x_d = resid − Σ_s m_(s,d) · Δ_s          Δ_s = out_s − out_s(corrupt run)

where resid is the residual at d in the current run. With `delta="current"` out_s is the current run's own
source output (the definition of path patching an edge, and of a circuit run: every edge outside the circuit
gets its corrupt-run value); with `delta="fixed"` it is the clean run's (for gradients along an input path:
EAP-IG). Per-head q/k/v inputs are separate, so the head's q/k/v is recomputed from its own x_d: ln1(x_d) @
W_Q[H] + b_Q[H] (ln1 is the model's own norm module), replacing that head's slice of hook_q/k/v before the
model's attention code (rotary, softmax) runs. m = 0 reproduces the clean forward; m = 1 everywhere
reproduces the corrupt forward (tests). Masks carry a leading copy axis C: row c·B + b of the expanded batch
uses mask row c (several patches per forward; several IG steps per forward).

Supported: models whose attention output is Σ_H z_H W_O[H] + b_O and whose residual is pre-norm sequential
(GPT-2, Llama, Gemma 1, Qwen2, ...). `check_supported` refuses the rest (post-attention norms, parallel blocks)
before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.patching.metrics import RowTargets, final_logits, metric_from_last_logits, metric_from_logits

FINAL = "ln_final.hook_in"


class _Stop(Exception):
    pass


@dataclass(frozen=True)
class Graph:
    """Indexing of sources, destinations and edges for n_layers × n_heads (n_kv k/v heads)."""

    n_layers: int
    n_heads: int
    n_kv: int

    @classmethod
    def of(cls, bridge: Any) -> Graph:
        cfg = bridge.cfg
        kv = int(getattr(cfg, "n_key_value_heads", None) or cfg.n_heads)
        return cls(int(cfg.n_layers), int(cfg.n_heads), kv)

    # sources ------------------------------------------------------------------------------
    def head_src(self, layer: int, head: int) -> int:
        return 1 + layer * (self.n_heads + 1) + head

    def mlp_src(self, layer: int) -> int:
        return 1 + layer * (self.n_heads + 1) + self.n_heads

    def n_up_attn(self, layer: int) -> int:
        return 1 + layer * (self.n_heads + 1)

    def n_up_mlp(self, layer: int) -> int:
        return self.n_up_attn(layer) + self.n_heads

    @property
    def n_src(self) -> int:
        return 1 + self.n_layers * (self.n_heads + 1)

    def src_names(self) -> list[str]:
        out = ["input"]
        for layer in range(self.n_layers):
            out += [f"{layer}.{h}" for h in range(self.n_heads)] + [f"m{layer}"]
        return out

    # destinations: (name, number of upstream sources) in edge order ------------------------
    def dests(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for layer in range(self.n_layers):
            nu = self.n_up_attn(layer)
            out += [(f"{layer}.{h}.q", nu) for h in range(self.n_heads)]
            out += [(f"{layer}.{g}.k", nu) for g in range(self.n_kv)]
            out += [(f"{layer}.{g}.v", nu) for g in range(self.n_kv)]
            out.append((f"m{layer}", self.n_up_mlp(layer)))
        out.append(("logits", self.n_src))
        return out

    def layout(self) -> dict[str, tuple[int, int, int]]:
        """Destination block → (edge offset, rows, upstream sources): blocks q{L}, k{L}, v{L}, m{L}, logits."""
        out, off = {}, 0
        for layer in range(self.n_layers):
            nu = self.n_up_attn(layer)
            for kind, rows in (("q", self.n_heads), ("k", self.n_kv), ("v", self.n_kv)):
                out[f"{kind}{layer}"] = (off, rows, nu)
                off += rows * nu
            out[f"m{layer}"] = (off, 1, self.n_up_mlp(layer))
            off += self.n_up_mlp(layer)
        out["logits"] = (off, 1, self.n_src)
        return out

    @property
    def n_edges(self) -> int:
        return sum(n for _, n in self.dests())

    def edge_names(self) -> list[str]:
        src = self.src_names()
        return [f"{src[s]}->{d}" for d, nu in self.dests() for s in range(nu)]

    def edge_endpoints(self) -> list[tuple[str, str]]:
        src = self.src_names()
        return [(src[s], d) for d, nu in self.dests() for s in range(nu)]


@torch.no_grad()
def check_supported(bridge: Any, cache: dict[str, torch.Tensor], graph: Graph) -> None:
    """UserError unless attn_out = Σ heads + b_O and the residual adds attn then MLP (checked on a clean run)."""
    for layer in range(graph.n_layers):
        heads = head_outputs(bridge, layer, cache[f"blocks.{layer}.attn.hook_z"]).sum(0)
        b_o = getattr(bridge.blocks[layer].attn, "b_O", None)
        if b_o is not None:
            heads = heads + b_o
        pre, mid = cache[f"blocks.{layer}.hook_resid_pre"], cache[f"blocks.{layer}.hook_resid_mid"]
        scale = float(pre.abs().max()) + 1.0
        bad = [(heads - cache[f"blocks.{layer}.hook_attn_out"]).abs().max(),
               (pre + cache[f"blocks.{layer}.hook_attn_out"] - mid).abs().max(),
               (mid + cache[f"blocks.{layer}.hook_mlp_out"] - cache[f"blocks.{layer}.hook_resid_post"]).abs().max()]
        if max(float(b) for b in bad) > 1e-4 * scale:
            raise UserError(f"layer {layer}: this architecture's residual is not a sum of per-head writes, attention "
                            "output and MLP output (a norm after attention or a parallel block?); the edge graph "
                            "supports pre-norm sequential models (GPT-2, Llama, Gemma 1, Qwen2)")


def head_outputs(bridge: Any, layer: int, z: torch.Tensor) -> torch.Tensor:
    """z (N, T, H, d_head) → each head's residual write (H, N, T, d_model) (no b_O)."""
    return torch.einsum("nthe,hed->hntd", z, bridge.blocks[layer].attn.W_O)


@torch.no_grad()
def source_outputs(bridge: Any, cache: dict[str, torch.Tensor], graph: Graph) -> torch.Tensor:
    """Every source's output in a cached run: (n_src, B, T, d_model)."""
    outs = [cache["blocks.0.hook_resid_pre"][None]]
    for layer in range(graph.n_layers):
        outs.append(head_outputs(bridge, layer, cache[f"blocks.{layer}.attn.hook_z"]))
        outs.append(cache[f"blocks.{layer}.hook_mlp_out"][None])
    return torch.cat(outs, 0)


def cache_names(graph: Graph) -> list[str]:
    names = ["blocks.0.hook_resid_pre"]
    for layer in range(graph.n_layers):
        names += [f"blocks.{layer}.{n}" for n in ("hook_resid_pre", "attn.hook_z", "hook_attn_out", "hook_resid_mid",
                                                   "hook_mlp_out", "hook_resid_post")]
    return names


@torch.no_grad()
def run_cache(bridge: Any, tokens: torch.Tensor, graph: Graph) -> dict[str, torch.Tensor]:
    names = set(cache_names(graph))
    store: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def fn(t: torch.Tensor, hook: Any) -> torch.Tensor:
            store[name] = t.detach()
            return t
        return fn

    bridge.run_with_hooks(tokens, fwd_hooks=[(n, keep(n)) for n in sorted(names)])
    return store


def metric_rows(bridge: Any, resid: torch.Tensor, kind: str, targets: RowTargets) -> torch.Tensor:
    """Final residual (N, T, d_model) → metric per row (N,)."""
    if kind == "loss":
        return metric_from_logits(kind, final_logits(bridge, resid), targets)
    return metric_from_last_logits(kind, final_logits(bridge, resid[:, -1]), targets)


def masked_run(bridge: Any, graph: Graph, tokens: torch.Tensor, targets: RowTargets, kind: str, mask: torch.Tensor,
               corrupt_out: torch.Tensor, delta: str = "current", clean_out: torch.Tensor | None = None,
               input_resid: torch.Tensor | None = None) -> torch.Tensor:
    """The metric per row (C, B) of the clean tokens (B, T) run with edge masks `mask` (C, n_edges).

    corrupt_out / clean_out: source outputs of the corrupt / clean run (n_src, B, T, d_model); delta "current"
    (path patching, circuits) or "fixed" (Δ = clean − corrupt, needs clean_out). input_resid (C, B, T, d_model)
    replaces blocks.0.hook_resid_pre (IG's interpolated inputs). Differentiable in `mask` and `input_resid`."""
    c, b = mask.shape[0], tokens.shape[0]
    lay = graph.layout()
    grad = mask.requires_grad
    outs: list[torch.Tensor] = []  # current source outputs, each (C, B, T, d)
    resid_pre: dict[int, torch.Tensor] = {}
    fixed = (clean_out - corrupt_out) if delta == "fixed" else None
    box: dict[str, torch.Tensor] = {}

    def deltas(n: int) -> torch.Tensor:  # (n, C, B, T, d)
        if fixed is not None:
            return fixed[:n, None].expand(n, c, *fixed.shape[1:])
        return torch.stack(outs[:n]) - corrupt_out[:n, None]

    def m_block(key: str) -> torch.Tensor:  # (C, rows, n_up)
        off, rows, nu = lay[key]
        return mask[:, off:off + rows * nu].view(c, rows, nu)

    def patched(t: torch.Tensor, key: str) -> torch.Tensor:  # residual (C·B, T, d) at a 1-row destination
        m = m_block(key)[:, 0]
        if not grad and not bool(m.any()):
            return t
        d = deltas(m.shape[1])
        x = t.view(c, b, *t.shape[1:]) - torch.einsum("cs,scbtd->cbtd", m.to(d.dtype), d)
        return x.reshape(t.shape)

    def embed(t: torch.Tensor, hook: Any) -> torch.Tensor:
        if input_resid is not None:
            t = input_resid.reshape(c * b, *input_resid.shape[2:]).to(t.dtype)
        outs.append(t.view(c, b, *t.shape[1:]))
        resid_pre[0] = t
        return t

    def pre(layer: int):
        def fn(t: torch.Tensor, hook: Any) -> torch.Tensor:
            resid_pre[layer] = t
            return t
        return fn

    def qkv(layer: int, kind_: str):
        attn = bridge.blocks[layer].attn
        w = {"q": attn.W_Q, "k": attn.W_K, "v": attn.W_V}[kind_]  # (rows, d_model, d_head)
        bias = getattr(attn, "b_" + kind_.upper(), None)

        def fn(t: torch.Tensor, hook: Any) -> torch.Tensor:  # t (C·B, T, rows, d_head)
            m = m_block(f"{kind_}{layer}")  # (C, rows, n_up)
            if not grad and not bool(m.any()):
                return t
            rows = m.shape[1]
            r = resid_pre[layer].view(c, b, *resid_pre[layer].shape[1:])  # (C, B, T, d)
            d = deltas(m.shape[2])
            x = r[:, :, None] - torch.einsum("chs,scbtd->cbhtd", m.to(d.dtype), d)  # (C, B, rows, T, d)
            ln = bridge.blocks[layer].ln1(x.reshape(c * b * rows, *x.shape[3:])).view(x.shape)
            y = torch.einsum("cbhtd,hde->cbthe", ln, w)
            if bias is not None:
                y = y + bias
            return y.reshape(t.shape).to(t.dtype)
        return fn

    def z_out(layer: int):
        def fn(t: torch.Tensor, hook: Any) -> torch.Tensor:
            h = head_outputs(bridge, layer, t).view(graph.n_heads, c, b, *t.shape[1:2], -1)
            outs.extend(h.unbind(0))
            return t
        return fn

    def mlp_in(layer: int):
        return lambda t, hook: patched(t, f"m{layer}")

    def mlp_out(t: torch.Tensor, hook: Any) -> torch.Tensor:
        outs.append(t.view(c, b, *t.shape[1:]))
        return t

    def final(t: torch.Tensor, hook: Any) -> torch.Tensor:
        box["resid"] = patched(t, "logits")
        raise _Stop

    hooks: list[tuple[str, Any]] = [("blocks.0.hook_resid_pre", embed)]
    for layer in range(graph.n_layers):
        if layer:
            hooks.append((f"blocks.{layer}.hook_resid_pre", pre(layer)))
        hooks += [(f"blocks.{layer}.attn.hook_{k}", qkv(layer, k)) for k in ("q", "k", "v")]
        hooks += [(f"blocks.{layer}.attn.hook_z", z_out(layer)), (f"blocks.{layer}.ln2.hook_in", mlp_in(layer)),
                  (f"blocks.{layer}.hook_mlp_out", mlp_out)]
    hooks.append((FINAL, final))
    try:
        bridge.run_with_hooks(tokens.repeat(c, 1), fwd_hooks=hooks)
    except _Stop:
        pass
    return metric_rows(bridge, box["resid"], kind, targets.repeat(c)).view(c, b)


def one_hot_masks(edges: Sequence[int], n_edges: int) -> torch.Tensor:
    m = torch.zeros(len(edges), n_edges)
    m[torch.arange(len(edges)), torch.as_tensor(list(edges), dtype=torch.long)] = 1.0
    return m
