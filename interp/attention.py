"""Attention maps of one model, and how attention evolves over a training run's epoch checkpoints.

Method. Run the prompt through the hooked model once with `run_with_cache`, caching ONLY the needed
`blocks.L.attn.hook_pattern` activations — the post-softmax attention probabilities, shape
(B, n_heads, T, T), row = query position, column = key position. From them:

- `attention_maps(bridge, prompt, config)`: the patterns of the selected layers/heads, the mean over
  ALL heads of each selected layer, readable token labels, and the model's next-token prediction after
  the prompt (argmax of the last position's logits, its probability, the top-k).
- `attention_evolution(checkpoints, prompt, config)`: the same prompt through every epoch checkpoint
  (each loaded once, lazily, by the caller's iterable), and per checkpoint and head the scores of
  `interp.attention_scores`: entropy, previous-token, first-token ("sink"), induction score (on seeded
  random repeated tokens) and the Jensen–Shannon distance to the previous checkpoint's pattern — the
  curve that shows when attention stops changing. Cost: one model load + two forwards per checkpoint.

Tokens. The prompt is tokenized without the tokenizer's own special tokens, then BOS is prepended when
the model expects it (`bridge.cfg.default_prepend_bos`, overridable). Prompts longer than the context are
truncated to the model's n_ctx (or `max_tokens`) keeping BOS and the LAST tokens; the result says so
(`truncated`, `n_dropped`). Labels make byte-level BPE readable: a space is '␣', a newline '\\n'.

Heads. `attention` selects layers × head numbers (`--layers 0,2 --heads 0,3`) or `LAYER.HEAD` terms
(`--heads 0.1,2.*`, parsed by `interp.heads.HeadSpec`); `attention-evolution` takes `LAYER.HEAD` terms for
its grid and line plots (scores are always computed for every head).

Figures (`plot_*`) take the result DICT (results.json), never a model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp import attention_scores as scores
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
    """Prompt -> ids (1, T) with BOS, truncated to the context keeping the last tokens."""
    check_prompt(prompt)
    tok = bridge.tokenizer
    if tok is None:
        raise UserError("this model has no tokenizer; save one next to the checkpoint (tokenizer.save_pretrained)")
    ids = list(tok(prompt, add_special_tokens=False)["input_ids"])
    bos = prepend_bos if prepend_bos is not None else bool(getattr(bridge.cfg, "default_prepend_bos", True))
    bos_id = tok.bos_token_id if bos else None
    head = [int(bos_id)] if bos_id is not None else []
    n_ctx = int(bridge.cfg.n_ctx)
    limit = min(n_ctx, max_tokens) if max_tokens else n_ctx
    if limit <= len(head):
        raise UserError(f"max tokens {limit} leaves no room for the prompt; use at least {len(head) + 1}")
    n_orig = len(head) + len(ids)
    keep = limit - len(head)
    truncated = len(ids) > keep
    if truncated:
        ids = ids[-keep:]
    if not ids:
        raise UserError("prompt tokenizes to nothing; pass some text with --prompt")
    full = head + ids
    return {
        "ids": torch.tensor([full], dtype=torch.long),
        "bos": bos_id is not None,
        "n_ctx": n_ctx,
        "limit": limit,
        "truncated": truncated,
        "n_prompt_tokens": n_orig,
        "n_dropped": n_orig - len(full),
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


# ----------------------------------------------------------------------------- attention evolution
@dataclass(frozen=True)
class EvolutionConfig:
    heads: str | None = None  # HeadSpec text ('0.1,1.*') for the grid/plots; None = head-mean per layer
    prepend_bos: bool | None = None
    max_tokens: int | None = None
    induction_len: int = 32  # S; capped to fit the context and the vocabulary (actual S is recorded)
    induction_batch: int = 4  # random repeated sequences averaged per checkpoint
    seed: int = 0
    top_k: int = 5

    def __post_init__(self) -> None:
        if self.heads is not None:
            HeadSpec.parse(self.heads)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UserError(f"max tokens must be >= 1, got {self.max_tokens}")
        if self.induction_len < 1:
            raise UserError(f"induction length must be >= 1, got {self.induction_len}")
        if self.induction_batch < 1:
            raise UserError(f"induction batch must be >= 1, got {self.induction_batch}")
        if self.top_k < 1:
            raise UserError(f"top-k must be >= 1, got {self.top_k}")


@dataclass(frozen=True)
class CheckpointAttention:
    """One epoch checkpoint: prompt prediction, grid patterns, and per-(layer, head) scores."""

    epoch: int
    next_token: str
    next_token_id: int
    next_token_prob: float
    grid: list  # [column][q][k], columns as in the result's `grid_columns`
    entropy: list  # [layer][head], nats
    prev_token: list  # [layer][head]
    sink: list  # [layer][head]
    induction: list  # [layer][head]
    js_distance: list | None  # [layer][head] vs the previous checkpoint; None for the first


@dataclass(frozen=True)
class AttentionEvolutionResult(FrozenResult):
    kind: str = "attention_evolution"
    run_dir: str = ""
    prompt: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    n_layers: int = 0
    n_heads: int = 0
    n_ctx: int = 0
    tokens: tuple[str, ...] = ()
    token_ids: tuple[int, ...] = ()
    n_prompt_tokens: int = 0
    truncated: bool = False
    n_dropped: int = 0
    heads: tuple[tuple[int, int], ...] | None = None  # resolved --heads, None = head-mean per layer
    grid_columns: tuple[str, ...] = ()  # 'L0 mean' ... or 'L1.H3' ...
    induction_len: int = 0  # S actually used
    induction_batch: int = 0
    induction_bos: bool = True
    epochs: tuple[int, ...] = ()
    checkpoints: tuple[CheckpointAttention, ...] = ()


Checkpoints = Iterable[tuple[int, Any]]  # (epoch, TransformerBridge), loaded lazily by the iterable


def run_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(epoch, dir) of every complete epoch checkpoint of a training run, in epoch order."""
    from interp import hooked

    p = Path(run_dir).expanduser()
    if not p.is_dir():
        raise UserError(f"run directory {str(run_dir)!r} does not exist or is not a directory; pass a training run dir")
    dirs = hooked.checkpoint_dirs(p)
    if not dirs:
        raise UserError(
            f"{str(run_dir)!r} has no epoch checkpoints (checkpoints/epoch-NNN/ with config.json + "
            "model.safetensors); pass a training run dir, or train one with `interp train`"
        )
    return [(int(d.name.split("-")[1]), d) for d in dirs]


