"""Attention maps of one model: patterns per layer/head, head-mean, readable labels, next-token prediction.

Method. Run the prompt through the hooked model once with `run_with_cache`, caching ONLY the needed
`blocks.L.attn.hook_pattern` activations — the post-softmax attention probabilities, shape
(B, n_heads, T, T), row = query position, column = key position.

Tokens. `interp.tokens` (the one BOS rule): tokenized without the tokenizer's own special tokens, BOS (else
EOS, else nothing) prepended once; prompts longer than the context keep BOS and the LAST tokens; the result
says so (`truncated`, `n_dropped`). Labels make byte-level BPE readable: a space is '␣', a newline '\\n'.

Heads. layers × head numbers (`--layers 0,2 --heads 0,3`) or `LAYER.HEAD` terms (`--heads 0.1,2.*`, parsed
by `interp.heads.HeadSpec`).

Public API: `attention(model, prompt, ...)` (a model reference or a loaded bridge; the CLI's names and
defaults) → `AttentionMapsResult`; `attention_maps(bridge, prompt, config)` is the pure core.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from interp.errors import UserError
from interp.heads import HeadSpec
from interp.results import FrozenResult

PATTERN_HOOK = "blocks.{layer}.attn.hook_pattern"  # (B, n_heads, T, T)


# ----------------------------------------------------------------------------- tokens and labels
def readable(text: str) -> str:
    """Make a decoded token printable on one line: ' ' -> '␣', newline -> '\\n', tab -> '\\t'."""
    out = []
    for ch in text:
        if ch == " ":
            out.append("␣")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out) or "∅"


def token_labels(tokenizer, ids: Iterable[int]) -> list[str]:
    """Readable label per token id (special tokens keep their name, e.g. '<|endoftext|>', '<bos>')."""
    ids = [int(i) for i in ids]
    if tokenizer is None:
        return [str(i) for i in ids]
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None) if backend is not None else None
    out = []
    for i, piece in zip(ids, pieces, strict=True):
        if piece is None:
            out.append(f"<{i}>")
            continue
        if i in special:
            out.append(piece)
            continue
        try:  # ByteLevel 'Ġcat' -> ' cat'; SentencePiece '▁cat' -> ' cat', '<0x0A>' -> '\n'
            text = decoder.decode([piece]) if decoder is not None else tokenizer.decode([i])
        except Exception:  # noqa: BLE001 — any decoder quirk: fall back to the raw piece
            text = piece
        if piece.startswith("▁") and not text.startswith(" "):
            text = " " + text  # some SentencePiece decoders strip the leading space of a lone piece
        out.append(readable(text))
    return out


def check_prompt(prompt: str) -> None:
    if not prompt or not prompt.strip():
        raise UserError("prompt is empty; pass some text with --prompt")


def _tokenize(bridge, prompt: str, prepend_bos: bool | None, max_tokens: int | None) -> dict[str, Any]:
    """Prompt -> ids (1, T) by the one BOS rule (`interp.tokens.encode_prompt`), keeping the LAST tokens."""
    from interp import tokens

    check_prompt(prompt)
    tok = bridge.tokenizer
    if tok is None:
        raise UserError("this model has no tokenizer; save one next to the checkpoint (tokenizer.save_pretrained)")
    n_ctx = int(bridge.cfg.n_ctx)
    p = tokens.encode_prompt(tok, prompt, n_ctx=n_ctx, max_tokens=max_tokens,
                             prepend_bos=True if prepend_bos is None else bool(prepend_bos))
    return {
        "ids": torch.tensor([list(p.ids)], dtype=torch.long),
        "bos": p.bos,
        "bos_id": p.ids[0] if p.bos else None,
        "n_ctx": n_ctx,
        "limit": min(n_ctx, max_tokens) if max_tokens else n_ctx,
        "truncated": p.truncated,
        "n_prompt_tokens": p.n_prompt_tokens,
        "n_dropped": p.n_dropped,
    }


# ----------------------------------------------------------------------------- layer / head selection
def parse_int_list(text: str | None, what: str) -> tuple[int, ...] | None:
    """'0,2,5' -> (0, 2, 5); None/''/'all' -> None (all). Syntax only; ranges are checked against the model."""
    if text is None or text.strip().lower() in ("", "all", "*"):
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"\d+", part):
            raise UserError(f"--{what} must be a comma list of non-negative integers like '0,2', got {text!r}")
        out.append(int(part))
    return tuple(out)


def _check_indices(values: tuple[int, ...] | None, n: int, what: str) -> tuple[int, ...]:
    if values is None:
        return tuple(range(n))
    bad = [v for v in values if not 0 <= v < n]
    if bad:
        raise UserError(f"{what} {bad} out of range: this model has {what}s 0..{n - 1}")
    return tuple(sorted(set(values)))


def parse_selection(layers: str | None, heads: str | None) -> dict[str, Any]:
    """CLI flags -> AttentionConfig kwargs. `--heads` is either head numbers applied to every selected
    layer ('0,3') or `LAYER.HEAD` terms (`interp.heads.HeadSpec`: '0.1,2.*'), which pick the layers too."""
    if heads is not None and "." in heads:
        if layers is not None:
            raise UserError("--layers cannot be combined with LAYER.HEAD terms in --heads; the terms pick the layers")
        HeadSpec.parse(heads)  # syntax now, before any model is loaded
        return {"head_spec": heads}
    return {"layers": parse_int_list(layers, "layers"), "heads": parse_int_list(heads, "heads")}


# ----------------------------------------------------------------------------- forward passes
def _patterns(bridge, ids: torch.Tensor, layers: Iterable[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (B, T, d_vocab), patterns (n_sel_layers, B, n_heads, T, T)) caching only the needed hooks."""
    names = [PATTERN_HOOK.format(layer=layer) for layer in layers]
    with torch.no_grad():
        device = getattr(bridge.cfg, "device", None) or "cpu"
        logits, cache = bridge.run_with_cache(ids.to(device), names_filter=names)
    pats = torch.stack([cache[n].detach().float().cpu() for n in names])
    return logits.detach().float().cpu(), pats


