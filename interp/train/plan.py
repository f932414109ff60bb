"""Before training: estimate memory and time, refuse what cannot fit, and say what is about to happen.

Parameter count of the GPT-2 shape (`ModelConfig`): per layer 12·d² + 13·d (attention 4·d² + MLP 2·d·d_mlp
with d_mlp = 4d, biases, two LayerNorms), plus token (V·d) and position (n_ctx·d) embeddings, plus the
final LayerNorm; the unembedding is tied. Training holds weights, gradients and AdamW's two moments: 16 bytes
per float32 parameter (`BYTES_PER_PARAM`), before activations. A model whose parameter memory alone exceeds the
machine's available RAM is refused before any data is prepared or anything is allocated.
"""

from __future__ import annotations

import os
from typing import Any

from interp.errors import UserError

BYTES_PER_PARAM = 16  # fp32 weights + grads + AdamW exp_avg + exp_avg_sq
CPU_FLOPS = 2e10  # ASSUMED effective training FLOP/s on CPU (order of magnitude; not calibrated, see docs/inputs.md)


def n_params(model: Any, vocab: int | None = None) -> int:
    """Parameters of a `ModelConfig` (tied unembedding)."""
    d, L, V = int(model.d_model), int(model.n_layers), int(vocab or model.d_vocab)
    f = int(model.d_mlp_eff)
    per_layer = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d  # attn qkv+o (+biases), mlp (+biases), 2 LayerNorms
    return L * per_layer + V * d + int(model.n_ctx) * d + 2 * d


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (else physical pages × page size); None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(model: Any, device: str = "cpu", vocab: int | None = None) -> int:
    """Refuse a model whose training state (16 B/param) exceeds available RAM (CPU) or GPU memory; return the bytes."""
    need = n_params(model, vocab) * BYTES_PER_PARAM
    have: int | None
    where = "available RAM"
    if device.startswith("cuda"):
        import torch

        idx = int(device.split(":")[1]) if ":" in device else 0
        have, where = int(torch.cuda.mem_get_info(idx)[0]), f"free memory on {device}"
    else:
        have = available_bytes()
    if have is not None and need > have:
        raise UserError(f"this model has ~{n_params(model, vocab):,} parameters: training needs ~{need / 1e9:.1f} GB "
                        f"(weights, gradients, AdamW state) but {where} is {have / 1e9:.1f} GB; choose a smaller "
                        "--d-model/--n-layers/--vocab-size")
    return need


def plan_line(preset: str, params: int, tokens_per_step: int, total_steps: int, run_dir: Any, device: str) -> str:
    """One line saying what training is about to do, with an estimated time (6·N·tokens FLOPs)."""
    tokens = tokens_per_step * total_steps
    secs = 6 * params * tokens / CPU_FLOPS
    eta = f"~{secs / 60:.0f} min" if secs >= 90 else f"~{secs:.0f} s"
    dev = f"on {device}, estimate {eta} at {CPU_FLOPS / 1e9:.0f} GFLOP/s" if device == "cpu" else f"on {device}"
    return (f"training preset {preset!r} ({params:,} params) into {run_dir}: {total_steps:,} steps × "
            f"{tokens_per_step:,} tokens = {tokens:,} tokens {dev}; Ctrl-C stops, `--resume` continues")
