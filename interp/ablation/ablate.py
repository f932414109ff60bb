"""Ablate a SET of heads together: clean vs ablated loss and perplexity on eval windows, the distribution
of per-token Δloss = ablated − clean (mean, median, p90, fraction of tokens hurt), Δloss by
position-in-window bucket, per-window losses, and clean vs ablated greedy continuations of a prompt with
distinct-1/2 (repetition: the seed-001 experiment, quantified).

`ablate(model, heads="0.1,1.3", method="mean", ...)` is the public function (`interp ablate` and the
regress `ablation` metric call it); `ablate_windows(bridge, windows, heads, config)` is its core on
ready token windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from interp.ablation.inputs import (
    check_context,
    check_max_tokens,
    check_windows,
    load_model,
    make_windows,
    read_text,
    starts_with_bos,
    windows_sha256,
)
from interp.ablation.values import (
    DEFAULT_PROMPT,
    AblationConfig,
    AblationValues,
    ablation_hooks,
    ablation_values,
    auto_rows,
    chunks,
    device_of,
    progress_bar,
    token_losses,
)
from interp.errors import UserError
from interp.heads import Head, HeadSpec, format_heads
from interp.results import FrozenResult


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
    model: str = ""
    source: str = ""  # where the eval text came from: "file:PATH" | "split:val" | "documents"
    method: str = "zero"
    heads: tuple[Head, ...] = ()
    heads_spec: str = ""
    seed: int = 0
    n_layers: int = 0
    n_heads: int = 0
    n_windows: int = 0
    window_len: int = 0
    bos: bool = False  # windows start with BOS
    windows_sha256: str = ""
    n_tokens_scored: int = 0
    clean_loss: float = 0.0
    ablated_loss: float = 0.0
    delta_loss: float = 0.0
    # 95% percentile bootstrap over windows of the paired per-window Δloss (scipy.stats.bootstrap, seeded);
    # None with a single window
    delta_loss_ci: tuple[float, float] | None = None
    clean_perplexity: float = 0.0
    ablated_perplexity: float = 0.0
    delta: DeltaSummary | None = None
    by_position: tuple[PositionBucket, ...] = ()
    window_clean_loss: tuple[float, ...] = ()  # (N,) mean loss per window
    window_ablated_loss: tuple[float, ...] = ()  # (N,)
    generation: GenerationComparison | None = None


def window_bootstrap(per_window: Any, seed: int, n_boot: int = 2000) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the mean of per-window values (windows resampled), seeded."""
    import numpy as np
    from scipy.stats import bootstrap

    x = np.asarray(per_window, dtype=np.float64)
    if x.size < 2:
        return None
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    import inspect

    g = np.random.default_rng(seed)
    kw = {"rng": g} if "rng" in inspect.signature(bootstrap).parameters else {"random_state": g}  # scipy < 1.15
    r = bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=0.95, method="percentile", **kw)
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


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


def prompt_ids(bridge, config: AblationConfig) -> list[int]:
    """Prompt ids by the one rule (`interp.tokens.encode_prompt`: BOS first, last tokens kept, 1 position free)."""
    from interp.tokens import encode_prompt

    return list(encode_prompt(bridge.tokenizer, config.prompt, n_ctx=int(bridge.cfg.n_ctx), reserve=1).ids)


@torch.no_grad()
def compare_generation(bridge, values: AblationValues, config: AblationConfig) -> GenerationComparison:
    """Greedy continuation of config.prompt, clean vs ablated (same decoding code path)."""
    from interp.decoding import Decoding, distinct_n, generate

    n_ctx = int(bridge.cfg.n_ctx)
    ids = torch.tensor([prompt_ids(bridge, config)], device=device_of(bridge))  # (1, T)
    dec = Decoding()
    conts = []  # eos None: generate all max_new_tokens, so repetition is measured on equal lengths
    for fn in (lambda x: bridge(x), lambda x: bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values))):
        full = generate(fn, ids, config.max_new_tokens, n_ctx, dec, seed=config.seed, eos_token_id=None)
        new = full[0, ids.shape[1]:].tolist()
        conts.append(Continuation(text=bridge.tokenizer.decode(new), tokens=tuple(new),
                                  distinct_1=distinct_n(new, 1), distinct_2=distinct_n(new, 2)))
    return GenerationComparison(prompt=config.prompt, decoding=dec.name, max_new_tokens=config.max_new_tokens,
                                clean=conts[0], ablated=conts[1], same=conts[0].tokens == conts[1].tokens)


