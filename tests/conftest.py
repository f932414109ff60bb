"""Shared fixtures: tiny seeded *random* models saved as HF dirs (no network, < 1 s to build).

- `tiny_gpt2_dir`: GPT-2 architecture, 2 layers × 4 heads, d_model 32, n_ctx 64, BPE tokenizer (vocab ~300).
- `tiny_gemma_dir`: a random `GemmaForCausalLM` (2 layers, 4 heads, GQA 1 kv head) with the same tokenizer.
- `tiny_bridge`: `interp.hooked.load(tiny_gpt2_dir)`.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models run fastest single-threaded, and a shared 2-core machine is badly hurt by oversubscription.
torch.set_num_threads(int(os.environ.get("INTERP_TEST_THREADS", "1")))

TOY_TEXT = (
    "John lost his keys. Sarah said she was tired. The cat sat on the mat. The ball rolled. It stopped. "
    "Mary gave her book to Tom and he read it. The university student wrote a paper. "
    "A dog chased the cat and the cat ran up the tree. "
) * 40


def _tokenizer(vocab_size: int = 300):
    from interp.tokenizer import train_bpe

    return train_bpe([TOY_TEXT], vocab_size=vocab_size)


@pytest.fixture(scope="session")
def toy_tokenizer():
    return _tokenizer()


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory, toy_tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    d = tmp_path_factory.mktemp("tiny_gpt2")
    cfg = GPT2Config(vocab_size=len(toy_tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=toy_tokenizer.bos_token_id, eos_token_id=toy_tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    toy_tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_gemma_dir(tmp_path_factory, toy_tokenizer):
    from transformers import GemmaConfig, GemmaForCausalLM

    d = tmp_path_factory.mktemp("tiny_gemma")
    cfg = GemmaConfig(vocab_size=len(toy_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=64,
                      bos_token_id=toy_tokenizer.bos_token_id, eos_token_id=toy_tokenizer.eos_token_id,
                      pad_token_id=toy_tokenizer.pad_token_id)
    torch.manual_seed(0)
    GemmaForCausalLM(cfg).eval().save_pretrained(d)
    toy_tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_bridge(tiny_gpt2_dir):
    from interp import hooked

    return hooked.load(str(tiny_gpt2_dir))


@pytest.fixture(scope="session")
def tiny_gemma_bridge(tiny_gemma_dir):
    from interp import hooked

    return hooked.load(str(tiny_gemma_dir))
