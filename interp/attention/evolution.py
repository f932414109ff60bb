"""Attention over training: one prompt (and seeded random repeated tokens) through every checkpoint of a series.

`attention_evolution(run_or_series, prompt, ...)` takes any checkpoint series (`interp.series`: an interp run
dir, HF Trainer `checkpoint-N/` folders, model dirs, hub revisions `org/name@step0,step1000`, nanoGPT
`ckpt*.pt`) or, as the pure core, an iterable of (epoch | `Checkpoint`, bridge) pairs. Per checkpoint and head
(`interp.attention.scores`): entropy, previous-token and first-token ("sink") scores on the prompt; induction
and duplicate-token scores on `induction_batch` seeded random sequences of S tokens repeated twice; and the
Jensen–Shannon distance to the previous checkpoint's prompt pattern — where attention stops changing. Plus
the prompt's next-token prediction and a grid of patterns (head-mean per layer or chosen heads).

Cost: one model load + two forwards per checkpoint; one model alive at a time (the series frees each before
the next load), plus the previous checkpoint's prompt patterns (n_layers, n_heads, T, T).

Scale-out: under `torchrun --nproc_per_node=N -m interp.cli attention-evolution ...` (WORLD_SIZE > 1) each rank
scores a contiguous slice of the series; the slices (entries + each slice's first/last prompt patterns) are
gathered with `all_gather_object` and every rank merges them: the JS distance of a slice's first checkpoint is
computed from the previous slice's last pattern, so the merged result is the single-process one, byte for byte
(tested with 2 gloo processes). Only rank 0 writes (the CLI checks `is_main_process()`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp.attention import icl, scores
from interp.attention.maps import _next_token, _patterns, _tokenize, check_prompt, token_labels
from interp.errors import UserError
from interp.heads import HeadSpec
from interp.results import FrozenResult
from interp.series import Checkpoint, CheckpointSeries, as_series, from_pairs_label

DEFAULT_INDUCTION_LEN = 32  # S when not given; capped to fit the context (a longer explicit S is refused)
SAMPLINGS = ("vocab", "frequent")


@dataclass(frozen=True)
class EvolutionConfig:
    heads: str | None = None  # HeadSpec text ('0.1,1.*') for the grid/plots; None = head-mean per layer
    prepend_bos: bool | None = None
    max_tokens: int | None = None
    induction_len: int = 32  # S (DEFAULT_INDUCTION_LEN); capped to fit the context and the vocabulary (actual S is recorded)
    induction_batch: int = 4  # random repeated sequences averaged per checkpoint
    seed: int = 0
    top_k: int = 5
    grid: bool = True  # keep the prompt patterns per checkpoint (the grid figure); False for scores only
    # induction-sequence tokens: "vocab" (uniform over the non-special vocabulary) or "frequent" (the
    # `n_frequent` most frequent tokens of `sample_text`, e.g. the train split: tokens the model has seen)
    induction_sampling: str = "vocab"
    n_frequent: int = 512
    icl_windows: int = 64  # held-out windows for the in-context-learning score (when `icl_text` is given)

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
        if self.induction_sampling not in SAMPLINGS:
            raise UserError(f"induction sampling must be one of {', '.join(SAMPLINGS)}; got {self.induction_sampling!r}")
        if self.n_frequent < 2 or self.icl_windows < 2:
            raise UserError("n_frequent and icl_windows must be >= 2")


@dataclass(frozen=True)
class CheckpointAttention:
    """One checkpoint: when it was saved, prompt prediction, grid patterns, and per-(layer, head) scores."""

    epoch: float | int | None
    next_token: str
    next_token_id: int
    next_token_prob: float
    grid: list  # [column][q][k], columns as in the result's `grid_columns` ([] when config.grid is False)
    entropy: list  # [layer][head], nats
    prev_token: list  # [layer][head]
    sink: list  # [layer][head]
    induction: list  # [layer][head]
    js_distance: list | None  # [layer][head] vs the previous checkpoint; None for the first
    duplicate_token: list = field(default_factory=list)  # [layer][head], on the repeated random tokens
    label: str = ""
    step: int | None = None
    tokens_seen: int | None = None
    icl: dict[str, float] | None = None  # interp.attention.icl.ICLScore fields; None without an ICL text


@dataclass(frozen=True)
class AttentionEvolutionResult(FrozenResult):
    kind: str = "attention_evolution"
    run_dir: str = ""  # the series source (kept under its old name for reports)
    series_kind: str = ""  # run | trainer | dirs | list | hub | nanogpt | pairs
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
    induction_sampling: str = ""  # how the repeated sequences' tokens were drawn (see EvolutionConfig)
    icl_source: str = ""  # where the ICL windows came from ("" = no ICL score)
    x: str = "epoch"  # the x axis: tokens | step | epoch | checkpoint
    x_values: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    steps: tuple[int | None, ...] = ()
    tokens_seen: tuple[int | None, ...] = ()
    epochs: tuple[float | int | None, ...] = ()
    checkpoints: tuple[CheckpointAttention, ...] = ()
    loss_curve: tuple[dict[str, Any], ...] = ()  # the run's logged losses (step, tokens, epoch, train/val loss)
    integrity: dict[str, Any] | None = None  # duplicate weights across checkpoints (interp.series_integrity)
    warnings: tuple[str, ...] = ()
    boundary: dict[str, Any] | None = None  # a parent → fine-tune series: where fine-tuning starts

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d.get("boundary") is None:
            d.pop("boundary", None)  # only fine-tune series carry it (other results JSON unchanged)
        return d


Checkpoints = Iterable[tuple[Any, Any]]  # (epoch | Checkpoint, TransformerBridge), loaded lazily by the iterable


# ----------------------------------------------------------------------------- legacy run-dir helpers
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


# ----------------------------------------------------------------------------- one checkpoint
@dataclass(frozen=True)
class _Setup:
    """What the first checkpoint fixes for the whole sweep: prompt ids, head selection, induction tokens."""

    tok: dict[str, Any]  # _tokenize output
    labels: list[str]
    shape: tuple[int, int]  # (n_layers, n_heads)
    heads: tuple[tuple[int, int], ...] | None
    induction_len: int
    induction_ids: torch.Tensor  # (batch, [1 +] 2S)
    sampling: str = ""
    icl_windows: torch.Tensor | None = None  # (W, n_ctx + 1)


def _setup(bridge, prompt: str, config: EvolutionConfig, texts: dict[str, str] | None = None) -> _Setup:
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    t = _tokenize(bridge, prompt, config.prepend_bos, config.max_tokens)
    heads = HeadSpec.parse(config.heads).resolve(n_layers, n_heads) if config.heads else None
    texts = texts or {}
    cand = scores.candidate_token_ids(bridge.tokenizer, bridge.cfg.d_vocab)
    sampling = f"uniform over the {len(cand)} non-special token ids of the vocabulary"
    if config.induction_sampling == "frequent":
        if not texts.get("sample"):
            raise UserError("induction sampling 'frequent' needs a text the model was trained on (the run's train "
                            "split, or --sample-text FILE)")
        cand = icl.frequent_token_ids(bridge.tokenizer, texts["sample"], config.n_frequent, int(bridge.cfg.d_vocab))
        sampling = (f"uniform over the {len(cand)} most frequent non-special tokens (each seen >= 2 times) of "
                    f"{texts.get('sample_source', 'the given text')}")
    room = (int(bridge.cfg.n_ctx) - int(t["bos"])) // 2
    if config.induction_len > max(room, DEFAULT_INDUCTION_LEN):  # the default is capped to fit; a longer ask is refused
        raise UserError(f"--induction-len {config.induction_len} does not fit: the sequence is repeated twice in a "
                        f"context of {bridge.cfg.n_ctx} tokens, so S is at most {room}")
    S = min(config.induction_len, room, len(cand))
    if S < 1:
        raise UserError("context or vocabulary too small for an induction sequence (need 2 + BOS tokens)")
    ind = scores.induction_tokens(cand, S, config.induction_batch, config.seed, t["bos_id"])
    win = icl.text_windows(bridge.tokenizer, texts["icl"], int(bridge.cfg.n_ctx), config.icl_windows) \
        if texts.get("icl") else None
    return _Setup(t, token_labels(bridge.tokenizer, t["ids"][0].tolist()), (n_layers, n_heads), heads, S, ind,
                  sampling + ", without replacement within a sequence, repeated twice", win)


def _check_same_run(bridge, prompt: str, config: EvolutionConfig, setup: _Setup, label: str) -> None:
    shape = (int(bridge.cfg.n_layers), int(bridge.cfg.n_heads))
    if shape != setup.shape:
        raise UserError(
            f"checkpoint {label} has {shape[0]} layers × {shape[1]} heads, earlier ones "
            f"{setup.shape[0]} × {setup.shape[1]}; all checkpoints must share one architecture"
        )
    if not torch.equal(_tokenize(bridge, prompt, config.prepend_bos, config.max_tokens)["ids"], setup.tok["ids"]):
        raise UserError(f"checkpoint {label} tokenizes the prompt differently; all checkpoints must share one tokenizer")


def _score_checkpoint(bridge, info: Checkpoint, setup: _Setup, prev: torch.Tensor | None,
                      config: EvolutionConfig) -> tuple[CheckpointAttention, torch.Tensor]:
    """Two forwards (prompt, induction batch) caching only hook_pattern; returns the entry + prompt patterns."""
    layers = range(setup.shape[0])
    logits, pats = _patterns(bridge, setup.tok["ids"], layers)
    pats = pats[:, 0]  # (n_layers, n_heads, T, T)
    _, ind = _patterns(bridge, setup.induction_ids, layers)  # (n_layers, batch, n_heads, T_ind, T_ind)
    icl_d = None
    if setup.icl_windows is not None:
        w = setup.icl_windows
        with torch.no_grad():
            logits_w = bridge(w[:, :-1].to(getattr(bridge.cfg, "device", None) or "cpu"))  # (W, n_ctx, d_vocab)
        icl_d = dataclasses.asdict(icl.icl_from_losses(icl.position_losses(logits_w.cpu(), w), seed=config.seed))
    off = int(setup.tok["bos"])
    grid = pats.mean(dim=1) if setup.heads is None else torch.stack([pats[L, H] for L, H in setup.heads])
    nxt = _next_token(bridge.tokenizer, logits[0, -1], config.top_k)
    nxt.pop("top_next")
    entry = CheckpointAttention(
        epoch=info.epoch,
        **nxt,
        grid=grid.tolist() if config.grid else [],  # (n_columns, T, T)
        entropy=scores.entropy(pats).tolist(),  # (n_layers, n_heads)
        prev_token=scores.prev_token_score(pats).tolist(),
        sink=scores.sink_score(pats).tolist(),
        induction=scores.induction_score(ind, setup.induction_len, offset=off).mean(dim=1).tolist(),
        duplicate_token=scores.duplicate_token_score(ind, setup.induction_len, offset=off).mean(dim=1).tolist(),
        js_distance=None if prev is None else scores.js_distance(pats, prev).tolist(),
        label=info.label, step=info.step, tokens_seen=info.tokens_seen, icl=icl_d,
    )
    return entry, pats


# ----------------------------------------------------------------------------- a sweep (one rank's slice)
@dataclass
class _Part:
    entries: list[CheckpointAttention] = field(default_factory=list)
    setup: _Setup | None = None
    first: torch.Tensor | None = None  # prompt patterns of the slice's first / last checkpoint
    last: torch.Tensor | None = None
    error: str | None = None


def _sweep(items: Iterable[tuple[Checkpoint, Any]], prompt: str, config: EvolutionConfig,
           on_done: Callable[[int], Any] | None = None, texts: dict[str, str] | None = None) -> _Part:
    part = _Part()
    for info, bridge in items:
        if part.setup is None:
            part.setup = _setup(bridge, prompt, config, texts)
        else:
            _check_same_run(bridge, prompt, config, part.setup, info.label)
        entry, part.last = _score_checkpoint(bridge, info, part.setup, part.last, config)
        if part.first is None:
            part.first = part.last
        part.entries.append(entry)
        del bridge
        if on_done is not None:
            on_done(1)
    return part


def _pairs(pairs: Checkpoints) -> Iterator[tuple[Checkpoint, Any]]:
    last: float | None = None
    for e, bridge in pairs:
        info = e if isinstance(e, Checkpoint) else from_pairs_label(int(e))
        if not isinstance(e, Checkpoint):
            if last is not None and e <= last:
                raise UserError(f"checkpoints must come in increasing epoch order; got epoch {e} after {last}")
            last = e
        yield info, bridge


# ----------------------------------------------------------------------------- torchrun
def _world() -> tuple[int, int]:
    """(rank, world size); initialises a gloo/nccl process group under torchrun (WORLD_SIZE > 1)."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and os.environ.get("INTERP_NCCL") else "gloo")
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    """True unless this is a rank > 0 of a torchrun job (only rank 0 writes results)."""
    return int(os.environ.get("RANK", "0")) == 0