@torch.no_grad()
def ablate_windows(bridge, token_windows: torch.Tensor, heads: Sequence[Head], config: AblationConfig,
                   progress: bool = False, model_name: str = "", source: str = "") -> AblationResult:
    """Ablate `heads` together on `token_windows` (N, T); clean vs ablated loss, Δ profile, generations."""
    windows = check_windows(bridge, token_windows)
    heads = HeadSpec(tuple((int(a), int(b)) for a, b in heads)).resolve_for(bridge)  # range / duplicate check
    n, t = windows.shape
    dev = device_of(bridge)
    gen_positions = 0
    if config.max_new_tokens > 0:
        gen_positions = min(int(bridge.cfg.n_ctx), len(prompt_ids(bridge, config)) + config.max_new_tokens)
    values = ablation_values(bridge, windows, heads, config.method, config.seed, config.batch_size, progress,
                             gen_positions)
    rows = config.batch_size or auto_rows(bridge, t)
    clean = torch.empty(n, t - 1)  # (N, T-1) per-token losses
    abl = torch.empty(n, t - 1)
    with progress_bar(n, f"ablate {format_heads(heads) or 'none'}", progress) as bar:
        for sl in chunks(n, rows):
            x = windows[sl].to(dev)
            clean[sl] = token_losses(bridge(x), x).cpu()
            abl[sl] = token_losses(bridge.run_with_hooks(x, fwd_hooks=ablation_hooks(values, sl)), x).cpu()
            bar.update(sl.stop - sl.start)
    c, a = clean.double().mean().item(), abl.double().mean().item()
    ci = window_bootstrap((abl.double().mean(1) - clean.double().mean(1)).numpy(), config.seed)
    gen = compare_generation(bridge, values, config) if config.max_new_tokens > 0 else None
    return AblationResult(
        model=model_name, source=source, method=config.method, heads=heads, heads_spec=format_heads(heads),
        seed=config.seed, n_layers=int(bridge.cfg.n_layers), n_heads=int(bridge.cfg.n_heads), n_windows=n,
        window_len=t, bos=starts_with_bos(bridge, windows), windows_sha256=windows_sha256(windows),
        n_tokens_scored=clean.numel(), clean_loss=c, ablated_loss=a, delta_loss=a - c, delta_loss_ci=ci,
        clean_perplexity=math.exp(c), ablated_perplexity=math.exp(a), delta=summarize_delta(abl - clean),
        by_position=position_buckets(clean, abl, config.n_buckets),
        window_clean_loss=tuple(clean.double().mean(1).tolist()),
        window_ablated_loss=tuple(abl.double().mean(1).tolist()), generation=gen,
    )


def parse_heads(heads: Any) -> HeadSpec:
    """`heads` as a HeadSpec: "0.1,1.3" / "1.*" text, or (layer, head) pairs. Empty or None is an error."""
    if heads is None:
        raise UserError("no heads to ablate; give `heads` as LAYER.HEAD terms, e.g. 0.1,1.3 or 1.* "
                        "(every head alone: ablate_sweep)")
    if isinstance(heads, str):
        return HeadSpec.parse(heads)
    pairs = tuple(heads)
    if not pairs:
        raise UserError("no heads to ablate; `heads` is empty")
    try:
        return HeadSpec(tuple((int(a), int(b)) for a, b in pairs))
    except (TypeError, ValueError):
        raise UserError(f"`heads` must be LAYER.HEAD text or (layer, head) pairs, got {heads!r}") from None


def ablate(model: Any, heads: str | Sequence[Head] | None = None, *, method: str = "zero",
           text: str | Path | None = None, split: str | None = None, documents: Sequence[str] | None = None,
           prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 40, max_tokens: int = 20_000,
           context: int | None = None, batch_size: int | None = None, device: str = "cpu", seed: int = 0,
           progress: bool = False) -> AblationResult:
    """Ablate attention `heads` together (hook on blocks.L.attn.hook_z) — what `interp ablate` runs.

    model: a model reference (run dir, HF dir, hub id, ...) or a loaded TransformerBridge.
    heads: "0.1,1.3", "1.*", "*.0" (TransformerLens numbering) or (layer, head) pairs.
    method: zero | mean | resample (seeded). Eval text: `documents`, `text` (.txt / folder / .jsonl) or
    `split` of the model's run (default val); windows of `context` tokens (default min(n_ctx, 512)), at most
    `max_tokens` in all, by `interp.tokens.eval_windows`. `max_new_tokens` greedy tokens of `prompt` are
    generated clean and ablated (0: skip). Everything is validated before the model is loaded.
    """
    config = AblationConfig(method=method, seed=seed, batch_size=batch_size, prompt=prompt,
                            max_new_tokens=max_new_tokens)
    spec = parse_heads(heads)
    check_max_tokens(max_tokens)
    check_context(context)
    docs, source = read_text(model, text, split, documents)
    bridge, name = load_model(model, device)
    chosen = spec.resolve_for(bridge)
    windows = make_windows(bridge, docs, context, max_tokens)
    return ablate_windows(bridge, windows, chosen, config, progress=progress, model_name=name, source=source)
