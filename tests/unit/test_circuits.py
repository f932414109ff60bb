"""Edge attribution (interp.circuits): masked forward vs plain run_with_hooks, exact vs a per-edge loop,
faithfulness endpoints, EAP / EAP-IG vs exact."""

from __future__ import annotations

import pytest
import torch

from interp.patching.metrics import RowTargets, metric_from_last_logits

CLEAN = ["John lost his keys. Sarah said", "The cat sat on the mat. The ball"]
CORRUPT = ["Mary lost his keys. Sarah said", "The dog sat on the mat. The ball"]


def _batch(bridge, n=1):
    from interp.circuits.graph import Graph
    from interp.circuits.methods import Batch
    from interp.tokens import encode

    clean_t = torch.tensor([encode(bridge.tokenizer, t)[:12] for t in CLEAN[:n]])  # (n, 12)
    corrupt_t = clean_t.clone()
    corrupt_t[:, 1] = torch.tensor([40, 41][:n])  # the subject token swapped
    corrupt_t[:, 6] = torch.tensor([50, 51][:n])
    tg = RowTargets(torch.tensor([5] * n), torch.tensor([9] * n), clean_t)
    return Batch(bridge, Graph.of(bridge), clean_t, corrupt_t, tg, "logit-diff")


def _ref_edge(bridge, batch, src: str, dst: str) -> torch.Tensor:
    """Plain path patch of one edge: one run_with_hooks on the clean tokens, the destination input rebuilt as
    clean resid − (src clean output − src corrupt output), computed independently of interp.circuits."""
    cc, rc = batch.clean_cache, batch.corrupt_cache

    def out(cache, name):
        if name == "input":
            return cache["blocks.0.hook_resid_pre"]
        if name.startswith("m"):
            return cache[f"blocks.{name[1:]}.hook_mlp_out"]
        layer, head = map(int, name.split("."))
        z = cache[f"blocks.{layer}.attn.hook_z"][:, :, head]
        return z @ bridge.blocks[layer].attn.W_O[head]

    delta = out(cc, src) - out(rc, src)
    box = {}
    if dst == "logits":
        def hook(t, hook):
            box["r"] = t - delta
            return t - delta
        name = "ln_final.hook_in"
    elif dst.startswith("m"):
        name = f"blocks.{dst[1:]}.ln2.hook_in"

        def hook(t, hook):
            return t - delta
    else:
        layer, head, kind = dst.split(".")
        layer, head = int(layer), int(head)
        name = f"blocks.{layer}.attn.hook_{kind}"
        attn = bridge.blocks[layer].attn

        def hook(t, hook):
            x = cc[f"blocks.{layer}.hook_resid_pre"] - delta
            w, b = getattr(attn, "W_" + kind.upper())[head], getattr(attn, "b_" + kind.upper(), None)
            y = bridge.blocks[layer].ln1(x) @ w + (0 if b is None else b[head])
            t = t.clone()
            t[:, :, head] = y
            return t
    logits = bridge.run_with_hooks(batch.clean, fwd_hooks=[(name, hook)])
    return metric_from_last_logits("logit-diff", logits[:, -1], batch.targets)


@pytest.fixture(params=["gpt2", "gemma"])
def bridge(request, tiny_bridge, tiny_gemma_bridge):
    return tiny_bridge if request.param == "gpt2" else tiny_gemma_bridge


def test_masked_run_endpoints(bridge):
    b = _batch(bridge, 2)
    with torch.no_grad():
        clean_logits = bridge(b.clean)
        corrupt_logits = bridge(b.corrupt)
    m_clean, m_corrupt = b.baselines()
    torch.testing.assert_close(m_clean, metric_from_last_logits("logit-diff", clean_logits[:, -1], b.targets),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m_corrupt, metric_from_last_logits("logit-diff", corrupt_logits[:, -1], b.targets),
                               atol=1e-4, rtol=1e-4)


def test_exact_equals_plain_loop(bridge):
    from interp.circuits.methods import exact_scores

    b = _batch(bridge, 2)
    g = b.graph
    ex = exact_scores(b, rows=16)  # (n_edges, B)
    base = b.baselines()[0]
    names = g.edge_endpoints()
    # every edge into a sample of destinations of each kind (all edges on the small tiny graph is ~200 runs)
    picks = [i for i, (s, d) in enumerate(names) if d in ("1.1.q", "1.0.k", "0.0.v", "m1", "logits", "1.2.v")
             or (s == "0.3" and d.endswith(".q"))]
    assert len(picks) > 20
    for i in picks:
        s, d = names[i]
        ref = _ref_edge(bridge, b, s, d) - base
        torch.testing.assert_close(ex[i], ref, atol=1e-5, rtol=1e-5, msg=f"edge {s}->{d}")