def iter_run_checkpoints(run_dir: str | Path, loader: Callable[[str], Any] | None = None,
                         device: str = "cpu") -> Iterator[tuple[int, Any]]:
    """Yield (epoch, bridge) per epoch checkpoint, loading each exactly once, one at a time."""
    if loader is None:
        from interp import hooked

        def loader(ref: str) -> Any:
            return hooked.load(ref, device=device)

    for epoch, d in run_checkpoints(run_dir):
        bridge = loader(str(d))
        yield epoch, bridge
        del bridge  # the caller is done with it: free before the next load


@dataclass(frozen=True)
class _Setup:
    """What the first checkpoint fixes for the whole run: prompt ids, head selection, induction tokens."""

    tok: dict[str, Any]  # _tokenize output
    labels: list[str]
    shape: tuple[int, int]  # (n_layers, n_heads)
    heads: tuple[tuple[int, int], ...] | None
    induction_len: int
    induction_ids: torch.Tensor  # (batch, [1 +] 2S)


def _setup(bridge, prompt: str, config: EvolutionConfig) -> _Setup:
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    t = _tokenize(bridge, prompt, config.prepend_bos, config.max_tokens)
    heads = HeadSpec.parse(config.heads).resolve(n_layers, n_heads) if config.heads else None
    cand = scores.candidate_token_ids(bridge.tokenizer, bridge.cfg.d_vocab)
    room = (int(bridge.cfg.n_ctx) - int(t["bos"])) // 2
    S = min(config.induction_len, room, len(cand))
    if S < 1:
        raise UserError("context or vocabulary too small for an induction sequence (need 2 + BOS tokens)")
    bos_id = bridge.tokenizer.bos_token_id if t["bos"] else None
    ind = scores.induction_tokens(cand, S, config.induction_batch, config.seed, bos_id)
    return _Setup(t, token_labels(bridge.tokenizer, t["ids"][0].tolist()), (n_layers, n_heads), heads, S, ind)


