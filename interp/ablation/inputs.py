"""Eval inputs of `ablate` / `ablate_sweep`: a model reference or bridge + text → token windows.

Windows come from `interp.tokens.eval_windows` — the one BOS rule: each window is BOS (the tokenizer's
BOS, else EOS) + T−1 tokens of the stream of documents joined with EOS; loss at position t is
−log p(token t+1 | tokens ≤ t), so a window of T tokens scores T−1 predictions. Text is, in order of
precedence, `documents` (in memory), `text` (a .txt file, folder of .txt or .jsonl) or `split` of the
model's training run (default "val").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from interp import tokens
from interp.errors import UserError

MAX_DEFAULT_CONTEXT = 512
_RULE: Any = object()


def window_bos(tokenizer: Any, prepend_bos: bool | None = None) -> int | None:
    """The BOS id every window/prompt starts with (`interp.tokens.bos_id`), or None when `prepend_bos` is False."""
    return None if prepend_bos is False else tokens.bos_id(tokenizer)


def eval_windows(tokenizer: Any, documents: Sequence[str], context: int, max_tokens: int,
                 bos_token_id: Any = _RULE) -> torch.Tensor:
    """`interp.tokens.eval_windows` (N, T). `bos_token_id` is accepted for old callers and must match the rule."""
    if bos_token_id is not _RULE and bos_token_id != tokens.bos_id(tokenizer):
        raise ValueError("eval windows follow interp.tokens' one BOS rule; drop bos_token_id")
    return tokens.eval_windows(tokenizer, documents, context, max_tokens)


@dataclass(frozen=True)
class EvalInputs:
    bridge: Any
    name: str  # the model reference (or the bridge's model name)
    windows: torch.Tensor  # (N, T)
    source: str  # "file:PATH" | "split:val" | "documents"


def read_text(model: Any, text: str | Path | None, split: str | None,
              documents: Sequence[str] | None) -> tuple[tuple[str, ...], str]:
    """(documents, source) from exactly one of `documents`, `text`, `split` (default split "val")."""
    from interp.eval_text import eval_text

    given = [k for k, v in (("documents", documents), ("text", text), ("split", split)) if v is not None]
    if len(given) > 1:
        raise UserError(f"give only one of `documents`, `text` or `split`, got {' and '.join(given)}")
    if documents is not None:
        docs = tuple(d for d in documents if isinstance(d, str) and d.strip())
        if not docs:
            raise UserError("`documents` has no text; pass some non-empty strings")
        return docs, "documents"
    from interp.model_ref import reference_of

    ref = reference_of(model)
    if ref is None:
        if text is None:
            raise UserError("a run split needs a model reference (run dir); with a loaded model pass `text` or "
                            "`documents`")
        ev = eval_text("model", None, Path(text), None)
        return ev.documents, ev.source
    from interp import hooked

    meta = hooked.run_metadata(ref)
    ev = eval_text(ref, meta, Path(text) if text is not None else None, split or ("val" if text is None else None))
    return ev.documents, ev.source


def load_model(model: Any, device: str) -> tuple[Any, str]:
    """(bridge, name): `interp.hooked.load_model` (one loader, one model name per reference)."""
    if not isinstance(model, (str, os.PathLike)) and (not hasattr(model, "run_with_hooks") or not hasattr(model, "cfg")):
        raise UserError(f"model must be a model reference or a TransformerBridge, got {type(model).__name__}")
    from interp import hooked

    bridge, info = hooked.load_model(model, device)
    return bridge, info.name


def make_windows(bridge: Any, documents: Sequence[str], context: int | None, max_tokens: int) -> torch.Tensor:
    """Token windows (N, T) with T = `context` (default min(n_ctx, 512))."""
    n_ctx = int(bridge.cfg.n_ctx)
    ctx = context if context is not None else min(n_ctx, MAX_DEFAULT_CONTEXT)
    if not isinstance(ctx, int) or ctx > n_ctx:
        raise UserError(f"`context` {ctx} exceeds the model's n_ctx={n_ctx}; pass at most {n_ctx}")
    return tokens.eval_windows(bridge.tokenizer, documents, ctx, max_tokens)


def check_windows(bridge: Any, token_windows: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(token_windows)
    if w.ndim != 2 or w.shape[1] < 2 or w.shape[0] < 1:
        raise UserError(f"eval windows must be (n_windows, T ≥ 2) token ids, got shape {tuple(w.shape)}")
    if w.shape[1] > int(bridge.cfg.n_ctx):
        raise UserError(f"eval windows of {w.shape[1]} tokens exceed the model's n_ctx={bridge.cfg.n_ctx}; "
                        "use a smaller `context`")
    return w.long()


def starts_with_bos(bridge: Any, windows: torch.Tensor) -> bool:
    bos = tokens.bos_id(bridge.tokenizer)
    return bos is not None and bool((windows[:, 0] == bos).all())


def windows_sha256(windows: torch.Tensor) -> str:
    """A short hash of the token windows (identifies what was scored)."""
    w = windows.to(torch.int64).contiguous().cpu()
    return hashlib.sha256(str(tuple(w.shape)).encode() + w.numpy().tobytes()).hexdigest()[:16]


def check_max_tokens(max_tokens: Any) -> None:
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 2:
        raise UserError(f"`max_tokens` must be an integer >= 2, got {max_tokens!r}")


def check_context(context: Any) -> None:
    if context is not None and (not isinstance(context, int) or isinstance(context, bool) or context < 2):
        raise UserError(f"`context` must be an integer >= 2, got {context!r}")