def _gather(part: _Part, world: int) -> list[_Part]:
    if world == 1:
        return [part]
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, part)
    return out


def _merge(parts: list[_Part]) -> tuple[_Setup, list[CheckpointAttention]]:
    for p in parts:
        if p.error:
            raise UserError(p.error)
    done = [p for p in parts if p.entries]
    if not done:
        raise UserError("no checkpoints to analyse; pass a run dir, a folder of checkpoints or a list of model dirs")
    setup = done[0].setup
    assert setup is not None
    entries = list(done[0].entries)
    for prev, p in zip(done, done[1:], strict=False):
        assert p.setup is not None and p.first is not None and prev.last is not None
        if p.setup.shape != setup.shape or not torch.equal(p.setup.tok["ids"], setup.tok["ids"]):
            raise UserError(f"checkpoint {p.entries[0].label} differs in architecture or tokenizer from "
                            f"{entries[0].label}; all checkpoints must share one")
        first = dataclasses.replace(p.entries[0], js_distance=scores.js_distance(p.first, prev.last).tolist())
        entries += [first, *p.entries[1:]]
    return setup, entries


# ----------------------------------------------------------------------------- public API
def _is_series_source(obj: Any) -> bool:
    if isinstance(obj, (str, Path, CheckpointSeries)):
        return True
    return isinstance(obj, (list, tuple)) and bool(obj) and all(isinstance(o, (str, Path)) for o in obj)