def _check_same_run(bridge, prompt: str, config: EvolutionConfig, setup: _Setup, epoch: int) -> None:
    shape = (int(bridge.cfg.n_layers), int(bridge.cfg.n_heads))
    if shape != setup.shape:
        raise UserError(
            f"checkpoint epoch {epoch} has {shape[0]} layers × {shape[1]} heads, earlier ones "
            f"{setup.shape[0]} × {setup.shape[1]}; all checkpoints must share one architecture"
        )
    if not torch.equal(_tokenize(bridge, prompt, config.prepend_bos, config.max_tokens)["ids"], setup.tok["ids"]):
        raise UserError(f"checkpoint epoch {epoch} tokenizes the prompt differently; all checkpoints must share one tokenizer")


def _score_checkpoint(bridge, epoch: int, setup: _Setup, prev: torch.Tensor | None,
                      top_k: int) -> tuple[CheckpointAttention, torch.Tensor]:
    """Two forwards (prompt, induction batch) caching only hook_pattern; returns the entry + prompt patterns."""
    layers = range(setup.shape[0])
    logits, pats = _patterns(bridge, setup.tok["ids"], layers)
    pats = pats[:, 0]  # (n_layers, n_heads, T, T)
    _, ind = _patterns(bridge, setup.induction_ids, layers)  # (n_layers, batch, n_heads, T_ind, T_ind)
    ind_score = scores.induction_score(ind, setup.induction_len, offset=int(setup.tok["bos"]))  # (n_layers, batch, n_heads)
    grid = pats.mean(dim=1) if setup.heads is None else torch.stack([pats[L, H] for L, H in setup.heads])
    nxt = _next_token(bridge.tokenizer, logits[0, -1], top_k)
    nxt.pop("top_next")
    entry = CheckpointAttention(
        epoch=int(epoch),
        **nxt,
        grid=grid.tolist(),  # (n_columns, T, T)
        entropy=scores.entropy(pats).tolist(),  # (n_layers, n_heads)
        prev_token=scores.prev_token_score(pats).tolist(),
        sink=scores.sink_score(pats).tolist(),
        induction=ind_score.mean(dim=1).tolist(),  # mean over the random sequences
        js_distance=None if prev is None else scores.js_distance(pats, prev).tolist(),
    )
    return entry, pats


def attention_evolution(checkpoints: Checkpoints, prompt: str, config: EvolutionConfig | None = None,
                        run_dir: str = "") -> AttentionEvolutionResult:
    """Prompt attention + head scores at every checkpoint of `checkpoints` (increasing epochs, each used once).

    Holds at most one model plus the previous checkpoint's prompt patterns (n_layers, n_heads, T, T).
    """
    config = config or EvolutionConfig()
    check_prompt(prompt)
    setup: _Setup | None = None
    prev: torch.Tensor | None = None
    entries: list[CheckpointAttention] = []
    for epoch, bridge in checkpoints:
        if entries and epoch <= entries[-1].epoch:
            raise UserError(f"checkpoints must come in increasing epoch order; got epoch {epoch} after {entries[-1].epoch}")
        if setup is None:
            setup = _setup(bridge, prompt, config)
        else:
            _check_same_run(bridge, prompt, config, setup, epoch)
        entry, prev = _score_checkpoint(bridge, epoch, setup, prev, config.top_k)
        entries.append(entry)
        del bridge
    if setup is None:
        raise UserError("no checkpoints to analyse; pass a run dir with checkpoints/epoch-NNN/")
    t, heads = setup.tok, setup.heads
    return AttentionEvolutionResult(
        run_dir=run_dir,
        prompt=prompt,
        config=dataclasses.asdict(config),
        n_layers=setup.shape[0],
        n_heads=setup.shape[1],
        n_ctx=t["n_ctx"],
        tokens=tuple(setup.labels),
        token_ids=tuple(t["ids"][0].tolist()),
        n_prompt_tokens=t["n_prompt_tokens"],
        truncated=t["truncated"],
        n_dropped=t["n_dropped"],
        heads=heads,
        grid_columns=tuple(f"L{L} mean" for L in range(setup.shape[0])) if heads is None
        else tuple(f"L{L}.H{H}" for L, H in heads),
        induction_len=setup.induction_len,
        induction_batch=config.induction_batch,
        induction_bos=bool(t["bos"]),
        epochs=tuple(e.epoch for e in entries),
        checkpoints=tuple(entries),
    )


