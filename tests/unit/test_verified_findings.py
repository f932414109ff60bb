"""Findings come from exact numbers only: AtP ranks, `verify_top` re-measures exactly (checked against exact
patching of every head), and an unverified estimate never reaches a Findings table (patching, causal coref,
ablation sweep sections)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reports.collect import Stage
from reports.sections import get_section


def _stage(kind: str, data: dict) -> Stage:
    return Stage(rel="x", source="x/results.json", kind=kind, data={"schema_version": 1, "kind": kind, **data})


@pytest.fixture(scope="module")
def coref_gap_bridge(tmp_path_factory):
    """A tiny GPT-2 (init std 0.3, so the clean−corrupt gap is far above rounding) with a BPE trained on the
    built-in coreference texts (names and pronouns are single tokens)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp import hooked
    from interp.tokenizer import train_bpe
    from probes.coref_data import builtin_examples

    tok = train_bpe([e.text for e in builtin_examples(8)] * 3, vocab_size=400)
    d = tmp_path_factory.mktemp("coref_gap")
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.3,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tok.bos_token_id,
                     eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    return hooked.load(str(d))


@pytest.fixture(scope="module")
def examples():
    from probes.coref_data import builtin_examples

    return [e for e in builtin_examples(1) if e.category in ("possessive", "subject")]


def test_verified_top_heads_equal_exact_patching(coref_gap_bridge, examples):
    from probes.coref_causal import CausalConfig, coref_causal

    exact = coref_causal(coref_gap_bridge, examples, CausalConfig(top_k=3, method="exact")).to_dict()
    assert exact["gap_meaningful"] is True and exact["top_heads_source"] == "exact"
    ver = coref_causal(coref_gap_bridge, examples, CausalConfig(top_k=3, method="atp", verify_top=5)).to_dict()
    assert ver["top_heads_source"] == "exact (verified top-5 of atp)" and ver["head_fraction_method"] == "atp"
    assert len(ver["top_heads"]) == 3
    grid = np.array(exact["head_fraction"], dtype=float)
    for t in ver["top_heads"]:
        assert t["verified"] is True and t["ci_low"] <= t["fraction"] <= t["ci_high"]
        # the independent reference: exact patching of every head (a different code path: the full grid)
        assert t["fraction"] == pytest.approx(grid[t["layer"], t["head_index"]], abs=1e-4)
    fr = [t["fraction"] for t in ver["top_heads"]]
    assert fr == sorted(fr, reverse=True)
    f = get_section("coref_causal").findings(_stage("coref_causal", ver))
    carrier = [x for x in f if "carrier" in x.label]
    assert len(carrier) == 1 and "verified" in carrier[0].value and carrier[0].interval.startswith("95% bootstrap")
    assert not [x for x in f if x.label == "Look vs carry"]  # Spearman over AtP estimates: not a finding


def test_unverified_estimate_never_reaches_findings(coref_gap_bridge, examples):
    from probes.coref_causal import CausalConfig, coref_causal

    d = coref_causal(coref_gap_bridge, examples, CausalConfig(top_k=3, method="atp")).to_dict()
    assert d["top_heads_source"] == "atp (estimate, not verified)"
    assert all(t["verified"] is False for t in d["top_heads"])
    assert get_section("coref_causal").findings(_stage("coref_causal", d)) == []
    built = get_section("coref_causal").build(_stage("coref_causal", d))
    text = repr(built.blocks)
    assert "not a finding" in text and "ESTIMATE" in text


def test_patching_section_findings_only_from_exact():
    sec = get_section("patching")
    base = {"metric": "logit-diff", "gap": 1.0, "gap_meaningful": True, "components": {}}
    atp_top = {"atp": [{"component": "1.2", "kind": "heads", "fraction": 1.67, "score": 3.0}]}
    assert sec.findings(_stage("patching", {**base, "top": atp_top, "verify": {}})) == []
    ver = {"atp": [{"component": "1.2", "kind": "heads", "layer": 1, "slot": 2, "estimate": 1.67, "exact": 0.92},
                   {"component": "0.1", "kind": "heads", "layer": 0, "slot": 1, "estimate": 0.5, "exact": 0.1}]}
    (f,) = sec.findings(_stage("patching", {**base, "top": atp_top, "verify": ver}))
    assert "1.2 restores 92%" in f.value and "verified" in f.label and "167" not in f.line


def test_ablation_sweep_estimate_findings_only_from_verified():
    sec = get_section("ablation_sweep")
    d = {"estimate": "atp", "delta_loss": [[0.5, 0.1]], "clean_loss": 3.0, "ranking": [], "verify": []}
    assert sec.findings(_stage("ablation_sweep", d)) == []
    d["verify"] = [{"head": "0.0", "estimate": 0.5, "exact": 0.31}, {"head": "0.1", "estimate": 0.1, "exact": 0.02}]
    (f,) = sec.findings(_stage("ablation_sweep", d))
    assert "0.0: Δloss +0.310" in f.value and "verified" in f.label


def test_demo_causal_stage_verifies():
    from interp.demo import GEMMA_VERIFY_TOP, STAGES, DemoConfig

    st = next(s for s in STAGES if s.name == "gemma/coref-causal")
    argv = st.argv(DemoConfig(gemma=False))
    assert argv[argv.index("--verify-top") + 1] == str(GEMMA_VERIFY_TOP) and GEMMA_VERIFY_TOP >= 5