def attention_evolution(run_or_series: Any, prompt: str, config: EvolutionConfig | None = None, *,
                        run_dir: str = "", heads: str | None = None, induction_len: int = 32,
                        induction_batch: int = 4, max_tokens: int | None = None, x: str | None = None,
                        tokenizer: str | None = None, meta: str | None = None, device: str = "cpu",
                        seed: int = 0, grid: bool = True, strict: bool = False, texts: dict[str, str] | None = None,
                        induction_sampling: str = "vocab") -> AttentionEvolutionResult:
    """Prompt attention + head scores at every checkpoint of a series (see the module docstring).

    `run_or_series`: a series source (`interp.series.as_series`: run dir, checkpoint folder, list of dirs,
    'org/name@rev,...', nanoGPT .pt) or an iterable of (epoch | Checkpoint, bridge) pairs. `config` (an
    `EvolutionConfig`) replaces heads/induction_len/induction_batch/max_tokens/seed/grid when given.
    `x`: step | tokens | epoch | checkpoint (default: tokens when every checkpoint knows them).
    Checkpoints with identical weights under different names are named in `integrity`/`warnings`
    (`interp.series_integrity`); `strict=True` refuses such a series before any model is loaded.
    `texts`: optional {"sample": train text for induction_sampling="frequent", "icl": held-out text for the
    in-context-learning score (`interp.attention.icl`), "sample_source"/"icl_source": where they came from}.
    """
    config = config or EvolutionConfig(heads=heads, max_tokens=max_tokens, induction_len=induction_len,
                                       induction_batch=induction_batch, seed=seed, grid=grid,
                                       induction_sampling=induction_sampling)
    check_prompt(prompt)
    rank, world = 0, 1
    if _is_series_source(run_or_series):
        series = as_series(run_or_series, tokenizer=tokenizer, meta=meta)
        x = series.check_x(x)
        series.preflight()
        from interp.series_integrity import check_integrity

        integrity: dict[str, Any] | None = check_integrity(series, strict=strict)
        rank, world = _world()
        idx = series.shard(rank, world)
        from interp.progress import progress_bar

        # the bar is updated by the sweep, not wrapped around the iterator: tqdm would hold the previous
        # (checkpoint, bridge) while the next one loads — two models alive instead of one
        bar = progress_bar(total=len(idx), desc="checkpoints", unit="ckpt", file=sys.stderr, disable=None)
        items: Iterable[tuple[Checkpoint, Any]] = series.iter_models(device=device, indices=idx)
        source, kind, curve = run_dir or series.source, series.kind, series.loss_curve
        boundary = series.boundary
    else:
        items, source, kind, curve, bar = _pairs(run_or_series), run_dir, "pairs", (), None
        integrity = None
        boundary = None
    try:
        part = _sweep(items, prompt, config, on_done=bar.update if bar is not None else None, texts=texts)
    except UserError as e:
        if world == 1:
            raise
        part = _Part(error=str(e))
    finally:
        if bar is not None:
            bar.close()
    setup, entries = _merge(_gather(part, world))
    infos = [Checkpoint(label=e.label, ref="", step=e.step, tokens_seen=e.tokens_seen, epoch=e.epoch) for e in entries]
    x = CheckpointSeries(source or "checkpoints", kind, tuple(infos)).check_x(x)
    xs = tuple(float(i) if x == "checkpoint" else CheckpointSeries.value(c, x) for i, c in enumerate(infos))
    t, hs = setup.tok, setup.heads
    return AttentionEvolutionResult(
        run_dir=source, series_kind=kind, prompt=prompt, config=dataclasses.asdict(config),
        n_layers=setup.shape[0], n_heads=setup.shape[1], n_ctx=t["n_ctx"], tokens=tuple(setup.labels),
        token_ids=tuple(t["ids"][0].tolist()), n_prompt_tokens=t["n_prompt_tokens"], truncated=t["truncated"],
        n_dropped=t["n_dropped"], heads=hs,
        grid_columns=tuple(f"L{L} mean" for L in range(setup.shape[0])) if hs is None
        else tuple(f"L{L}.H{H}" for L, H in hs),
        induction_len=setup.induction_len, induction_batch=config.induction_batch, induction_bos=bool(t["bos"]),
        induction_sampling=setup.sampling,
        icl_source=(texts or {}).get("icl_source", "the given text") if setup.icl_windows is not None else "",
        x=x, x_values=xs, labels=tuple(c.label for c in infos), steps=tuple(c.step for c in infos),
        tokens_seen=tuple(c.tokens_seen for c in infos), epochs=tuple(c.epoch for c in infos),
        checkpoints=tuple(entries), loss_curve=tuple(curve), integrity=integrity, boundary=boundary,
        warnings=(integrity["warning"],) if integrity and integrity["warning"] else (),
    )