# ----------------------------------------------------------------------------- figures (from result dicts)
MAX_LABELLED_TOKENS = 80  # beyond this, label every k-th position only


def _tick_step(n: int, max_labels: int = MAX_LABELLED_TOKENS) -> int:
    return max(1, math.ceil(n / max_labels))


def _heatmap(ax, mat, labels: list[str] | None, fontsize: float = 7.0, x_labels: bool = True,
             y_labels: bool = True):
    """One attention pattern: queries on the y axis (top to bottom), keys on the x axis."""
    im = ax.imshow(mat, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    n = len(mat)
    if labels is None:
        ax.set_xticks([])
        ax.set_yticks([])
        return im
    step = _tick_step(n)
    pos = list(range(0, n, step))
    shown = [labels[i] for i in pos]
    if x_labels:
        ax.set_xticks(pos, shown, rotation=90, fontsize=fontsize, parse_math=False)
        ax.set_xlabel("key", fontsize=fontsize + 1)
    else:
        ax.set_xticks([])
    if y_labels:
        ax.set_yticks(pos, shown, fontsize=fontsize, parse_math=False)
        ax.set_ylabel("query", fontsize=fontsize + 1)
    else:
        ax.set_yticks([])
    return im


@contextlib.contextmanager
def quiet_missing_glyphs() -> Iterator[None]:
    """Silence matplotlib's 'Glyph ... missing from font' warnings (CJK/emoji tokens) while drawing/saving."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        yield


def _prediction_text(d: dict[str, Any]) -> str:
    return f"next token: '{d['next_token']}' (p = {d['next_token_prob']:.3f})"


def plot_attention_maps(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """One figure per selected layer: a grid of the selected heads' heatmaps + the head-mean.

    Returns [(name, figure)] with names 'attention_L{layer}' for `interp.figures.save_figure`.
    """
    import matplotlib.pyplot as plt

    labels = list(result["tokens"])
    T = len(labels)
    panel = min(max(3.0, 0.16 * min(T, MAX_LABELLED_TOKENS)), 9.0)
    fs = 8.0 if T <= 20 else 6.0 if T <= 50 else 5.0
    figs = []
    with quiet_missing_glyphs():
        for li, layer in enumerate(result["layers"]):
            mats = [(f"head {h}", result["patterns"][li][j]) for j, h in enumerate(result["heads"][li])]
            mats.append((f"mean of {result['n_heads']} heads", result["head_mean"][li]))
            ncols = min(4, len(mats))
            nrows = math.ceil(len(mats) / ncols)
            fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.2, panel * nrows + 1.0), squeeze=False,
                                     layout="constrained")
            im = None
            for k, ax in enumerate(axes.flat):
                if k >= len(mats):
                    ax.axis("off")
                    continue
                title, mat = mats[k]
                im = _heatmap(ax, mat, labels, fontsize=fs,
                              x_labels=k >= len(mats) - ncols, y_labels=k % ncols == 0)
                ax.set_title(title, fontsize=fs + 2)
            trunc = f" — prompt truncated: first {result['n_dropped']} tokens dropped" if result.get("truncated") else ""
            model = f"{result['model']} — " if result.get("model") else ""
            fig.suptitle(f"{model}layer {layer} attention — {_prediction_text(result)}{trunc}", fontsize=fs + 3, parse_math=False)
            if im is not None:
                fig.colorbar(im, ax=list(axes.flat), shrink=0.6, label="attention probability")
            figs.append((f"attention_L{layer}", fig))
    return figs


def plot_attention_evolution_grid(result: dict[str, Any]):
    """Epochs (rows) × layers or chosen heads (columns) of the prompt's attention patterns."""
    import matplotlib.pyplot as plt

    labels = list(result["tokens"])
    T = len(labels)
    cols = list(result["grid_columns"])
    cks = result["checkpoints"]
    nrows, ncols = len(cks), len(cols)
    show = labels if T <= 24 else None
    panel = 2.4 if show else 1.6
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.5, panel * nrows + 1.0), squeeze=False,
                             layout="constrained")
    with quiet_missing_glyphs():
        im = None
        for r, ck in enumerate(cks):
            for c, col in enumerate(cols):
                ax = axes[r][c]
                im = _heatmap(ax, ck["grid"][c], show, fontsize=5.0, x_labels=r == nrows - 1, y_labels=c == 0)
                if r == 0:
                    ax.set_title(col, fontsize=8)
                if c == 0:  # row label: epoch + the prompt's predicted next token there
                    ax.set_ylabel(f"epoch {ck['epoch']}\n'{ck['next_token']}' p={ck['next_token_prob']:.2f}",
                                  fontsize=7, parse_math=False)
        what = "head-mean per layer" if result.get("heads") is None else "selected heads"
        fig.suptitle(f"attention over training ({what}) — prompt: {result['prompt'][:60]!r}", fontsize=9, parse_math=False)
        if im is not None:
            fig.colorbar(im, ax=list(axes.flat), shrink=0.5, label="attention probability")
    return fig


