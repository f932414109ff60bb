"""Checks on a model right after `from_pretrained`: refuse half-broken checkpoints instead of analysing them.

transformers fills weights missing from a checkpoint with fresh random values and only warns, so a
checkpoint missing a tensor would load and every analysis would then run on a partly random model.
`check_loaded` turns each of these into a `UserError` naming what is wrong:

- keys missing from the checkpoint, unexpected keys, or keys whose shapes differ from the config;
- non-finite (NaN/inf) weights;
- a tokenizer that does not fit the model: an id the tokenizer can produce beyond the embedding
  (`max id >= d_vocab`), or a tokenizer using under `MIN_VOCAB_FILL` of the embedding's rows (models pad
  their vocabulary by at most a few percent; a char tokenizer of 65 on a BPE model of 50k is another model's).
"""

from __future__ import annotations

from typing import Any

import torch

from interp.errors import UserError

MIN_VOCAB_FILL = 0.9


def _names(keys: Any, n: int = 4) -> str:
    keys = sorted(str(k) for k in keys)
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def check_loading_info(info: dict[str, Any] | None, where: str, strict_unexpected: bool = True) -> None:
    """Refuse a checkpoint whose state dict does not match the model's expected keys (from_pretrained's info)."""
    if not info:
        return
    missing = info.get("missing_keys") or ()
    if missing:
        raise UserError(f"checkpoint {where} is missing {len(missing)} tensor(s) ({_names(missing)}); "
                        "it would load with random values there — re-save the complete model")
    mismatched = info.get("mismatched_keys") or ()
    if mismatched:
        shown = [m[0] if isinstance(m, (tuple, list)) else m for m in mismatched]
        raise UserError(f"checkpoint {where} has {len(mismatched)} tensor(s) whose shape differs from its config "
                        f"({_names(shown)}); the weights and config.json belong to different models")
    unexpected = info.get("unexpected_keys") or ()
    if unexpected and strict_unexpected:
        raise UserError(f"checkpoint {where} holds {len(unexpected)} tensor(s) its architecture does not have "
                        f"({_names(unexpected)}); the weights and config.json belong to different models")
    errors = info.get("error_msgs") or ()
    if errors:
        raise UserError(f"checkpoint {where} did not load cleanly: {str(errors[0])[:200]}")


def check_finite(model: torch.nn.Module, where: str) -> None:
    """Refuse weights holding NaN or inf (one pass over the parameters; ~0.1 s per 100M parameters on CPU)."""
    bad = [name for name, p in model.named_parameters() if p.is_floating_point() and not bool(torch.isfinite(p).all())]
    if bad:
        raise UserError(f"checkpoint {where} has non-finite (NaN/inf) weights in {len(bad)} tensor(s) "
                        f"({_names(bad)}); the run diverged or the file is damaged — pick an earlier checkpoint")


def check_vocab(model: Any, tokenizer: Any, where: str) -> None:
    """Refuse a tokenizer whose ids do not fit the model's embedding (naming both sizes)."""
    emb = model.get_input_embeddings()
    d_vocab = int(getattr(emb, "num_embeddings", 0) or getattr(model.config, "vocab_size", 0) or 0)
    if d_vocab <= 0:
        return
    n_tok = len(tokenizer)
    top = max(tokenizer.get_vocab().values(), default=-1)
    if top >= d_vocab:
        raise UserError(f"{where}: the tokenizer has {n_tok} tokens (ids up to {top}) but the model's vocabulary is "
                        f"{d_vocab}; this tokenizer belongs to another model — pass the one it was trained with")
    if n_tok < MIN_VOCAB_FILL * d_vocab:
        raise UserError(f"{where}: the tokenizer has {n_tok} tokens but the model's vocabulary is {d_vocab}; "
                        "this tokenizer belongs to another model — pass the one it was trained with")


def check_loaded(model: Any, tokenizer: Any, info: dict[str, Any] | None, where: str,
                 strict_unexpected: bool = True) -> None:
    """All three checks, cheapest first."""
    check_loading_info(info, where, strict_unexpected=strict_unexpected)
    check_vocab(model, tokenizer, where)
    check_finite(model, where)
