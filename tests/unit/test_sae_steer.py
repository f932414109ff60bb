"""Steering: the hook context adds exactly coefficient × vector, the bridge honours it (so existing evals run
steered unchanged), the mean-difference direction matches a direct computation, and `steer` end to end."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TOY_TEXT


def test_steered_adds_exactly_and_bridge_runs_it(tiny_bridge):
    from interp.sae.hooks import capture, parse_hook
    from interp.sae.steer import steered

    hf = tiny_bridge.original_model
    spec = parse_hook("blocks.0.hook_resid_post")
    ids = torch.tensor([[1, 5, 9, 13, 7]])
    v = torch.randn(32, generator=torch.Generator().manual_seed(0))
    _, y0 = capture(hf, spec, ids)
    with torch.no_grad():
        clean = tiny_bridge(ids)
    with steered(hf, spec, v, 2.5):
        _, y1 = capture(hf, spec, ids)
        with torch.no_grad():
            bridge_steered = tiny_bridge(ids)
            hf_steered = hf(ids).logits
    torch.testing.assert_close(y1, y0 + 2.5 * v)
    torch.testing.assert_close(bridge_steered, hf_steered, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(bridge_steered, clean)
    with steered(hf, spec, v, 0.0), torch.no_grad():
        torch.testing.assert_close(tiny_bridge(ids), clean)


def test_mean_difference_direction(tiny_bridge):
    from interp.sae.hooks import parse_hook
    from interp.sae.steer import mean_difference
    from interp.tokens import encode

    spec = parse_hook("blocks.1.hook_resid_post")
    pos, neg = ["The cat sat.", "A dog ran up the tree."], ["John lost his keys."]
    got = mean_difference(tiny_bridge, spec, pos, neg)
    _, cache = tiny_bridge.run_with_cache(torch.tensor([encode(tiny_bridge.tokenizer, pos[0])]))

    def acts(p):
        _, c = tiny_bridge.run_with_cache(torch.tensor([encode(tiny_bridge.tokenizer, p)]))
        return c[spec.name][0, 1:]

    ref = torch.cat([acts(p) for p in pos]).mean(0) - torch.cat([acts(p) for p in neg]).mean(0)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_steer_end_to_end(tiny_gpt2_dir, tmp_path):
    from interp.errors import UserError
    from interp.sae.data import Text
    from interp.sae.steer import SteerConfig, steer
    from interp.sae.train import SAETrainConfig, train_sae

    text = Text((TOY_TEXT,), "toy")
    t = train_sae(str(tiny_gpt2_dir), SAETrainConfig(hook="blocks.0.hook_resid_post", expansion=2, k=4, tokens=800,
                                                     context=16, batch_size=4), text=text, out_dir=tmp_path / "s")
    r0 = steer(str(tiny_gpt2_dir), SteerConfig(coefficient=0.0, sae=t.sae, latent=3, max_tokens=300, context=16,
                                               n_boot=50, max_new_tokens=5), text=text)
    assert r0.delta_loss["value"] == 0.0 and r0.generation["clean"] == r0.generation["steered"]
    r = steer(str(tiny_gpt2_dir), SteerConfig(coefficient=50.0, sae=t.sae, latent=3, max_tokens=300, context=16,
                                              n_boot=50, max_new_tokens=5), text=text)
    dl = r.delta_loss
    assert dl["lo"] <= dl["value"] <= dl["hi"] and dl["value"] != 0.0
    assert r.direction["norm"] == pytest.approx(1.0, abs=1e-4)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(UserError, match="finite"):
            SteerConfig(coefficient=bad, sae=t.sae, latent=3)
