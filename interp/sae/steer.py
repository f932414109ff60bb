"""Steering: add `coefficient × direction` to a hook's activation (every position, generation included).

Directions: an SAE latent's decoder row (unit norm; the coefficient is the latent activation added), or the
difference of mean activations (non-BOS positions) between two prompt sets (coefficient 1 = the whole
difference). `steered(hf, spec, vector, coefficient)` is a hook context on the HF module, which the
TransformerBridge runs, so every existing eval run inside it (perplexity, sensitivity, trimmed, regress) scores
the steered model unchanged. `steer` measures: greedy continuations clean vs steered, and the held-out
next-token loss clean vs steered per window, with a paired bootstrap interval of the difference (the cost).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from interp.errors import UserError
from interp.results import FrozenResult
from interp.sae.data import Text, split_text, windows
from interp.sae.hooks import HookSpec, capture, parse_hook, site_module


@dataclass(frozen=True)
class SteerConfig:
    coefficient: float = 4.0
    hook: str | None = None  # with prompt sets; an SAE brings its own hook
    sae: str | None = None
    latent: int | None = None
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    prompt: str = "The"
    max_new_tokens: int = 24
    split: str = "val"
    max_tokens: int = 8192
    context: int = 128
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        c = self.coefficient
        if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
            raise UserError(f"--coefficient must be a finite number, got {c!r}")
        by_sae, by_sets = self.latent is not None or self.sae is not None, bool(self.positive or self.negative)
        if by_sae == by_sets:
            raise UserError("give a direction: --sae DIR --latent I, or --positive FILE --negative FILE")
        if by_sae and (self.sae is None or self.latent is None or self.latent < 0):
            raise UserError("an SAE direction needs both --sae DIR and --latent I (I >= 0)")
        if by_sets and (not self.positive or not self.negative or self.hook is None):
            raise UserError("a mean-difference direction needs --positive FILE, --negative FILE and --hook")
        if self.split not in ("val", "test"):
            raise UserError(f"--split must be val or test, got {self.split!r}")
        for name in ("max_new_tokens", "max_tokens", "n_boot"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise UserError(f"{name} must be a positive integer, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class SteerResult(FrozenResult):
    kind: str = "steering"
    model: str = ""
    hook: str = ""
    direction: dict = field(default_factory=dict)  # source, norm, (latent, sae) | (n_positive, n_negative)
    coefficient: float = 0.0
    config: dict = field(default_factory=dict)
    seed: int = 0
    source: str = ""
    n_windows: int = 0
    loss_clean: float = 0.0
    loss_steered: float = 0.0
    delta_loss: dict = field(default_factory=dict)  # {value, lo, hi}: steered − clean (nats / token), paired
    perplexity_clean: float = 0.0
    perplexity_steered: float = 0.0
    per_window: dict = field(default_factory=dict)  # clean / steered mean NLL per window (regress samples)
    generation: dict = field(default_factory=dict)  # prompt, clean, steered (greedy)


@contextlib.contextmanager
def steered(hf: Any, spec: HookSpec, vector: torch.Tensor, coefficient: float) -> Iterator[None]:
    """Inside the block, the hook's activation y (B, T, d) becomes y + coefficient · vector at every position."""
    add = (float(coefficient) * vector.detach().float())  # (d,)

    def hook(_mod: Any, _inputs: Any, output: Any) -> Any:
        y = output[0] if isinstance(output, tuple) else output
        new = y + add.to(y.dtype)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    h = site_module(hf, spec).register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()


def mean_difference(bridge: Any, spec: HookSpec, positive: Sequence[str], negative: Sequence[str]) -> torch.Tensor:
    """mean activation over the positive prompts − over the negative ones (non-BOS positions), (d,)."""
    from interp.tokens import encode

    def mean(prompts: Sequence[str]) -> torch.Tensor:
        tot, n = None, 0
        for p in prompts:
            ids = torch.tensor([encode(bridge.tokenizer, p)[: int(bridge.cfg.n_ctx)]])
            _, y = capture(bridge.original_model, spec, ids)
            y = y[0, 1:] if y.shape[1] > 1 else y[0]
            tot = y.sum(0) if tot is None else tot + y.sum(0)
            n += y.shape[0]
        return tot / n

    return mean(positive) - mean(negative)


