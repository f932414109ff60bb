"""Write a tiny llama-architecture GGUF from a random HF LlamaForCausalLM (test helper)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    # llama.cpp's convert_hf_to_gguf permutes q/k rows for its rope layout; transformers reverses it
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(model, tokenizer, path: Path, qtype: str = "F32", arch: str = "llama") -> Path:
    import gguf

    cfg = model.config
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_theta if hasattr(cfg, "rope_theta") else cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    # tokenizer: byte-level BPE as tokens + merges (the "gpt2" tokenizer model, like SmolLM2)
    tj = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = tj["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    special = {a["id"] for a in tj.get("added_tokens", [])}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3 if i in special else 1 for i in range(len(tokens))])
    w.add_token_merges(merges)
    w.add_bos_token_id(tokenizer.bos_token_id)
    w.add_eos_token_id(tokenizer.eos_token_id)
    w.add_add_bos_token(False)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    q = getattr(gguf.GGMLQuantizationType, qtype)
    for name, t in model.state_dict().items():
        a = t.detach().to(torch.float32).numpy()
        if name.endswith("q_proj.weight"):
            a = _permute(a, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            a = _permute(a, cfg.num_key_value_heads)
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        if a.ndim == 1 or q == gguf.GGMLQuantizationType.F32:
            w.add_tensor(new, a)
        else:
            data = gguf.quants.quantize(a, q)
            w.add_tensor(new, data, raw_shape=data.shape, raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
