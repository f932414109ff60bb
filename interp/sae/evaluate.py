"""`evaluate_sae`: how good an SAE / transcoder is, on held-out text (the `val` split; never training tokens).

Per eval window w (BOS excluded everywhere; BOS activations stay clean when splicing):
    err_w = Σ_t ||y − ŷ||²,  s_w = Σ_t y,  q_w = Σ_t ||y||²,  n_w = tokens
    FVU = Σ err / (Σ q − ||Σ s||² / Σ n)          (variance about the eval-set mean, as sparsify's FVU)
    L0  = mean number of active latents per token
    loss_clean / loss_sae / loss_zero = mean next-token NLL with the hook clean / spliced with ŷ / zeroed
    fraction of loss recovered = (loss_zero − loss_sae) / (loss_zero − loss_clean)
Intervals: a paired percentile bootstrap over windows (the same windows resampled for every quantity).
Frequencies: a latent is dead if it never fires on the eval tokens, dense if it fires on > dense_threshold
of them. An identity splice gives recovered = 1 exactly and a zero splice 0 (tests/unit/test_sae.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.errors import UserError
from interp.results import FrozenResult
from interp.sae import coder as C
from interp.sae.data import Text, split_text, windows
from interp.sae.hooks import HookSpec, parse_hook, spliced

Recon = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x, y) (B, T, d) → ŷ (B, T, d)


@dataclass(frozen=True)
class SAEEvalConfig:
    split: str = "val"
    max_tokens: int = 16_384
    context: int = 128
    batch_size: int = 8
    n_boot: int = 1000
    dense_threshold: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in ("val", "test"):
            raise UserError(f"--split must be val or test (held-out text), got {self.split!r}")
        for name in ("max_tokens", "batch_size", "n_boot"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise UserError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.context, int) or self.context < 4:
            raise UserError(f"--context must be >= 4, got {self.context!r}")
        if not 0 < self.dense_threshold < 1:
            raise UserError(f"dense_threshold must be in (0, 1), got {self.dense_threshold!r}")


@dataclass(frozen=True)
class SAEEvalResult(FrozenResult):
    kind: str = "sae_eval"
    model: str = ""
    sae: str = ""
    hook: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    source: str = ""
    num_latents: int = 0
    k: int = 0
    expansion: int = 0
    n_windows: int = 0
    n_tokens: int = 0
    metrics: dict = field(default_factory=dict)  # name → {value, lo, hi} (+ baseline where there is one)
    frequency_hist: dict = field(default_factory=dict)  # log10 frequency histogram of the latents


def window_stats(hf: Any, spec: HookSpec, wins: torch.Tensor, recon: Recon, batch: int,
                 on_latents: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
                 progress: Any = None) -> dict[str, np.ndarray]:
    """Per-window sums (arrays over N windows): loss_clean/_sae/_zero (mean NLL), err, q, n, s (N, d)."""
    import torch.nn.functional as F

    out: dict[str, list] = {k: [] for k in ("loss_clean", "loss_sae", "loss_zero", "err", "q", "n", "s")}

    def nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # (B, T, V) → mean NLL per window (B,)
        lp = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten(), reduction="none")
        return lp.view(ids.shape[0], -1).mean(1)

    store: dict[str, torch.Tensor] = {}

    def traced(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_hat = recon(x, y)
        store["y"], store["y_hat"] = y[:, 1:].float(), y_hat[:, 1:].float()
        return y_hat

    with torch.no_grad():
        for i in range(0, wins.shape[0], batch):
            ids = wins[i:i + batch]
            out["loss_clean"].append(nll(hf(ids).logits, ids))
            with spliced(hf, spec, traced):
                out["loss_sae"].append(nll(hf(ids).logits, ids))
            with spliced(hf, spec, lambda x, y: torch.zeros_like(y)):
                out["loss_zero"].append(nll(hf(ids).logits, ids))
            y, y_hat = store["y"], store["y_hat"]  # (B, T-1, d)
            out["err"].append((y - y_hat).pow(2).sum((1, 2)))
            out["q"].append(y.pow(2).sum((1, 2)))
            out["s"].append(y.sum(1))
            out["n"].append(torch.full((ids.shape[0],), y.shape[1], dtype=torch.float64))
            if progress is not None:
                progress.update(ids.shape[0])
    return {k: torch.cat(v).double().numpy() for k, v in out.items()}


def summary(st: dict[str, np.ndarray], idx: np.ndarray | None = None) -> dict[str, float]:
    """FVU and losses from the per-window sums (optionally of a resample `idx` of the windows)."""
    if idx is not None:
        st = {k: v[idx] for k, v in st.items()}
    n = st["n"].sum()
    var = st["q"].sum() - float(np.sum(st["s"].sum(0) ** 2)) / n
    w = st["n"] / n  # token weights: the loss means are per token
    lc, ls, lz = (float(np.sum(st[k] * w)) for k in ("loss_clean", "loss_sae", "loss_zero"))
    gap = lz - lc
    return {"fvu": float(st["err"].sum() / var) if var > 0 else math.nan,
            "loss_clean": lc, "loss_sae": ls, "loss_zero": lz, "delta_loss": ls - lc,
            "loss_recovered": (lz - ls) / gap if gap != 0 else math.nan}


def with_intervals(st: dict[str, np.ndarray], n_boot: int, seed: int) -> dict[str, dict[str, float]]:
    """{metric: {value, lo, hi}}: 95% paired percentile bootstrap over windows (seeded PCG64)."""
    point = summary(st)
    n = len(st["n"])
    rng = np.random.Generator(np.random.PCG64(seed))
    reps = [summary(st, rng.integers(0, n, n)) for _ in range(n_boot)] if n > 1 else []
    out = {}
    for k, v in point.items():
        vals = np.array([r[k] for r in reps if math.isfinite(r[k])])
        lo, hi = (np.percentile(vals, [2.5, 97.5]) if len(vals) else (math.nan, math.nan))
        out[k] = {"value": v, "lo": float(lo), "hi": float(hi)}
    return out


def evaluate_sae(model: Any, sae: str | Path, *, config: SAEEvalConfig | None = None, corpus: str | None = None,
                 text: Text | None = None, device: str = "cpu", progress: bool = False) -> SAEEvalResult:
    """Evaluate the SAE in directory `sae` at its hook of `model` (ref or bridge) on held-out text."""
    from interp.sae.data import model_and_name
    from interp.sae.train import model_info

    config = config or SAEEvalConfig()
    name, bridge = model_and_name(model, device)
    info = model_info(bridge)
    coder, meta = C.load_coder(sae, info)
    spec = parse_hook(meta["hook"], info["n_layers"])
    text = text or split_text(name, corpus, config.split)
    wins = windows(bridge.tokenizer, text, min(config.context, int(bridge.cfg.n_ctx)), config.max_tokens)
    counts = torch.zeros(coder.num_latents, dtype=torch.long)
    l0 = [0, 0]

    def recon(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_hat, acts, idx = C.reconstruct(coder, x)
        a, i = acts[:, 1:].reshape(-1, acts.shape[-1]), idx[:, 1:].reshape(-1, idx.shape[-1])
        active = a > 0
        counts.index_add_(0, i[active], torch.ones(int(active.sum()), dtype=torch.long))
        l0[0] += int(active.sum())
        l0[1] += a.shape[0]
        return y_hat

    import sys

    from tqdm import tqdm

    with tqdm(total=wins.shape[0], desc="sae eval", unit="win", file=sys.stderr, disable=not progress) as bar:
        st = window_stats(bridge.original_model, spec, wins.to(device), recon, config.batch_size, progress=bar)
    metrics = with_intervals(st, config.n_boot, config.seed)
    n_tok = int(st["n"].sum())
    freq = counts.double() / max(1, n_tok)
    # dead/dense with Wilson intervals over latents (a proportion of num_latents latents)
    from interp.stats import wilson

    for key, k_ in (("dead_fraction", int((counts == 0).sum())),
                    ("dense_fraction", int((freq > config.dense_threshold).sum()))):
        lo, hi = wilson(k_, coder.num_latents)
        metrics[key] = {"value": k_ / coder.num_latents, "lo": lo, "hi": hi}
    metrics["l0"] = {"value": l0[0] / max(1, l0[1]), "lo": math.nan, "hi": math.nan, "k": coder.cfg.k}
    edges = np.arange(-7.0, 0.5, 0.5)
    logf = np.log10(np.clip(freq.numpy(), 1e-7, None))
    hist, _ = np.histogram(logf[freq.numpy() > 0], bins=edges)
    return SAEEvalResult(model=name, sae=str(sae), hook=spec.name, config=asdict(config), seed=config.seed,
                         source=text.source, num_latents=coder.num_latents, k=coder.cfg.k,
                         expansion=int(meta["expansion"]), n_windows=int(wins.shape[0]), n_tokens=n_tok,
                         metrics=metrics, frequency_hist={"edges": edges.tolist(), "counts": hist.tolist(),
                                                          "dead": int((counts == 0).sum())})


def sweep_dict(results: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Several SAE evals (an expansion × k sweep) as one `sae_sweep` result dict (frontier plot)."""
    rows = [{"sae": r["sae"], "hook": r["hook"], "expansion": r["expansion"], "k": r["k"],
             "num_latents": r["num_latents"], **{m: r["metrics"][m] for m in ("fvu", "loss_recovered",
                                                                              "dead_fraction", "l0")}}
            for r in results]
    return {"schema_version": results[0]["schema_version"], "kind": "sae_sweep", "model": results[0]["model"],
            "config": results[0]["config"], "seed": seed, "source": results[0]["source"], "rows": rows,
            "evals": results}
