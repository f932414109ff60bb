"""Edge scores and circuit runs on one batch of equal-length pairs (graph.masked_run does the forward).

Every score estimates the same quantity, the effect of patching ONE edge to its corrupt-run value on the
clean run:  effect(e) = m(clean, e patched) − m(clean)  (row mean over the pairs).

    exact      path patching, one masked forward per edge (copies batched: `rows` per forward).
    eap        (Syed et al. 2023) ∂m/∂m_e at the clean run = −(out_s(clean) − out_s(corrupt)) · ∂m/∂x_d:
               one clean forward with grad + one backward (+ the two caching forwards).
    eap-ig:N   (Hanna et al. 2024) the same gradient averaged over N inputs on the straight line from the
               corrupt to the clean input embedding (blocks.0.hook_resid_pre), α = k/N, k = 1..N (right
               Riemann sum; N = 1 is EAP): N forwards + backwards, batched as copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from interp.circuits.graph import Graph, masked_run, one_hot_masks, run_cache, source_outputs
from interp.patching.metrics import RowTargets


class Batch:
    """Clean/corrupt tokens (B, T), targets, and both runs' source outputs (n_src, B, T, d_model)."""

    def __init__(self, bridge: Any, graph: Graph, clean: torch.Tensor, corrupt: torch.Tensor, targets: RowTargets,
                 kind: str) -> None:
        self.bridge, self.graph, self.clean, self.corrupt, self.targets, self.kind = (
            bridge, graph, clean, corrupt, targets, kind)
        self.clean_cache = run_cache(bridge, clean, graph)
        self.corrupt_cache = run_cache(bridge, corrupt, graph)
        self.clean_out = source_outputs(bridge, self.clean_cache, graph)
        self.corrupt_out = source_outputs(bridge, self.corrupt_cache, graph)

    def run(self, mask: torch.Tensor, **kw: Any) -> torch.Tensor:
        return masked_run(self.bridge, self.graph, self.clean, self.targets, self.kind, mask, self.corrupt_out, **kw)

    @torch.no_grad()
    def baselines(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(m(clean), m(corrupt)) per row (B,), via the masked forward with no edge / every edge patched."""
        e = self.graph.n_edges
        v = self.run(torch.stack([torch.zeros(e), torch.ones(e)]))
        return v[0], v[1]


def _chunks(n: int, per: int) -> list[range]:
    return [range(i, min(n, i + per)) for i in range(0, n, per)]


def copies_per_forward(batch: Batch, rows: int) -> int:
    return max(1, rows // max(1, batch.clean.shape[0]))


@torch.no_grad()
def exact_scores(batch: Batch, rows: int = 64, progress: Any = None) -> torch.Tensor:
    """effect(e) per edge and pair: (n_edges, B)."""
    e = batch.graph.n_edges
    base, _ = batch.baselines()
    out = torch.zeros(e, batch.clean.shape[0])
    for idx in _chunks(e, copies_per_forward(batch, rows)):
        out[idx.start:idx.stop] = batch.run(one_hot_masks(list(idx), e)) - base
        if progress is not None:
            progress(len(idx))
    return out


def ig_scores(batch: Batch, steps: int, rows: int = 64) -> torch.Tensor:
    """EAP (steps = 1) / EAP-IG mean gradient score per edge (n_edges,), row mean over the pairs."""
    e, b = batch.graph.n_edges, batch.clean.shape[0]
    x_clean = batch.clean_out[0]  # (B, T, d)
    x_corr = batch.corrupt_out[0]
    total = torch.zeros(e, dtype=torch.float64)
    for idx in _chunks(steps, copies_per_forward(batch, rows)):
        alpha = torch.tensor([(k + 1) / steps for k in idx], dtype=x_clean.dtype)  # (C,)
        inp = x_corr[None] + alpha[:, None, None, None] * (x_clean - x_corr)[None]  # (C, B, T, d)
        mask = torch.zeros(len(idx), e, requires_grad=True)
        with torch.enable_grad():
            vals = masked_run(batch.bridge, batch.graph, batch.clean, batch.targets, batch.kind, mask,
                              batch.corrupt_out, delta="fixed", clean_out=batch.clean_out, input_resid=inp)
            (g,) = torch.autograd.grad(vals.sum(), [mask])
        total += g.double().sum(0)
    return (total / (steps * b)).float()


@torch.no_grad()
def circuit_metrics(batch: Batch, keep: torch.Tensor, rows: int = 64) -> torch.Tensor:
    """keep (K, n_edges) bool: circuits (True = in the circuit, clean) → m per circuit and row (K, B)."""
    out = []
    for idx in _chunks(keep.shape[0], copies_per_forward(batch, rows)):
        out.append(batch.run((~keep[idx.start:idx.stop]).float()))
    return torch.cat(out, 0)


def top_mask(scores: Sequence[float], sizes: Sequence[int]) -> torch.Tensor:
    """Circuits of the top-k edges by |score| (ties: lower edge index first) for each k: (len(sizes), n_edges)."""
    s = torch.as_tensor(list(scores), dtype=torch.float64).abs()
    order = torch.as_tensor(sorted(range(len(s)), key=lambda i: (-float(s[i]), i)), dtype=torch.long)
    keep = torch.zeros(len(sizes), len(s), dtype=torch.bool)
    for j, k in enumerate(sizes):
        keep[j, order[:k]] = True
    return keep


def random_mask(n_edges: int, sizes: Sequence[int], gen: torch.Generator) -> torch.Tensor:
    keep = torch.zeros(len(sizes), n_edges, dtype=torch.bool)
    for j, k in enumerate(sizes):
        keep[j, torch.randperm(n_edges, generator=gen)[:k]] = True
    return keep
