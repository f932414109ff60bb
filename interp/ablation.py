"""Attention-head ablation: what happens to loss and generations when heads stop contributing.

Method. A head's contribution to the residual stream is `z_h @ W_O[h]`, where
`z = blocks.L.attn.hook_z` (B, T, n_heads, d_head) is the per-head attention output before the output
projection. Ablating head (L, h) replaces `z[:, :, h]` in a forward hook:

    zero      z_h := 0
    mean      z_h := mean of z_h over every eval position (one clean pass first)
    resample  z_h := z_h at a random other eval position (another window when there are several,
              else another position of the same window; seeded), fetched from that clean pass

`ablate(bridge, token_windows, heads, config)` ablates a SET of heads together and reports clean vs
ablated mean next-token loss and perplexity on the eval windows, the distribution of per-token
Δloss = ablated − clean (mean, median, p90, fraction of tokens hurt), Δloss by position-in-window
bucket, and clean vs ablated greedy continuations of a prompt with distinct-1/2 (repetition: the
seed-001 experiment, quantified).

`sweep(bridge, token_windows, config)` ablates every single head, one at a time, BATCHED: per chunk of
windows, one clean `run_with_cache` stores `blocks.L.hook_resid_pre` for every layer; then for layer L
the rest of the network runs ONCE on the batch expanded k times (copy i = head heads_L[i] ablated).
The expanded pass starts from the cached residual: it is fed one token row (the cheap prefix 0..L-1
runs on that row) and a hook on `blocks.L.hook_resid_pre` swaps in the cached residual, expanded to
(k·B, T, d_model) — the blocks after it just see a bigger batch (masks and rotary embeddings were built
for one row and broadcast; checked on GPT-2, Gemma GQA and Gemma-3-270M). Compared with the per-head
`run_with_hooks` loop (`sweep(..., batched=False)`, kept as the reference) this skips the clean prefix
of every ablated forward: a head of layer L costs n_layers − L block passes instead of n_layers (over all
layers, n(n+1)/2 instead of n² per head index). The unembedding + log-sum-exp is still paid once per
head (~1.5 blocks' worth on the `small` preset), so the exact speed-up is bounded (~1.4× there in work;
benchmarks/ablation_sweep.py measures it). Tests check both paths give the same Δloss to 1e-5.

Eval text → windows (`eval_windows`): each document's tokens followed by <|endoftext|> (as in
training), concatenated, cut into non-overlapping windows of `context` tokens from the start, at most
`max_tokens` tokens in all. Loss at position t is −log p(token t+1 | tokens ≤ t), so a window of T
tokens scores T−1 predictions. BOS (`window_bos`): models whose tokenizer has a dedicated BOS token
(bos ≠ eos: Gemma, Llama) get it at the start of every window and of the prompt; GPT-2-style models
(<|endoftext|> is both, as in the reference models, trained on raw windows) get none. Overridable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.errors import UserError
from interp.heads import Head, HeadSpec, format_heads
from interp.results import FrozenResult

METHODS = ("zero", "mean", "resample")
Z_HOOK = "blocks.{layer}.attn.hook_z"  # (B, T, n_heads, d_head)
RESID_PRE_HOOK = "blocks.{layer}.hook_resid_pre"  # (B, T, d_model)
DEFAULT_PROMPT = "The cat sat on"
MAX_RESAMPLE_BYTES = 4 * 2**30  # z kept for resampling; above this ask for fewer --max-tokens
LOGITS_BYTES_PER_FORWARD = 2**29  # auto batch size keeps one forward's logits under 512 MiB
TOKENS_PER_FORWARD = 8192  # ... and under this many tokens


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class AblationConfig:
    method: str = "zero"
    seed: int = 0
    batch_size: int | None = None  # rows (windows) per forward; None = auto (≤ 8192 tokens, ≤ 512 MiB logits)
    prompt: str = DEFAULT_PROMPT
    max_new_tokens: int = 40  # greedy continuation of `prompt`, clean vs ablated (0 = skip)
    n_buckets: int = 8  # position-in-window buckets of the Δloss profile
    prepend_bos: bool | None = None  # None = auto (`window_bos`); applies to the prompt (windows: eval_windows)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserError(f"unknown ablation method {self.method!r}; choose one of: {', '.join(METHODS)}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size <= 0):
            raise UserError(f"--batch-size must be a positive integer, got {self.batch_size!r}")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise UserError(f"--max-new-tokens must be >= 0, got {self.max_new_tokens!r}")
        if self.max_new_tokens > 0 and not self.prompt.strip():
            raise UserError("--prompt is empty; pass some text to continue (or --max-new-tokens 0)")
        if not isinstance(self.n_buckets, int) or self.n_buckets <= 0:
            raise UserError(f"n_buckets must be a positive integer, got {self.n_buckets!r}")


# ----------------------------------------------------------------------------- eval windows
def window_bos(tokenizer, prepend_bos: bool | None = None) -> int | None:
    """The BOS id every window/prompt starts with, or None. Auto (None): only a dedicated BOS (bos ≠ eos)."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    if prepend_bos is None:
        prepend_bos = bos is not None and bos != eos
    if prepend_bos and bos is None:
        raise UserError("this tokenizer has no BOS token; drop --prepend-bos")
    return int(bos) if prepend_bos else None