METRICS = (
    ("entropy", "attention entropy (nats)"),
    ("prev_token", "previous-token score"),
    ("sink", "first-token (sink) score"),
    ("induction", "induction score"),
    ("js_distance", "JS distance to previous epoch"),
)


def evolution_lines(result: dict[str, Any], metric: str) -> dict[str, list[float | None]]:
    """Per line label, the metric over epochs: chosen heads, else the mean over heads per layer."""
    cks = result["checkpoints"]
    heads = result.get("heads")
    lines: dict[str, list[float | None]] = {}
    if heads:
        for L, H in heads:
            lines[f"L{L}.H{H}"] = [None if ck[metric] is None else ck[metric][L][H] for ck in cks]
    else:
        for L in range(result["n_layers"]):
            lines[f"L{L} mean"] = [None if ck[metric] is None else sum(ck[metric][L]) / len(ck[metric][L])
                                   for ck in cks]
    return lines


def plot_attention_evolution_metrics(result: dict[str, Any]):
    """One panel per head score over epochs; a line per chosen head, or the head-mean per layer."""
    import matplotlib.pyplot as plt

    epochs = list(result["epochs"])
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.6 * len(METRICS), 3.4), squeeze=False, layout="constrained")
    for ax, (metric, title) in zip(axes[0], METRICS, strict=True):
        for label, ys in evolution_lines(result, metric).items():
            pts = [(e, y) for e, y in zip(epochs, ys, strict=True) if y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.2, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if metric == "js_distance":
            ax.set_ylim(bottom=0.0)  # in [0, 1], but late-training values are small: autoscale the top
        elif metric != "entropy":
            ax.set_ylim(-0.02, 1.02)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle(f"head scores over training — prompt: {result['prompt'][:60]!r} "
                 f"(induction: S={result['induction_len']}, {result['induction_batch']} seqs)", fontsize=9,
                 parse_math=False)
    return fig