def _next_token(tokenizer, logits_last: torch.Tensor, top_k: int) -> dict[str, Any]:
    probs = torch.softmax(logits_last.double(), dim=-1)  # (d_vocab,)
    k = min(top_k, probs.shape[-1])
    top = torch.topk(probs, k)
    ids = top.indices.tolist()
    labels = token_labels(tokenizer, ids)
    return {
        "next_token": labels[0],
        "next_token_id": ids[0],
        "next_token_prob": float(top.values[0]),
        "top_next": [{"token": t, "id": i, "prob": float(p)} for t, i, p in zip(labels, ids, top.values.tolist(), strict=True)],
    }


# ----------------------------------------------------------------------------- attention maps
@dataclass(frozen=True)
class AttentionConfig:
    layers: tuple[int, ...] | None = None  # None = all layers
    heads: tuple[int, ...] | None = None  # None = all heads (head-mean is always over ALL heads)
    head_spec: str | None = None  # LAYER.HEAD terms instead of layers × heads, e.g. '0.1,2.*'
    prepend_bos: bool | None = None  # None = the model's default
    max_tokens: int | None = None  # cap on T below n_ctx (keeps the last tokens); None = n_ctx
    top_k: int = 5  # next-token candidates reported

    def __post_init__(self) -> None:
        for what, vals in (("layer", self.layers), ("head", self.heads)):
            if vals is not None and (not vals or any(int(v) < 0 for v in vals)):
                raise UserError(f"{what}s must be non-empty non-negative integers, got {vals}")
        if self.head_spec is not None:
            if self.layers is not None or self.heads is not None:
                raise UserError("pass either layers/heads lists or a LAYER.HEAD head spec, not both")
            HeadSpec.parse(self.head_spec)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UserError(f"max tokens must be >= 1, got {self.max_tokens}")
        if self.top_k < 1:
            raise UserError(f"top-k must be >= 1, got {self.top_k}")


