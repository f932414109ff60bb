"""`browse_features`: per latent its top-activating held-out contexts (tokens with the latent's activation),
an activation histogram, its firing frequency (Wilson interval) and its top logit effects (decoder row
through the unembedding W_U: the tokens whose logits the latent's direction raises / lowers most, ignoring
the final norm).

The SAE codes (top-k acts + indices) of the eval windows are kept (N·T·k numbers, bounded by max_tokens);
activations are captured batch by batch and dropped. Latents shown: `latents` if given, else a seeded random
sample of the latents that fire (an unbiased sample, not the cherry-picked best).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.errors import UserError
from interp.results import FrozenResult
from interp.sae import coder as C
from interp.sae.data import Text, split_text, windows
from interp.sae.hooks import capture, parse_hook


@dataclass(frozen=True)
class BrowseConfig:
    split: str = "val"
    max_tokens: int = 8192
    context: int = 64
    batch_size: int = 8
    n_latents: int = 48
    latents: tuple[int, ...] = ()
    n_contexts: int = 8
    left: int = 10  # tokens shown before the peak
    right: int = 4  # and after it
    n_logits: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in ("val", "test"):
            raise UserError(f"--split must be val or test (held-out text), got {self.split!r}")
        for name in ("max_tokens", "batch_size", "n_latents", "n_contexts", "n_logits"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise UserError(f"{name} must be a positive integer, got {v!r}")
        if any(not isinstance(i, int) or i < 0 for i in self.latents):
            raise UserError(f"--latents must be non-negative integers, got {self.latents!r}")


@dataclass(frozen=True)
class FeaturesResult(FrozenResult):
    kind: str = "sae_features"
    model: str = ""
    sae: str = ""
    hook: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    source: str = ""
    num_latents: int = 0
    k: int = 0
    n_tokens: int = 0
    n_alive: int = 0
    latents: tuple = ()  # per shown latent: id, frequency (+ Wilson lo/hi), max_act, hist, contexts, logits


def _piece(tokenizer: Any, i: int) -> str:
    return tokenizer.decode([int(i)])


def codes(hf: Any, coder: Any, spec: Any, wins: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(acts, idx) (N, T, k) of the SAE on every eval window (BOS position zeroed)."""
    acts, idx = [], []
    for i in range(0, wins.shape[0], batch):
        x, _ = capture(hf, spec, wins[i:i + batch])
        _, a, j = C.reconstruct(coder, x)
        a[:, 0] = 0.0
        acts.append(a)
        idx.append(j)
    return torch.cat(acts), torch.cat(idx)


def latent_acts(acts: torch.Tensor, idx: torch.Tensor, latent: int) -> torch.Tensor:
    """(N, T) activation of one latent at every position."""
    return torch.where(idx == latent, acts, torch.zeros_like(acts)).sum(-1)


def browse_features(model: Any, sae: str | Path, *, config: BrowseConfig | None = None, corpus: str | None = None,
                    text: Text | None = None, device: str = "cpu") -> FeaturesResult:
    """Per shown latent of the SAE in `sae`: top held-out contexts, histogram, frequency, logit effects."""
    from interp.sae.data import model_and_name
    from interp.sae.train import model_info
    from interp.stats import wilson

    config = config or BrowseConfig()
    name, bridge = model_and_name(model, device)
    info = model_info(bridge)
    coder, meta = C.load_coder(sae, info)
    bad = [i for i in config.latents if i >= coder.num_latents]
    if bad:
        raise UserError(f"--latents {bad} out of range: the SAE has latents 0..{coder.num_latents - 1}")
    spec = parse_hook(meta["hook"], info["n_layers"])
    text = text or split_text(name, corpus, config.split)
    tok = bridge.tokenizer
    wins = windows(tok, text, min(config.context, int(bridge.cfg.n_ctx)), config.max_tokens)
    hf = bridge.original_model
    with torch.no_grad():
        acts, idx = codes(hf, coder, spec, wins, config.batch_size)  # (N, T, k)
    n_tok = wins.shape[0] * (wins.shape[1] - 1)
    active = acts > 0
    counts = torch.zeros(coder.num_latents, dtype=torch.long).index_add_(
        0, idx[active], torch.ones(int(active.sum()), dtype=torch.long))
    alive = torch.nonzero(counts > 0).flatten().tolist()
    if config.latents:
        chosen = sorted(set(config.latents))
    else:
        rng = np.random.Generator(np.random.PCG64(config.seed))
        chosen = sorted(rng.choice(alive, size=min(config.n_latents, len(alive)), replace=False).tolist()) \
            if alive else []
    w_u = hf.get_output_embeddings().weight.detach().float()  # (V, d)
    effects = coder.W_dec.detach()[chosen].float() @ w_u.T if chosen else torch.zeros(0, 1)  # (n, V)
    pieces: dict[int, str] = {}

    def piece(i: int) -> str:
        if i not in pieces:
            pieces[i] = _piece(tok, i)
        return pieces[i]

    out = []
    for row, lat in enumerate(chosen):
        la = latent_acts(acts, idx, lat)  # (N, T)
        flat = la.flatten()
        n_ctx = min(config.n_contexts, int((flat > 0).sum()))
        top = flat.topk(n_ctx) if n_ctx else None
        contexts = []
        for v, pos in zip(top.values.tolist() if top else [], top.indices.tolist() if top else [], strict=True):
            w, p = divmod(pos, wins.shape[1])
            a, b = max(1, p - config.left), min(wins.shape[1], p + config.right + 1)
            contexts.append({"window": w, "pos": p, "value": v, "peak": p - a,
                             "tokens": [piece(int(t)) for t in wins[w, a:b]],
                             "acts": [float(x) for x in la[w, a:b]]})
        nz = flat[flat > 0].numpy()
        mx = float(nz.max()) if len(nz) else 0.0
        hist, edges = np.histogram(nz, bins=16, range=(0.0, mx if mx > 0 else 1.0))
        lo, hi = wilson(int(counts[lat]), n_tok)
        up, down = effects[row].topk(config.n_logits), (-effects[row]).topk(config.n_logits)
        out.append({"id": lat, "count": int(counts[lat]), "frequency": int(counts[lat]) / n_tok,
                    "frequency_lo": lo, "frequency_hi": hi, "max_act": mx,
                    "hist": {"edges": edges.tolist(), "counts": hist.tolist()}, "contexts": contexts,
                    "logits_up": [[piece(i), float(v)] for v, i in zip(up.values, up.indices.tolist(), strict=True)],
                    "logits_down": [[piece(i), float(-v)] for v, i in zip(down.values, down.indices.tolist(),
                                                                           strict=True)]})
    return FeaturesResult(model=name, sae=str(sae), hook=spec.name, config=asdict(config), seed=config.seed,
                          source=text.source, num_latents=coder.num_latents, k=coder.cfg.k, n_tokens=n_tok,
                          n_alive=len(alive), latents=tuple(out))
