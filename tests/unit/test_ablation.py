"""Head ablation: hooks touch only the ablated heads, no-op ablation is exact, the batched sweep equals the
per-head run_with_hooks loop, resampling is seeded, and the CLI writes results + figures or fails in one line."""

from __future__ import annotations

import json

import pytest
import torch

from interp.ablation import (
    METHODS,
    AblationConfig,
    ablate_windows,
    ablation_hooks,
    ablation_values,
    eval_windows,
    resample_sources,
    sweep,
    token_losses,
    window_bos,
)
from interp.errors import UserError

TEXT = "John lost his keys. Sarah said she was tired. The cat sat on the mat. Mary gave her book to Tom. " * 6


def windows(bridge, n_ctx: int = 16, max_tokens: int = 96) -> torch.Tensor:
    return eval_windows(bridge.tokenizer, [TEXT, "The ball rolled. It stopped. " * 4], n_ctx, max_tokens)


def test_eval_windows_shape_bound_and_eot(tiny_bridge):
    tok = tiny_bridge.tokenizer
    bos = tok.bos_token_id
    w = eval_windows(tok, ["The cat sat.", "The ball rolled."], context=4, max_tokens=100)
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in ("The cat sat.", "The ball rolled.")]
    stream = ids[0] + [tok.eos_token_id] + ids[1]
    assert w.shape[1] == 4 and (w[:, 0] == bos).all()
    assert w[:, 1:].flatten().tolist() == stream[: w.shape[0] * 3]  # BOS + docs joined by EOT, no overlap
    assert eval_windows(tok, [TEXT], context=16, max_tokens=50).shape == (3, 16)  # ≤ max_tokens
    assert eval_windows(tok, ["The cat"], context=16, max_tokens=50).shape[0] == 1  # short text: one shorter window
    with pytest.raises(UserError, match="max_tokens must be at least 3"):
        eval_windows(tok, [TEXT], context=16, max_tokens=2)


def test_bos_windows_follow_the_one_rule(tiny_bridge, tiny_gemma_bridge):
    from types import SimpleNamespace

    from interp import tokens

    tok = tiny_bridge.tokenizer
    assert window_bos(tok) == tokens.bos_id(tok) == tok.bos_token_id  # GPT-2 style: <|endoftext|>
    assert window_bos(SimpleNamespace(bos_token_id=None, eos_token_id=1)) == 1  # BOS else EOS
    w = eval_windows(tok, [TEXT], context=8, max_tokens=40)
    assert w.shape == (5, 8) and (w[:, 0] == tok.bos_token_id).all()
    torch.testing.assert_close(w, tokens.eval_windows(tok, [TEXT], 8, 40), atol=0, rtol=0)
    with pytest.raises(ValueError, match="one BOS rule"):
        eval_windows(tok, [TEXT], context=8, max_tokens=40, bos_token_id=None)
    g = tiny_gemma_bridge.tokenizer
    wg = eval_windows(g, [TEXT], context=8, max_tokens=40)
    assert (wg[:, 0] == tokens.bos_id(g)).all()


def test_zero_ablation_changes_hook_z_only_for_that_head(tiny_bridge):
    x = windows(tiny_bridge)[:2]
    _, cache = tiny_bridge.run_with_cache(x)
    values = ablation_values(tiny_bridge, x, [(1, 2)], "zero")
    seen = {}

    def capture(z, hook):
        seen["z"] = z.detach().clone()

    (name, fn), = ablation_hooks(values)
    assert name == "blocks.1.attn.hook_z"
    with torch.no_grad():
        tiny_bridge.run_with_hooks(x, fwd_hooks=[(name, fn), (name, capture)])
    z_clean = cache[name]  # (B, T, n_heads, d_head)
    z = seen["z"]
    assert torch.count_nonzero(z[:, :, 2]) == 0
    others = [0, 1, 3]
    torch.testing.assert_close(z[:, :, others], z_clean[:, :, others], atol=0, rtol=0)
    assert torch.count_nonzero(z_clean[:, :, 2]) > 0
    # layer 0 is untouched by a layer-1 ablation
    out = fn(z_clean.clone())
    torch.testing.assert_close(out[:, :, others], z_clean[:, :, others], atol=0, rtol=0)