@dataclass(frozen=True)
class AttentionMapsResult(FrozenResult):
    kind: str = "attention_maps"
    model: str = ""
    prompt: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    n_layers: int = 0
    n_heads: int = 0
    n_ctx: int = 0
    tokens: tuple[str, ...] = ()  # readable labels, one per position
    token_ids: tuple[int, ...] = ()
    n_prompt_tokens: int = 0  # before truncation (incl. BOS)
    truncated: bool = False
    n_dropped: int = 0  # tokens dropped from the START of the prompt
    layers: tuple[int, ...] = ()
    heads: tuple[tuple[int, ...], ...] = ()  # per selected layer, its selected heads
    patterns: list = field(default_factory=list)  # [layer_i][j][q][k]: head heads[layer_i][j] of layers[layer_i]
    head_mean: list = field(default_factory=list)  # [layer_i][q][k] mean over all n_heads
    next_token: str = ""
    next_token_id: int = -1
    next_token_prob: float = 0.0
    top_next: list = field(default_factory=list)
    seed: int = 0  # recorded for provenance; the maps themselves are deterministic


def attention_maps(bridge, prompt: str, config: AttentionConfig | None = None, model: str = "",
                   seed: int = 0) -> AttentionMapsResult:
    """Attention patterns of `prompt` for the selected layers/heads of `bridge`, + next-token prediction."""
    config = config or AttentionConfig()
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    if config.head_spec:
        pairs = HeadSpec.parse(config.head_spec).resolve(n_layers, n_heads)
        layers = tuple(sorted({layer for layer, _ in pairs}))
        heads = tuple(tuple(sorted(h for lyr, h in pairs if lyr == layer)) for layer in layers)
    else:
        layers = _check_indices(config.layers, n_layers, "layer")
        heads = (_check_indices(config.heads, n_heads, "head"),) * len(layers)
    t = _tokenize(bridge, prompt, config.prepend_bos, config.max_tokens)
    logits, pats = _patterns(bridge, t["ids"], layers)  # pats: (n_sel_layers, 1, n_heads, T, T)
    pats = pats[:, 0]  # (n_sel_layers, n_heads, T, T)
    ids = t["ids"][0].tolist()
    return AttentionMapsResult(
        model=model,
        prompt=prompt,
        config=dataclasses.asdict(config),
        n_layers=n_layers,
        n_heads=n_heads,
        n_ctx=t["n_ctx"],
        tokens=tuple(token_labels(bridge.tokenizer, ids)),
        token_ids=tuple(ids),
        n_prompt_tokens=t["n_prompt_tokens"],
        truncated=t["truncated"],
        n_dropped=t["n_dropped"],
        layers=layers,
        heads=heads,
        patterns=[pats[i, list(hs)].tolist() for i, hs in enumerate(heads)],
        head_mean=pats.mean(dim=1).tolist(),  # (n_sel_layers, T, T)
        **_next_token(bridge.tokenizer, logits[0, -1], config.top_k),
        seed=seed,
    )


def _bridge(model: Any, device: str) -> Any:
    """A loaded bridge as is; a reference through `interp.hooked.load_model`."""
    from interp import hooked

    return hooked.load_model(model, device)[0]


def attention(model: Any, prompt: str, *, layers: str | tuple[int, ...] | None = None,
              heads: str | tuple[int, ...] | None = None, max_tokens: int | None = None, top_k: int = 5,
              device: str = "cpu", seed: int = 0) -> AttentionMapsResult:
    """Attention heatmaps of `prompt` per layer/head (+ head-mean) and the next-token prediction.

    `model`: a model reference (run dir, HF dir, hub id, 'gemma-3-270m') or a loaded `TransformerBridge`.
    `layers`/`heads`: the CLI syntax ('0,2'; '0,3' or 'LAYER.HEAD' terms like '0.1,2.*') or tuples of ints.
    """
    if isinstance(layers, str) or isinstance(heads, str) or (layers is None and heads is None):
        sel = parse_selection(layers if isinstance(layers, str) or layers is None else ",".join(map(str, layers)),
                              heads if isinstance(heads, str) or heads is None else ",".join(map(str, heads)))
    else:
        sel = {"layers": tuple(layers) if layers is not None else None,
               "heads": tuple(heads) if heads is not None else None}
    config = AttentionConfig(**sel, max_tokens=max_tokens, top_k=top_k)
    check_prompt(prompt)
    from interp.model_ref import model_name

    ref = model_name(model)
    return attention_maps(_bridge(model, device), prompt, config, model=ref, seed=seed)