def eval_windows(tokenizer, documents: Sequence[str], context: int, max_tokens: int,
                 bos_token_id: int | None = None) -> torch.Tensor:
    """Documents → non-overlapping token windows (N, T), T = min(context, stream length), N·T ≤ max_tokens.
    With `bos_token_id`, each window is BOS + T−1 stream tokens."""
    if context < 2 + (bos_token_id is not None):
        raise UserError(f"--context must be at least {2 + (bos_token_id is not None)} tokens, got {context}")
    if max_tokens < 2 + (bos_token_id is not None):
        raise UserError(f"--max-tokens must be at least {2 + (bos_token_id is not None)}, got {max_tokens}")
    eot = tokenizer.eos_token_id
    stream: list[int] = []
    for doc in documents:
        stream.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
        if eot is not None:
            stream.append(eot)
        if len(stream) >= max_tokens:
            break
    if bos_token_id is None:
        stream = stream[:max_tokens]
        if len(stream) < 2:
            raise UserError("the eval text has fewer than 2 tokens; give it more text")
        t = min(context, len(stream))
        n = len(stream) // t
        return torch.tensor(stream[: n * t], dtype=torch.long).view(n, t)
    if not stream:
        raise UserError("the eval text has no tokens; give it more text")
    t = min(context, len(stream) + 1, max_tokens)  # BOS + t-1 stream tokens per window
    n = max(1, min(len(stream) // (t - 1), max_tokens // t))
    body = torch.tensor(stream[: n * (t - 1)], dtype=torch.long).view(n, t - 1)
    return torch.cat([torch.full((n, 1), bos_token_id, dtype=torch.long), body], dim=1)


def _device(bridge) -> torch.device:
    return next(bridge.original_model.parameters()).device


def _auto_rows(bridge, seq_len: int) -> int:
    v = int(bridge.cfg.d_vocab)
    return max(1, min(TOKENS_PER_FORWARD // seq_len, LOGITS_BYTES_PER_FORWARD // (seq_len * v * 4)))


def token_losses(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Next-token loss (nats): logits (B, T, V), tokens (B, T) → (B, T-1), float32."""
    lg = logits[:, :-1].float()
    return torch.logsumexp(lg, dim=-1) - lg.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def _progress(total: int, desc: str, enabled: bool):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False)


# ----------------------------------------------------------------------------- ablation values
def resample_sources(n_windows: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """For every eval position (w, t), a random source position, as a flat index into N·T (N, T).

    The source is in another window when there are several (uniform window ≠ w, uniform position), else
    another position of the single window."""
    n, t = n_windows, seq_len
    if n > 1:
        w = (torch.arange(n)[:, None] + torch.randint(1, n, (n, t), generator=generator)) % n
        p = torch.randint(0, t, (n, t), generator=generator)
    elif t > 1:
        w = torch.zeros(1, t, dtype=torch.long)
        p = (torch.arange(t)[None, :] + torch.randint(1, t, (1, t), generator=generator)) % t
    else:
        w, p = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long)
    return w * t + p


@dataclass
class _Values:
    """What replaces an ablated head's z, per layer, for the heads `heads[layer]` (sorted head ids).

    zero: nothing stored. mean: `mean[layer]` (n_sel, d_head). resample: `bank[layer]` (N, T, n_sel, d_head)
    = z at each eval position's resample source, and `gen[layer]` (gen_positions, n_sel, d_head) = z at
    random eval positions, indexed by position, for generation."""

    method: str
    heads: dict[int, list[int]]
    mean: dict[int, torch.Tensor]
    bank: dict[int, torch.Tensor]
    gen: dict[int, torch.Tensor]

    def only(self, layer: int, head: int) -> _Values:
        """The values of one head (for the per-head loop)."""
        i = [self.heads[layer].index(head)]
        return _Values(self.method, {layer: [head]},
                       {layer: self.mean[layer][i]} if layer in self.mean else {},
                       {layer: self.bank[layer][:, :, i]} if layer in self.bank else {},
                       {layer: self.gen[layer][:, i]} if layer in self.gen else {})

    def for_rows(self, layer: int, rows: slice | None, seq_len: int) -> torch.Tensor | float:
        """Replacement broadcastable to (B, T, n_sel, d_head): eval rows `rows`, or generation (None)."""
        if self.method == "zero":
            return 0.0
        if self.method == "mean":
            return self.mean[layer]  # (n_sel, d_head)
        if rows is None:
            return self.gen[layer][:seq_len]  # (T, n_sel, d_head)
        return self.bank[layer][rows]  # (B, T, n_sel, d_head)


@torch.no_grad()
def ablation_values(bridge, windows: torch.Tensor, heads: Sequence[Head], method: str, seed: int = 0,
                    batch_size: int | None = None, progress: bool = False, gen_positions: int = 0) -> _Values:
    """One clean pass over `windows` collecting what `method` replaces each head's z with.

    resample also draws `gen_positions` position-indexed replacements for generation (0: none)."""
    by_layer: dict[int, list[int]] = {}
    for layer, h in heads:
        by_layer.setdefault(layer, []).append(h)
    by_layer = {k: sorted(v) for k, v in sorted(by_layer.items())}
    vals = _Values(method, by_layer, {}, {}, {})
    if method == "zero" or not heads:
        return vals
    n, t = windows.shape
    d_head = int(bridge.cfg.d_head)
    if method == "resample":
        need = 2 * n * t * len(heads) * d_head * 4  # z of every position + the resampled bank
        if need > MAX_RESAMPLE_BYTES:
            raise UserError(f"resample ablation would keep {need / 2**30:.1f} GiB of z activations; "
                            "lower --max-tokens or ablate fewer heads")
    dev = _device(bridge)
    names = {Z_HOOK.format(layer=layer): layer for layer in by_layer}
    sums = {layer: torch.zeros(len(hs), d_head, dtype=torch.float64, device=dev) for layer, hs in by_layer.items()}
    zs: dict[int, list[torch.Tensor]] = {layer: [] for layer in by_layer}
    rows = batch_size or _auto_rows(bridge, t)
    last = max(by_layer) + 1
    stop = last if last < int(bridge.cfg.n_layers) else None  # no need to run past the last ablated layer
    with _progress(n, f"clean pass ({method} values)", progress) as bar:
        for sl in _chunks(n, rows):
            _, cache = bridge.run_with_cache(windows[sl].to(dev), names_filter=names.__contains__, stop_at_layer=stop)
            for name, layer in names.items():
                z = cache[name][:, :, by_layer[layer]]  # (B, T, n_sel, d_head)
                if method == "mean":
                    sums[layer] += z.double().sum(dim=(0, 1))
                else:
                    zs[layer].append(z.float())
            bar.update(sl.stop - sl.start)
    if method == "mean":
        vals.mean = {layer: (s / (n * t)).float() for layer, s in sums.items()}
        return vals
    g = torch.Generator().manual_seed(seed)
    src = resample_sources(n, t, g).to(dev)  # (N, T) flat source positions
    gen_src = torch.randint(0, n * t, (gen_positions,), generator=g).to(dev)  # (gen_positions,)
    for layer in by_layer:
        flat = torch.cat(zs[layer]).flatten(0, 1)  # (N·T, n_sel, d_head)
        vals.bank[layer] = flat[src]  # (N, T, n_sel, d_head)
        vals.gen[layer] = flat[gen_src]  # (gen_positions, n_sel, d_head)
        zs[layer] = []
    return vals


def ablation_hooks(values: _Values, rows: slice | None = None) -> list[tuple[str, Callable]]:
    """`fwd_hooks` that ablate every head in `values.heads` (eval rows `rows`, or generation when None)."""
    hooks = []
    for layer, hs in values.heads.items():
        def hook(z: torch.Tensor, hook: Any = None, layer: int = layer, hs: list[int] = hs) -> torch.Tensor:
            z = z.clone()  # (B, T, n_heads, d_head)
            z[:, :, hs] = torch.as_tensor(values.for_rows(layer, rows, z.shape[1]), dtype=z.dtype,
                                          device=z.device).expand(z.shape[0], z.shape[1], len(hs), z.shape[3])
            return z
        hooks.append((Z_HOOK.format(layer=layer), hook))
    return hooks


# ----------------------------------------------------------------------------- result types
@dataclass(frozen=True)
class DeltaSummary:
    """Per-token Δloss = ablated − clean (nats)."""

    mean: float
    median: float
    p90: float
    max: float
    frac_hurt: float  # Δ > 0
    frac_helped: float  # Δ < 0


@dataclass(frozen=True)
class PositionBucket:
    """Δloss over predictions made at window positions [start, end) (position t predicts token t+1)."""

    start: int
    end: int
    n_tokens: int
    clean_loss: float
    ablated_loss: float
    delta_mean: float
    frac_hurt: float


@dataclass(frozen=True)
class Continuation:
    text: str
    tokens: tuple[int, ...]
    distinct_1: float
    distinct_2: float


@dataclass(frozen=True)
class GenerationComparison:
    prompt: str
    decoding: str
    max_new_tokens: int
    clean: Continuation
    ablated: Continuation
    same: bool  # identical continuations


@dataclass(frozen=True)
class AblationResult(FrozenResult):
    kind: str = "ablation"
    method: str = "zero"
    heads: tuple[Head, ...] = ()
    heads_spec: str = ""
    seed: int = 0
    n_layers: int = 0
    n_heads: int = 0
    n_windows: int = 0
    window_len: int = 0
    bos: bool = False  # windows start with BOS
    n_tokens_scored: int = 0
    clean_loss: float = 0.0
    ablated_loss: float = 0.0
    delta_loss: float = 0.0
    clean_perplexity: float = 0.0
    ablated_perplexity: float = 0.0
    delta: DeltaSummary | None = None
    by_position: tuple[PositionBucket, ...] = ()
    generation: GenerationComparison | None = None


def summarize_delta(delta: torch.Tensor) -> DeltaSummary:
    d = delta.flatten().double()
    return DeltaSummary(mean=d.mean().item(), median=d.median().item(), p90=torch.quantile(d, 0.9).item(),
                        max=d.max().item(), frac_hurt=(d > 0).double().mean().item(),
                        frac_helped=(d < 0).double().mean().item())


def position_buckets(clean: torch.Tensor, ablated: torch.Tensor, n_buckets: int) -> tuple[PositionBucket, ...]:
    """clean/ablated per-token losses (N, T-1) → Δ by position-in-window bucket."""
    n_pos = clean.shape[1]
    k = max(1, min(n_buckets, n_pos))
    edges = [round(i * n_pos / k) for i in range(k + 1)]
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        c, ab = clean[:, a:b].double(), ablated[:, a:b].double()
        out.append(PositionBucket(start=a, end=b, n_tokens=c.numel(), clean_loss=c.mean().item(),
                                  ablated_loss=ab.mean().item(), delta_mean=(ab - c).mean().item(),
                                  frac_hurt=((ab - c) > 0).double().mean().item()))
    return tuple(out)


# ----------------------------------------------------------------------------- ablate a set of heads
def _prompt_ids(bridge, config: AblationConfig) -> list[int]:
    """Prompt token ids (BOS first when `window_bos` says so), truncated to leave room for one new token."""
    ids = bridge.tokenizer(config.prompt, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError(f"--prompt {config.prompt!r} has no tokens; pass some text")
    bos = window_bos(bridge.tokenizer, config.prepend_bos)
    return ([bos] if bos is not None else []) + ids[-(int(bridge.cfg.n_ctx) - 1 - (bos is not None)):]


@torch.no_grad()
def compare_generation(bridge, values: _Values, config: AblationConfig) -> GenerationComparison:
    """Greedy continuation of config.prompt, clean vs ablated (same decoding code path)."""
    from interp.decoding import Decoding, distinct_n, generate

    n_ctx = int(bridge.cfg.n_ctx)
    ids = torch.tensor([_prompt_ids(bridge, config)], device=_device(bridge))
    dec = Decoding()
    eos = None  # generate all max_new_tokens: repetition is measured on equal lengths
    conts = []
    for fn in (lambda x: bridge(x), lambda x: bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values))):
        full = generate(fn, ids, config.max_new_tokens, n_ctx, dec, seed=config.seed, eos_token_id=eos)
        new = full[0, ids.shape[1]:].tolist()
        conts.append(Continuation(text=bridge.tokenizer.decode(new), tokens=tuple(new),
                                  distinct_1=distinct_n(new, 1), distinct_2=distinct_n(new, 2)))
    return GenerationComparison(prompt=config.prompt, decoding=dec.name, max_new_tokens=config.max_new_tokens,
                                clean=conts[0], ablated=conts[1], same=conts[0].tokens == conts[1].tokens)


@torch.no_grad()
def ablate(bridge, token_windows: torch.Tensor, heads: Sequence[Head], config: AblationConfig,
           progress: bool = False) -> AblationResult:
    """Ablate `heads` together on `token_windows` (N, T); clean vs ablated loss, Δ profile, generations."""
    windows = _check_windows(bridge, token_windows)
    heads = HeadSpec(tuple((int(a), int(b)) for a, b in heads)).resolve_for(bridge)  # range / duplicate check
    n, t = windows.shape
    dev = _device(bridge)
    gen_positions = 0
    if config.max_new_tokens > 0:
        gen_positions = min(int(bridge.cfg.n_ctx), len(_prompt_ids(bridge, config)) + config.max_new_tokens)
    values = ablation_values(bridge, windows, heads, config.method, config.seed, config.batch_size, progress,
                             gen_positions)
    rows = config.batch_size or _auto_rows(bridge, t)
    clean = torch.empty(n, t - 1)
    abl = torch.empty(n, t - 1)
    with _progress(n, f"ablate {format_heads(heads) or 'none'}", progress) as bar:
        for sl in _chunks(n, rows):
            x = windows[sl].to(dev)
            clean[sl] = token_losses(bridge(x), x).cpu()
            abl[sl] = token_losses(bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values, sl)), x).cpu()
            bar.update(sl.stop - sl.start)
    c, a = clean.double().mean().item(), abl.double().mean().item()
    gen = compare_generation(bridge, values, config) if config.max_new_tokens > 0 else None
    return AblationResult(
        method=config.method, heads=heads, heads_spec=format_heads(heads), seed=config.seed,
        n_layers=int(bridge.cfg.n_layers), n_heads=int(bridge.cfg.n_heads), n_windows=n, window_len=t,
        bos=_starts_with_bos(bridge, windows),
        n_tokens_scored=clean.numel(), clean_loss=c, ablated_loss=a, delta_loss=a - c,
        clean_perplexity=math.exp(c), ablated_perplexity=math.exp(a), delta=summarize_delta(abl - clean),
        by_position=position_buckets(clean, abl, config.n_buckets), generation=gen,
    )


def _starts_with_bos(bridge, windows: torch.Tensor) -> bool:
    bos = bridge.tokenizer.bos_token_id
    return bos is not None and bos != bridge.tokenizer.eos_token_id and bool((windows[:, 0] == bos).all())


def _check_windows(bridge, token_windows: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(token_windows)
    if w.ndim != 2 or w.shape[1] < 2 or w.shape[0] < 1:
        raise UserError(f"eval windows must be (n_windows, T ≥ 2) token ids, got shape {tuple(w.shape)}")
    if w.shape[1] > int(bridge.cfg.n_ctx):
        raise UserError(f"eval windows of {w.shape[1]} tokens exceed the model's n_ctx={bridge.cfg.n_ctx}; "
                        "lower --context")
    return w.long()


# ----------------------------------------------------------------------------- sweep: every single head
@dataclass(frozen=True)
class SweepResult(FrozenResult):
    kind: str = "ablation_sweep"
    method: str = "zero"
    seed: int = 0
    batched: bool = True
    n_layers: int = 0
    n_heads: int = 0
    heads_spec: str = "*.*"
    n_windows: int = 0
    window_len: int = 0
    bos: bool = False  # windows start with BOS
    n_tokens_scored: int = 0
    clean_loss: float = 0.0
    # (n_layers, n_heads) grids; None where a head was not swept
    delta_loss: tuple[tuple[float | None, ...], ...] = ()
    ablated_loss: tuple[tuple[float | None, ...], ...] = ()
    frac_hurt: tuple[tuple[float | None, ...], ...] = ()
    ranking: tuple[dict, ...] = ()  # heads by Δloss, largest first: {"head": "L.H", "delta_loss", "frac_hurt"}


@torch.no_grad()
def sweep(bridge, token_windows: torch.Tensor, config: AblationConfig, heads: Sequence[Head] | None = None,
          batched: bool = True, progress: bool = False) -> SweepResult:
    """Ablate each head of `heads` (default: all) ALONE; Δloss per head on `token_windows` (N, T).

    batched=True expands the batch over the heads of one layer and starts from the cached clean
    `hook_resid_pre`; batched=False is the plain per-head `run_with_hooks` loop (the reference)."""
    windows = _check_windows(bridge, token_windows)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    spec = HeadSpec.all() if heads is None else HeadSpec(tuple((int(a), int(b)) for a, b in heads))
    heads = spec.resolve(n_layers, n_heads)  # range / duplicate check
    if not heads:
        raise UserError("no heads to sweep")
    n, t = windows.shape
    dev = _device(bridge)
    values = ablation_values(bridge, windows, heads, config.method, config.seed, config.batch_size, progress)
    rows = config.batch_size or _auto_rows(bridge, t)
    sum_abl = {hd: 0.0 for hd in heads}
    hurt = {hd: 0 for hd in heads}
    clean_sum = 0.0
    by_layer = values.heads
    total = n * len(heads)
    with _progress(total, f"sweep {len(heads)} heads ({'batched' if batched else 'loop'})", progress) as bar:
        if batched:
            max_k = max(len(hs) for hs in by_layer.values())
            names = {RESID_PRE_HOOK.format(layer=layer) for layer in by_layer}
            for sl in _chunks(n, max(1, rows // max_k)):
                x = windows[sl].to(dev)
                b = x.shape[0]
                logits, cache = bridge.run_with_cache(x, names_filter=names.__contains__)
                clean = token_losses(logits, x)  # (B, T-1)
                del logits
                clean_sum += clean.double().sum().item()
                for layer, hs in by_layer.items():
                    k = len(hs)
                    resid = cache[RESID_PRE_HOOK.format(layer=layer)]  # (B, T, d_model)
                    big = resid.unsqueeze(0).expand(k, *resid.shape).reshape(k * b, *resid.shape[1:])
                    sel = torch.zeros(k, n_heads, dtype=torch.bool, device=dev)
                    sel[torch.arange(k, device=dev), torch.tensor(hs, device=dev)] = True
                    sel = sel.view(k, 1, 1, n_heads, 1)  # copy i ablates head hs[i]
                    repl = _full_width(values.for_rows(layer, sl, t), hs, n_heads, dev)

                    def inject(r: torch.Tensor, hook: Any = None, big: torch.Tensor = big) -> torch.Tensor:
                        return big

                    def ablate_copies(z: torch.Tensor, hook: Any = None, k: int = k, sel: torch.Tensor = sel,
                                      repl: torch.Tensor = repl) -> torch.Tensor:
                        z5 = z.view(k, -1, *z.shape[1:])  # (k, B, T, n_heads, d_head)
                        return torch.where(sel, repl.to(z.dtype), z5).view_as(z)

                    out = bridge.run_with_hooks(x[:1], fwd_hooks=[(RESID_PRE_HOOK.format(layer=layer), inject),
                                                                  (Z_HOOK.format(layer=layer), ablate_copies)])
                    abl = token_losses(out, x.repeat(k, 1)).view(k, b, t - 1)
                    del out
                    d = abl - clean
                    for i, h in enumerate(hs):
                        sum_abl[(layer, h)] += abl[i].double().sum().item()
                        hurt[(layer, h)] += int((d[i] > 0).sum().item())
                    bar.update(b * k)
                del cache
        else:
            clean_tok = torch.empty(n, t - 1)
            for sl in _chunks(n, rows):
                x = windows[sl].to(dev)
                clean_tok[sl] = token_losses(bridge(x), x).cpu()
            clean_sum = clean_tok.double().sum().item()
            for layer, h in heads:
                one = values.only(layer, h)
                for sl in _chunks(n, rows):
                    x = windows[sl].to(dev)
                    abl = token_losses(bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(one, sl)), x).cpu()
                    sum_abl[(layer, h)] += abl.double().sum().item()
                    hurt[(layer, h)] += int(((abl - clean_tok[sl]) > 0).sum().item())
                    bar.update(sl.stop - sl.start)
    n_tok = n * (t - 1)
    clean_loss = clean_sum / n_tok
    grid_d: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    grid_a: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    grid_h: list[list[float | None]] = [[None] * n_heads for _ in range(n_layers)]
    for (layer, h), s in sum_abl.items():
        grid_a[layer][h] = s / n_tok
        grid_d[layer][h] = s / n_tok - clean_loss
        grid_h[layer][h] = hurt[(layer, h)] / n_tok
    ranking = sorted(heads, key=lambda hd: (-(grid_d[hd[0]][hd[1]] or 0.0), hd))
    return SweepResult(
        method=config.method, seed=config.seed, batched=batched, n_layers=n_layers, n_heads=n_heads,
        heads_spec=format_heads(heads) if len(heads) != n_layers * n_heads else "*.*",
        n_windows=n, window_len=t, bos=_starts_with_bos(bridge, windows), n_tokens_scored=n_tok, clean_loss=clean_loss,
        delta_loss=tuple(tuple(r) for r in grid_d), ablated_loss=tuple(tuple(r) for r in grid_a),
        frac_hurt=tuple(tuple(r) for r in grid_h),
        ranking=tuple({"head": f"{lyr}.{h}", "delta_loss": grid_d[lyr][h], "frac_hurt": grid_h[lyr][h]}
                      for lyr, h in ranking),
    )


def _full_width(value: torch.Tensor | float, hs: list[int], n_heads: int, dev: torch.device) -> torch.Tensor:
    """Replacement for the selected heads `hs` (…, n_sel, d_head) → all heads (1, …, n_heads, d_head), as a
    leading copy axis for broadcasting against z viewed as (k, B, T, n_heads, d_head)."""
    if not isinstance(value, torch.Tensor):
        return torch.tensor(float(value), device=dev)
    full = value.new_zeros(*value.shape[:-2], n_heads, value.shape[-1])
    full[..., hs, :] = value
    return full.unsqueeze(0)


# ----------------------------------------------------------------------------- figures (take result dicts)
def plot_sweep(result: dict[str, Any]):
    """Heatmap layers × heads of Δloss when each head alone is ablated (diverging, centred at 0)."""
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in result["delta_loss"]], dtype=float)
    n_layers, n_heads = grid.shape
    m = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    m = m or 1.0
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n_heads, 1.0 + 0.5 * n_layers))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto")
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    if n_layers * n_heads <= 256:
        for i in range(n_layers):
            for j in range(n_heads):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:+.3f}" if m >= 0.01 else f"{grid[i, j]:+.1e}", ha="center", va="center", fontsize=7,
                            color="white" if abs(grid[i, j]) > 0.6 * m else "black")
    ax.set_title(f"Δloss per ablated head ({result.get('method', '?')}); clean loss {result.get('clean_loss', 0):.3f}",
                 fontsize=9)
    fig.colorbar(im, ax=ax, label="Δloss (nats/token)")
    return fig


def plot_ablation(result: dict[str, Any]):
    """Mean Δloss by position-in-window bucket for one ablation."""
    import matplotlib.pyplot as plt

    buckets = result["by_position"]
    labels = [f"{b['start']}–{b['end'] - 1}" for b in buckets]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(buckets) + 1.5), 3.0))
    ax.bar(range(len(buckets)), [b["delta_mean"] for b in buckets], color="tab:red")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_xlabel("position in window")
    ax.set_ylabel("mean Δloss (nats)")
    ax.set_title(f"ablating {result.get('heads_spec') or 'no heads'} ({result.get('method')}): "
                 f"Δloss {result.get('delta_loss', 0):+.4g}", fontsize=9)
    return fig
