"""Builders for checkpoint-series test fixtures: tiny random GPT-2s laid out as interp runs, HF Trainer outputs,
numbered model dirs and nanoGPT checkpoints (no network, well under a second each)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

STOI = {c: i for i, c in enumerate(sorted(set("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:!?'\n")))}


def save_gpt2(d: Path, tok, seed: int, n_layer: int = 2, n_head: int = 4, n_embd: int = 32, tokenizer: bool = True,
              vocab_size: int | None = None) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab_size or len(tok), n_positions=64, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    if tokenizer:
        tok.save_pretrained(d)
    return d


def interp_run(root: Path, tok, steps_per_epoch: int = 8, tokens_per_step: int = 256,
               step_ckpts: tuple[int, ...] = (1, 2, 4), epochs: tuple[int, ...] = (1, 2)) -> Path:
    """run.json + metrics.jsonl + checkpoints/step-NNNNNN/ (log-spaced) + epoch-NNN/ with interp trainer state."""
    (root / "checkpoints").mkdir(parents=True)
    (root / "run.json").write_text("{}")
    seed = 0
    names = [(f"step-{s:06d}", s, s // steps_per_epoch) for s in step_ckpts]
    names += [(f"epoch-{e:03d}", e * steps_per_epoch, e) for e in epochs]
    for name, step, ep in names:
        seed += 1
        d = save_gpt2(root / "checkpoints" / name, tok, seed)
        (d / "trainer_state.json").write_text(json.dumps({"step": step, "epoch": ep, "tokens_seen": step * tokens_per_step}))
    save_gpt2(root / "checkpoints" / "best", tok, 99)
    with open(root / "metrics.jsonl", "w") as f:
        for s in range(1, steps_per_epoch * max(epochs) + 1):
            rec = {"step": s, "epoch": s / steps_per_epoch, "train_loss": 6.0 - 0.1 * s}
            if s % steps_per_epoch == 0:
                rec["val_loss"] = 6.1 - 0.1 * s
            f.write(json.dumps(rec) + "\n")
    return root


def trainer_output(root: Path, tok, steps: tuple[int, ...] = (500, 1000, 1500), tokenizer_in_parent: bool = True) -> Path:
    """HF Trainer layout: checkpoint-N/ without tokenizer files, tokenizer in the parent, trainer_state.json."""
    root.mkdir(parents=True)
    history = []
    for i, s in enumerate(sorted(steps)):
        d = save_gpt2(root / f"checkpoint-{s}", tok, seed=10 + i, tokenizer=False)
        history += [{"step": s, "epoch": s / 1000, "loss": 5.0 - i, "num_input_tokens_seen": s * 512},
                    {"step": s, "epoch": s / 1000, "eval_loss": 5.2 - i}]
        (d / "trainer_state.json").write_text(json.dumps(
            {"global_step": s, "epoch": s / 1000, "num_input_tokens_seen": s * 512, "log_history": list(history)}))
    if tokenizer_in_parent:
        tok.save_pretrained(root)
    return root


def nano_checkpoint(path: Path, *, vocab_size: int = len(STOI), n_layer: int = 2, n_head: int = 2, n_embd: int = 16,
                    block_size: int = 32, bias: bool = True, compiled: bool = False, iter_num: int = 100,
                    seed: int = 0, mask_buffer: bool = False, untied: bool = False):
    """A nanoGPT-format ckpt.pt from the faithful reference (parameters jittered so biases/LN matter)."""
    from interp.importers.nanogpt_reference import GPT, NanoConfig

    torch.manual_seed(seed)
    c = NanoConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, bias=bias)
    m = GPT(c).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))
        if untied:
            m.lm_head.weight = torch.nn.Parameter(m.transformer.wte.weight.detach().clone() + 0.1)
    sd = dict(m.state_dict())
    if mask_buffer:
        for i in range(n_layer):
            sd[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)
    if compiled:
        sd = {f"_orig_mod.{k}": v for k, v in sd.items()}
    ck = {"model": sd, "optimizer": {"state": {}, "param_groups": []},
          "model_args": dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size, bias=bias,
                             vocab_size=vocab_size, dropout=0.0),
          "iter_num": iter_num, "best_val_loss": torch.tensor(1.25),
          "config": {"batch_size": 12, "block_size": block_size, "gradient_accumulation_steps": 1, "dataset": "shakespeare_char"}}
    torch.save(ck, path)
    return m


def char_meta(path: Path) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"vocab_size": len(STOI), "itos": {i: c for c, i in STOI.items()}, "stoi": STOI}, f)
    return path