def test_no_heads_equals_clean_exactly(tiny_bridge):
    x = windows(tiny_bridge)[:3]
    values = ablation_values(tiny_bridge, x, [], "mean")
    assert ablation_hooks(values) == []
    with torch.no_grad():
        torch.testing.assert_close(tiny_bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values)), tiny_bridge(x),
                                   atol=0, rtol=0)
    r = ablate_windows(tiny_bridge, x, [], AblationConfig(max_new_tokens=3))
    assert r.delta_loss == 0.0 and r.clean_loss == r.ablated_loss and r.delta.frac_hurt == 0.0
    assert r.generation is not None and r.generation.same


def test_per_head_outputs_sum_to_attn_out(tiny_bridge):
    x = windows(tiny_bridge)[:2]
    _, cache = tiny_bridge.run_with_cache(x)
    for layer in range(tiny_bridge.cfg.n_layers):
        attn = tiny_bridge.blocks[layer].attn
        z = cache[f"blocks.{layer}.attn.hook_z"]  # (B, T, H, d_head)
        per_head = torch.einsum("bthd,hdm->bthm", z, attn.W_O)  # (B, T, H, d_model)
        torch.testing.assert_close(per_head.sum(2) + attn.b_O, cache[f"blocks.{layer}.hook_attn_out"],
                                   atol=1e-5, rtol=0)


def test_mean_of_a_single_position_is_that_z(tiny_bridge):
    x = windows(tiny_bridge)[:1, :1]  # one window, one position
    _, cache = tiny_bridge.run_with_cache(x)
    values = ablation_values(tiny_bridge, x, [(0, 1), (0, 3), (1, 0)], "mean")
    torch.testing.assert_close(values.mean[0], cache["blocks.0.attn.hook_z"][0, 0, [1, 3]], atol=1e-6, rtol=0)
    torch.testing.assert_close(values.mean[1], cache["blocks.1.attn.hook_z"][0, 0, [0]], atol=1e-6, rtol=0)
    with torch.no_grad():  # replacing z by its own mean changes nothing
        torch.testing.assert_close(tiny_bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values)), tiny_bridge(x),
                                   atol=1e-5, rtol=0)


