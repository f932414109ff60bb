"""SAEs: sparsify's TopK coder vs a plain TopK reference, hook capture vs TransformerLens' cache, splicing
(identity → recovered 1, zero → 0), seeded determinism and resume == uninterrupted training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TOY_TEXT


@pytest.fixture(scope="module")
def toy_text():
    from interp.sae.data import Text

    return Text((TOY_TEXT,), "toy")


def _cfg(**kw):
    from interp.sae.train import SAETrainConfig

    base = dict(hook="blocks.1.hook_resid_post", expansion=2, k=4, tokens=1200, context=16, batch_size=4,
                save_every=5, seed=3)
    return SAETrainConfig(**{**base, **kw})


def test_sparsify_encode_decode_equals_plain_topk():
    from interp.sae.coder import new_coder, reconstruct

    c = new_coder(6, 3, 4, transcode=False, seed=0)
    with torch.no_grad():
        c.encoder.bias.normal_()
        c.b_dec.normal_()
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    # reference: dense pre-activations, keep the k largest (ReLU'd) per row, decode densely
    pre = torch.relu((x - c.b_dec) @ c.encoder.weight.T + c.encoder.bias)  # (5, 18)
    top = pre.topk(4, dim=-1)
    dense = torch.zeros_like(pre).scatter(-1, top.indices, top.values)
    ref = dense @ c.W_dec + c.b_dec  # (5, 6)
    y, acts, idx = reconstruct(c, x)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    got = torch.zeros_like(pre).scatter(-1, idx, acts)
    torch.testing.assert_close(got, dense)


@pytest.mark.parametrize("hook", ["blocks.0.hook_resid_post", "blocks.1.hook_mlp_out"])
@pytest.mark.parametrize("which", ["gpt2", "gemma"])
def test_capture_matches_transformerlens_cache(hook, which, tiny_bridge, tiny_gemma_bridge):
    from interp.sae.hooks import capture, parse_hook

    bridge = tiny_bridge if which == "gpt2" else tiny_gemma_bridge
    ids = torch.tensor([[1, 5, 9, 13, 2, 7]])
    _, cache = bridge.run_with_cache(ids, names_filter=lambda n: n == hook)
    _, y = capture(bridge.original_model, parse_hook(hook), ids)
    torch.testing.assert_close(y, cache[hook], rtol=1e-4, atol=1e-5)


def test_transcoder_capture_is_mlp_input_output(tiny_bridge):
    from interp.sae.hooks import capture, parse_hook

    ids = torch.tensor([[1, 5, 9, 13]])
    x, y = capture(tiny_bridge.original_model, parse_hook("transcoder:1"), ids)
    mlp = tiny_bridge.original_model.transformer.h[1].mlp
    torch.testing.assert_close(mlp(x), y)


def test_bad_hooks():
    from interp.errors import UserError
    from interp.sae.hooks import parse_hook

    for bad in ("blocks.0.hook_attn_out", "resid", "transcoder:x"):
        with pytest.raises(UserError, match="unknown hook"):
            parse_hook(bad)
    with pytest.raises(UserError, match="layers 0..1"):
        parse_hook("blocks.7.hook_resid_post", n_layers=2)


def test_identity_splice_recovers_1_and_zero_splice_0(tiny_bridge):
    from interp.sae.evaluate import summary, window_stats
    from interp.sae.hooks import parse_hook

    hf = tiny_bridge.original_model
    wins = torch.randint(3, 200, (6, 12), generator=torch.Generator().manual_seed(0))
    spec = parse_hook("blocks.0.hook_resid_post")
    ident = summary(window_stats(hf, spec, wins, lambda x, y: y.clone(), 4))
    assert ident["loss_recovered"] == 1.0 and ident["fvu"] == 0.0
    zero = summary(window_stats(hf, spec, wins, lambda x, y: torch.zeros_like(y), 4))
    assert zero["loss_recovered"] == 0.0
    assert zero["loss_clean"] == ident["loss_clean"]
    # the splice really changes the model: zeroing the residual moves the loss
    assert abs(zero["loss_zero"] - zero["loss_clean"]) > 1e-3


def test_train_deterministic_and_resume_equals_uninterrupted(tiny_gpt2_dir, toy_text, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from interp.sae import train as T
    from interp.sae.train import train_sae

    a = train_sae(str(tiny_gpt2_dir), _cfg(), text=toy_text, out_dir=tmp_path / "a")
    b = train_sae(str(tiny_gpt2_dir), _cfg(), text=toy_text, out_dir=tmp_path / "b")
    assert a.to_dict() | {"sae": ""} == b.to_dict() | {"sae": ""}
    wa, wb = load_file(str(tmp_path / "a/sae.safetensors")), load_file(str(tmp_path / "b/sae.safetensors"))
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    # a crash during step 13 (state saved every 5 steps: resumes from step 10), then --resume
    assert a.steps > 13
    calls, real = [0], T.capture

    def crashing(*args):
        calls[0] += 1
        if calls[0] == 13:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(T, "capture", crashing)
    with pytest.raises(KeyboardInterrupt):
        train_sae(str(tiny_gpt2_dir), _cfg(), text=toy_text, out_dir=tmp_path / "c")
    monkeypatch.setattr(T, "capture", real)
    assert not (tmp_path / "c/sae.safetensors").exists()
    c = train_sae(str(tiny_gpt2_dir), _cfg(), text=toy_text, out_dir=tmp_path / "c", resume=True)
    wc = load_file(str(tmp_path / "c/sae.safetensors"))
    for k in wa:
        torch.testing.assert_close(wc[k], wa[k], rtol=0, atol=0)
    assert c.final_fvu == a.final_fvu and c.curve == a.curve


def test_eval_end_to_end(tiny_gpt2_dir, toy_text, tmp_path):
    from interp.sae.evaluate import SAEEvalConfig, evaluate_sae
    from interp.sae.train import train_sae

    t = train_sae(str(tiny_gpt2_dir), _cfg(tokens=3000), text=toy_text, out_dir=tmp_path / "s")
    r = evaluate_sae(str(tiny_gpt2_dir), t.sae, text=toy_text, config=SAEEvalConfig(max_tokens=400, context=16,
                                                                                    n_boot=50))
    d = r.to_dict()
    m = d["metrics"]
    assert d["kind"] == "sae_eval" and d["num_latents"] == 64
    assert m["l0"]["value"] <= 4
    for key in ("fvu", "loss_recovered"):
        assert m[key]["lo"] <= m[key]["value"] <= m[key]["hi"]
    assert 0 <= m["dead_fraction"]["value"] <= 1
    assert sum(d["frequency_hist"]["counts"]) + d["frequency_hist"]["dead"] == 64
    assert np.isfinite(m["fvu"]["value"])