def direction(bridge: Any, config: SteerConfig) -> tuple[HookSpec, torch.Tensor, dict[str, Any]]:
    from interp.sae.coder import load_coder
    from interp.sae.train import model_info

    info = model_info(bridge)
    if config.sae is not None:
        coder, meta = load_coder(config.sae, info)
        if config.latent >= coder.num_latents:
            raise UserError(f"--latent {config.latent} out of range: the SAE has latents 0..{coder.num_latents - 1}")
        spec = parse_hook(meta["hook"], info["n_layers"])
        if config.hook is not None and parse_hook(config.hook).name != spec.name:
            raise UserError(f"--hook {config.hook} differs from the SAE's hook {spec.name}; drop --hook")
        row = coder.W_dec.detach()[config.latent].float()
        vec = row / row.norm().clamp_min(1e-12)  # unit norm (schedule-free averaging leaves it ≈ 1)
        return spec, vec, {"source": "sae_latent", "sae": config.sae, "latent": config.latent,
                           "norm": float(vec.norm()), "decoder_row_norm": float(row.norm())}
    spec = parse_hook(config.hook, info["n_layers"])
    vec = mean_difference(bridge, spec, config.positive, config.negative)
    return spec, vec, {"source": "mean_difference", "n_positive": len(config.positive),
                       "n_negative": len(config.negative), "norm": float(vec.norm())}


def _generate(bridge: Any, prompt: str, n: int) -> str:
    from interp.tokens import encode

    tok = bridge.tokenizer
    ids = torch.tensor([encode(tok, prompt)])
    n = max(1, min(n, int(bridge.cfg.n_ctx) - ids.shape[1]))
    with torch.no_grad():
        out = bridge.original_model.generate(ids, max_new_tokens=n, do_sample=False,
                                             pad_token_id=tok.pad_token_id or tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:])


def steer(model: Any, config: SteerConfig, *, corpus: str | None = None, text: Text | None = None,
          device: str = "cpu") -> SteerResult:
    """Steer `model` along the configured direction; measure continuations and the held-out loss cost."""
    import torch.nn.functional as F

    from interp.sae.data import model_and_name

    name, bridge = model_and_name(model, device)
    spec, vec, info = direction(bridge, config)
    hf = bridge.original_model
    text = text or split_text(name, corpus, config.split)
    wins = windows(bridge.tokenizer, text, min(config.context, int(bridge.cfg.n_ctx)), config.max_tokens)

    def nll() -> np.ndarray:  # mean NLL per window (N,)
        out = []
        with torch.no_grad():
            for i in range(0, wins.shape[0], 8):
                ids = wins[i:i + 8]
                lg = hf(ids).logits[:, :-1].float()
                out.append(F.cross_entropy(lg.flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
                           .view(ids.shape[0], -1).mean(1))
        return torch.cat(out).double().numpy()

    clean = nll()
    gen_clean = _generate(bridge, config.prompt, config.max_new_tokens)
    with steered(hf, spec, vec, config.coefficient):
        st = nll()
        gen_steered = _generate(bridge, config.prompt, config.max_new_tokens)
    diff = st - clean
    rng = np.random.Generator(np.random.PCG64(config.seed))
    n = len(diff)
    reps = np.array([diff[rng.integers(0, n, n)].mean() for _ in range(config.n_boot)]) if n > 1 else np.array([])
    lo, hi = (np.percentile(reps, [2.5, 97.5]).tolist() if len(reps) else [math.nan, math.nan])
    return SteerResult(model=name, hook=spec.name, direction=info, coefficient=float(config.coefficient),
                       config=asdict(config), seed=config.seed, source=text.source, n_windows=n,
                       loss_clean=float(clean.mean()), loss_steered=float(st.mean()),
                       delta_loss={"value": float(diff.mean()), "lo": lo, "hi": hi},
                       perplexity_clean=math.exp(clean.mean()), perplexity_steered=math.exp(st.mean()),
                       per_window={"clean": clean.tolist(), "steered": st.tolist()},
                       generation={"prompt": config.prompt, "clean": gen_clean, "steered": gen_steered})