def test_resample_sources_come_from_elsewhere():
    g = torch.Generator().manual_seed(0)
    src = resample_sources(5, 7, g)  # flat index into 5·7
    assert ((src // 7) != torch.arange(5)[:, None]).all()  # another window
    one = resample_sources(1, 7, torch.Generator().manual_seed(0))
    assert (one != torch.arange(7)[None]).all()  # a single window: another position


def test_resample_is_seeded_and_deterministic(tiny_bridge):
    x = windows(tiny_bridge)
    cfg = AblationConfig(method="resample", seed=3, max_new_tokens=4)
    a = ablate_windows(tiny_bridge, x, [(0, 1), (1, 3)], cfg).to_dict()
    b = ablate_windows(tiny_bridge, x, [(0, 1), (1, 3)], cfg).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    v3 = ablation_values(tiny_bridge, x, [(0, 1)], "resample", seed=3)
    v4 = ablation_values(tiny_bridge, x, [(0, 1)], "resample", seed=4)
    assert not torch.equal(v3.bank[0], v4.bank[0])
    _, cache = tiny_bridge.run_with_cache(x)  # every replacement is some real eval position's z
    pool = cache["blocks.0.attn.hook_z"][:, :, 1].reshape(-1, tiny_bridge.cfg.d_head)
    bank = v3.bank[0].reshape(-1, tiny_bridge.cfg.d_head)
    dist = (bank[:, None] - pool[None]).abs().amax(-1)  # (N·T, N·T) max-abs distance
    assert dist.min(dim=1).values.max() < 1e-5


def test_ablate_reports_losses_profile_and_generation(tiny_bridge):
    x = windows(tiny_bridge)
    r = ablate_windows(tiny_bridge, x, [(0, 0), (0, 1), (0, 2), (0, 3)], AblationConfig(max_new_tokens=6, n_buckets=4))
    n, t = x.shape
    assert r.n_tokens_scored == n * (t - 1)
    assert r.ablated_loss != r.clean_loss
    assert r.delta_loss == pytest.approx(r.ablated_loss - r.clean_loss, abs=1e-6)
    assert r.delta.mean == pytest.approx(r.delta_loss, abs=1e-6)
    assert 0 <= r.delta.frac_hurt <= 1 and r.delta.median <= r.delta.p90 <= r.delta.max
    assert [(b.start, b.end) for b in r.by_position] == [(0, 4), (4, 8), (8, 11), (11, 15)]
    assert sum(b.n_tokens for b in r.by_position) == r.n_tokens_scored
    g = r.generation
    assert len(g.clean.tokens) == len(g.ablated.tokens) == 6 and 0 < g.ablated.distinct_1 <= 1
    d = r.to_dict()
    assert d["kind"] == "ablation" and d["heads"] == [[0, 0], [0, 1], [0, 2], [0, 3]]
    with pytest.raises(UserError, match="does not exist"):
        ablate_windows(tiny_bridge, x, [(5, 0)], AblationConfig())


@pytest.mark.parametrize("fixture", ["tiny_bridge", "tiny_gemma_bridge"])
@pytest.mark.parametrize("method", METHODS)
def test_batched_sweep_equals_per_head_loop(fixture, method, request):
    bridge = request.getfixturevalue(fixture)
    x = windows(bridge, n_ctx=12, max_tokens=60)  # 5 windows; batch 4 → ragged chunks
    cfg = AblationConfig(method=method, batch_size=4, seed=1)
    fast = sweep(bridge, x, cfg, batched=True)
    slow = sweep(bridge, x, cfg, batched=False)
    assert fast.clean_loss == pytest.approx(slow.clean_loss, abs=1e-6)
    torch.testing.assert_close(torch.tensor(fast.delta_loss), torch.tensor(slow.delta_loss), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(fast.frac_hurt), torch.tensor(slow.frac_hurt), atol=1e-5, rtol=0)
    assert torch.tensor(fast.delta_loss).abs().max() > 0
    # single-head ablate agrees with the sweep cell
    one = ablate_windows(bridge, x, [(1, 2)], AblationConfig(method=method, batch_size=4, seed=1, max_new_tokens=0))
    assert one.delta_loss == pytest.approx(fast.delta_loss[1][2], abs=1e-5)


def test_sweep_subset_leaves_other_cells_empty(tiny_bridge):
    x = windows(tiny_bridge)[:2]
    r = sweep(tiny_bridge, x, AblationConfig(), heads=[(1, 0), (1, 3), (0, 2)])
    loop = sweep(tiny_bridge, x, AblationConfig(), heads=[(1, 0), (1, 3), (0, 2)], batched=False)
    assert r.delta_loss[0][:2] == (None, None) and r.delta_loss[0][2] == pytest.approx(loop.delta_loss[0][2], abs=1e-5)
    assert r.delta_loss[1][3] == pytest.approx(loop.delta_loss[1][3], abs=1e-5) and r.delta_loss[1][0] is not None and r.delta_loss[1][1] is None
    assert sorted(e["head"] for e in r.ranking) == ["0.2", "1.0", "1.3"]


def test_config_validation():
    with pytest.raises(UserError, match="unknown ablation method"):
        AblationConfig(method="max")
    with pytest.raises(UserError, match="`prompt` is empty"):
        AblationConfig(prompt=" ")
    with pytest.raises(UserError, match="`batch_size` must be"):
        AblationConfig(batch_size=0)


def test_token_losses_match_cross_entropy():
    logits = torch.randn(2, 5, 11)
    tokens = torch.randint(0, 11, (2, 5))
    ref = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 11), tokens[:, 1:].reshape(-1),
                                            reduction="none").view(2, 4)
    torch.testing.assert_close(token_losses(logits, tokens), ref, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- CLI
@pytest.fixture()
def text_file(tmp_path):
    p = tmp_path / "eval.txt"
    p.write_text(TEXT)
    return p


def test_cli_ablate_writes_results_and_figure(tiny_gpt2_dir, text_file, tmp_path, capsys):
    from interp.cli import run

    out = tmp_path / "abl"
    rc = run(["ablate", str(tiny_gpt2_dir), "--heads", "0.1,1.*", "--method", "mean", "--text", str(text_file),
              "--max-tokens", "96", "--context", "16", "--max-new-tokens", "5", "-o", str(out), "--json"])
    assert rc == 0
    d = json.loads((out / "results.json").read_text())
    assert d["kind"] == "ablation" and d["heads_spec"] == "0.1,1.0,1.1,1.2,1.3" and d["source"].startswith("file:")
    assert d["n_windows"] == 6 and d["window_len"] == 16
    assert (out / "ablation_by_position.png").stat().st_size > 0 and (out / "ablation_by_position.svg").exists()
    assert json.loads(capsys.readouterr().out) == d


@pytest.mark.parametrize("args", [["ablate-sweep"], ["ablate", "--all"]])
def test_cli_sweep_writes_heatmap(tiny_gpt2_dir, text_file, tmp_path, args):
    from interp.cli import run

    out = tmp_path / "sweep"
    cmd = [args[0], str(tiny_gpt2_dir), *args[1:], "--text", str(text_file), "--max-tokens", "64",
           "--context", "16", "-o", str(out), "--json"]
    assert run(cmd) == 0
    d = json.loads((out / "results.json").read_text())
    assert d["kind"] == "ablation_sweep" and len(d["delta_loss"]) == 2 and len(d["delta_loss"][0]) == 4
    assert (out / "ablation_heatmap.png").stat().st_size > 0 and (out / "ablation_heatmap.svg").exists()


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--heads", "9.0"], "valid heads are 0.0–1.3 (layers 0–1, heads 0–3)"),
        (["--heads", "a.b"], "bad head 'a.b'"),
        (["--heads", "0.1,0.1"], "listed twice"),
        (["--heads", ""], "no heads given"),
        (["--heads", "0.1", "--all"], "either --heads or --all"),
        ([], "pass --heads"),
        (["--heads", "0.1", "--method", "max"], "unknown ablation method"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tiny_gpt2_dir, text_file, tmp_path, capsys, args, msg):
    from interp.cli import run

    out = tmp_path / "never"
    rc = run(["ablate", str(tiny_gpt2_dir), *args, "--text", str(text_file), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: ") and msg in err and "\n" not in err
    assert not out.exists()  # nothing written


def test_cli_foreign_model_needs_text(tiny_gpt2_dir, tmp_path, capsys):
    from interp.cli import run

    rc = run(["ablate", str(tiny_gpt2_dir), "--heads", "0.1", "-o", str(tmp_path / "x")])
    assert rc == 2 and "--text" in capsys.readouterr().err


# ----------------------------------------------------------------------------- public API (what the CLI calls)
@pytest.mark.parametrize("fixture", ["tiny_bridge", "tiny_gemma_bridge"])
def test_public_ablate_uses_the_token_rule_and_matches_the_core(fixture, request):
    from interp import tokens
    from interp.ablation import ablate, ablate_sweep, prompt_ids

    bridge = request.getfixturevalue(fixture)
    docs = [TEXT, "The ball rolled. It stopped. " * 4]
    r = ablate(bridge, heads="0.1,1.*", method="mean", documents=docs, context=16, max_tokens=96, max_new_tokens=3)
    w = tokens.eval_windows(bridge.tokenizer, docs, 16, 96)
    core = ablate_windows(bridge, w, [(0, 1), (1, 0), (1, 1), (1, 2), (1, 3)], AblationConfig(method="mean",
                                                                                             max_new_tokens=3))
    assert r.source == "documents" and r.bos and r.windows_sha256 == core.windows_sha256
    assert r.delta_loss == core.delta_loss and r.generation == core.generation
    assert len(r.window_clean_loss) == r.n_windows == w.shape[0]
    assert sum(r.window_ablated_loss) / r.n_windows == pytest.approx(r.ablated_loss, abs=1e-6)  # equal-length windows
    cfg = AblationConfig(prompt="The cat sat on the mat")
    assert prompt_ids(bridge, cfg) == list(tokens.encode_prompt(bridge.tokenizer, cfg.prompt,
                                                                n_ctx=bridge.cfg.n_ctx, reserve=1).ids)
    s = ablate_sweep(bridge, heads="1.2", documents=docs, context=16, max_tokens=96, method="mean")
    assert s.delta_loss[1][2] == pytest.approx(ablate(bridge, heads=[(1, 2)], method="mean", documents=docs,
                                                      context=16, max_tokens=96, max_new_tokens=0).delta_loss, abs=1e-5)


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"heads": None}, "no heads to ablate"),
    ({"heads": ""}, "no heads given"),
    ({"heads": []}, "`heads` is empty"),
    ({"heads": "0.1", "context": 999}, "`context` 999 exceeds"),
    ({"heads": "0.1", "max_tokens": 1}, "`max_tokens` must be"),
    ({"heads": "0.1", "text": "x.txt", "documents": ["a"]}, "only one of"),
    # a loaded model remembers its reference (an HF dir here): the CLI's message for that reference
    ({"heads": "0.1", "documents": None, "split": "val"}, "has no training-run metadata"),
])
def test_public_ablate_rejects_bad_input(tiny_bridge, kwargs, msg):
    from interp.ablation import ablate

    kw = {"documents": [TEXT], **kwargs}
    with pytest.raises(UserError, match=msg):
        ablate(tiny_bridge, **kw)
