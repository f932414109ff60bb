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


def test_eap_ig_one_step_is_eap_and_eap_matches_mask_gradient(bridge):
    from interp.circuits.methods import ig_scores

    b = _batch(bridge, 2)
    torch.testing.assert_close(ig_scores(b, 1), ig_scores(b, 1, rows=1))
    eap = ig_scores(b, 1)
    # EAP is the derivative of the masked run's metric in the edge mask at 0: check a few by finite differences
    e = b.graph.n_edges
    base = b.run(torch.zeros(1, e))[0].mean()
    big = sorted(range(e), key=lambda i: -abs(float(eap[i])))[:3]
    for i in big:
        m = torch.zeros(1, e, dtype=torch.float64)
        h = 1e-3
        m[0, i] = h
        with torch.no_grad():
            fd = (b.run(m.float())[0].mean() - base) / h
        assert float(fd) == pytest.approx(float(eap[i]), rel=0.05, abs=1e-4)


def test_faithfulness_endpoints_and_result(tiny_gpt2_dir):
    from interp.circuits.api import circuit
    from interp.patching.api import Pair

    pairs = [Pair("John lost his keys. Sarah said", "Mary lost his keys. Sarah said", " the", " cat"),
             Pair("The cat sat on the mat. The", "The the sat on the mat. The", " the", " cat")]
    res = circuit(str(tiny_gpt2_dir), pairs=pairs, metric="logit-diff", method="eap-ig:3", compare=("exact", "eap"),
                  curve_points=5, n_boot=50)
    d = res.to_dict()
    cv = d["curve"]
    assert cv["sizes"][0] == 0 and cv["sizes"][-1] == d["n_edges"]
    assert cv["faithfulness"][0] == pytest.approx(0.0, abs=1e-4)
    assert cv["faithfulness"][-1] == pytest.approx(1.0, abs=1e-4)
    assert set(d["comparison"]) == {"eap-ig:3", "eap"}
    assert len(d["scores"]["exact"]) == d["n_edges"] == len(d["edges"])
    assert d["circuit"]["rule"].startswith("smallest")


def test_eap_ig_closer_to_exact_than_eap(bridge):
    """Measured on the tiny models: EAP-IG's total absolute error vs exact is well below EAP's (GPT-2: 0.0015 vs
    0.0068 with 10 steps); Spearman of both is reported by `circuit(compare=...)`."""
    from interp.circuits.methods import exact_scores, ig_scores

    b = _batch(bridge, 2)
    ex = exact_scores(b).mean(1)
    err_eap = (ig_scores(b, 1) - ex).abs().sum()
    err_ig = (ig_scores(b, 10) - ex).abs().sum()
    assert float(err_ig) < 0.7 * float(err_eap)


def test_report_and_figures(tiny_gpt2_dir, tmp_path):
    from interp.circuits.api import circuit
    from interp.patching.api import Pair
    from reports.api import report

    res = circuit(str(tiny_gpt2_dir), pairs=[Pair("John lost his keys. Sarah said", "Mary lost his keys. Sarah said",
                                                   " the", " cat")], method="eap", curve_points=4, n_boot=0)
    paths = res.save(tmp_path / "results" / "circuit")
    assert {p.name for p in paths} >= {"circuit_graph.svg", "circuit_faithfulness.png", "results.json"}
    rep = report(tmp_path / "results", out=tmp_path / "report", format="html")
    html = open(rep.outputs["html"], encoding="utf-8").read()
    assert "Circuits (edge attribution)" in html
    assert any(line.startswith("Circuit (eap") for line in rep.findings)
