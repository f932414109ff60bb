"""What fine-tuning changed: a parent run vs its fine-tuned child (`interp report PARENT CHILD --compare`).

    parent, child run dirs ─► held-out TEST splits of both corpora (rebuilt from run.json, sha256-checked)
      ─► perplexity of both models on both (paired per-window bootstrap; the old corpus measures forgetting)
      ─► per head: attention-pattern JS distance parent ↔ child on the new corpus's test windows
      ─► per head: mean-ablation Δloss in parent and child (interp.ablation.ablate_windows) and its change

Every number has a 95% percentile-bootstrap interval over windows (the same windows for both models: paired).
The test splits were seen by neither model in training (the child's corpus is split by document; the
parent's test documents are the parent's held-out ones).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evals.stats import bootstrap
from interp.errors import UserError
from interp.results import FrozenResult


@dataclass(frozen=True)
class CompareConfig:
    max_tokens: int = 8192  # tokens per corpus scored (non-overlapping windows of n_ctx)
    seed: int = 0
    n_boot: int = 1000
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or self.max_tokens < 64:
            raise UserError(f"max_tokens must be an integer >= 64, got {self.max_tokens!r}")


@dataclass(frozen=True)
class FinetuneCompareResult(FrozenResult):
    kind: str = "finetune_compare"
    parent: str = ""
    child: str = ""
    parent_weights_sha256: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    n_layers: int = 0
    n_heads: int = 0
    vocab_size: int = 0
    corpora: dict[str, Any] = field(default_factory=dict)  # old/new: corpus, n_windows, window_len, sha256
    perplexity: dict[str, Any] = field(default_factory=dict)  # old/new → parent/child ppl + CI, Δloss + CI
    forgetting: dict[str, Any] = field(default_factory=dict)  # Δloss on the old corpus (child − parent)
    attention_distance: dict[str, Any] = field(default_factory=dict)  # mean/lo/hi: [layer][head]
    ablation: dict[str, Any] = field(default_factory=dict)  # parent/child/change (+lo/hi): [layer][head]
    top_changed_heads: tuple[dict[str, Any], ...] = ()


def _meta(run: str | Path) -> dict[str, Any]:
    p = Path(run) / "run.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        raise UserError(f"{run} is not a training run (no readable run.json); --compare of a fine-tune needs the "
                        "parent and child run dirs") from None


def test_documents(meta: dict[str, Any], run: str | Path) -> list[str]:
    """The run's held-out test documents, rebuilt as training split them (sha256 checked)."""
    from interp import data

    d = meta["data"]
    splits = data.split_corpus(data.load_corpus(d["corpus"]), d["val_frac"], d["test_frac"], d["split_seed"])
    test = splits["test"]
    if test.sha256 != d["splits"]["test"]["sha256"]:
        raise UserError(f"the corpus of {run} changed since training (test split hash differs); cannot compare")
    if not test.documents:
        raise UserError(f"{run} has no test split (--test-frac 0); retrain with a test split to compare")
    return [doc.text for doc in test.documents]


def _ci(x: np.ndarray, cfg: CompareConfig, stat: str = "mean") -> dict[str, float]:
    lo, hi = bootstrap(x.tolist(), stat=stat, n_boot=cfg.n_boot, seed=cfg.seed)
    v = float(np.exp(x.mean())) if stat == "exp_mean" else float(x.mean())
    return {"value": v, "lo": lo, "hi": hi}


def window_losses(bridge, windows: torch.Tensor) -> np.ndarray:
    """Mean next-token loss per window (N,)."""
    from interp.ablation.values import token_losses

    out = []
    with torch.no_grad():
        for i in range(0, len(windows), 16):
            x = windows[i:i + 16]
            out.append(token_losses(bridge(x), x).double().mean(1))
    return torch.cat(out).numpy()


def js_distance_rows(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon distance (base 2, in [0, 1]) between attention rows p, q (..., T) → (...)."""
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(a > 0, a * (torch.log2(a.clamp_min(1e-30)) - torch.log2(b.clamp_min(1e-30))), 0.0).sum(-1)

    return (0.5 * kl(p, m) + 0.5 * kl(q, m)).clamp_min(0).sqrt()


def attention_distance(parent, child, windows: torch.Tensor) -> np.ndarray:
    """Per window, layer, head: mean over query rows of the JS distance of the two models' patterns (N, L, H)."""
    n_layers = int(parent.cfg.n_layers)
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(n_layers)]
    out = []
    with torch.no_grad():
        for i in range(0, len(windows), 16):
            x = windows[i:i + 16]
            _, ca = parent.run_with_cache(x, names_filter=lambda n: n in names)
            _, cb = child.run_with_cache(x, names_filter=lambda n: n in names)
            per_layer = [js_distance_rows(ca[n].double(), cb[n].double()).mean(-1) for n in names]  # (B, H) each
            out.append(torch.stack(per_layer, 1))  # (B, L, H)
    return torch.cat(out).numpy()


def head_ablation(bridge, windows: torch.Tensor, seed: int) -> np.ndarray:
    """Per window, layer, head: mean-ablation Δloss (ablated − clean) via interp.ablation (N, L, H)."""
    from interp.ablation.ablate import ablate_windows
    from interp.ablation.values import AblationConfig

    cfg = AblationConfig(method="mean", seed=seed, max_new_tokens=0)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    out = np.zeros((len(windows), n_layers, n_heads))
    for layer in range(n_layers):
        for head in range(n_heads):
            r = ablate_windows(bridge, windows, [(layer, head)], cfg)
            out[:, layer, head] = np.asarray(r.window_ablated_loss) - np.asarray(r.window_clean_loss)
    return out


def _grid(x: np.ndarray, cfg: CompareConfig) -> dict[str, list]:
    """(N, L, H) per-window values → mean and bootstrap CI per head as [L][H] lists."""
    n, L, H = x.shape
    cells = [[_ci(x[:, a, b], cfg) for b in range(H)] for a in range(L)]
    return {k: [[c[k] for c in row] for row in cells] for k in ("value", "lo", "hi")}


def finetune_compare(parent: str | Path, child: str | Path, config: CompareConfig | None = None) -> FinetuneCompareResult:
    """Compare a parent run with its fine-tuned child (see the module docstring)."""
    from interp import hooked, tokens

    cfg = config or CompareConfig()
    pm, cm = _meta(parent), _meta(child)
    rec = cm.get("parent")
    if not rec:
        raise UserError(f"{child} is not a fine-tune (its run.json has no parent); train it with --init-from")
    pa, pb = Path(parent).resolve(), Path(rec.get("run") or rec.get("dir", "")).resolve()
    if pa != pb and not str(Path(rec.get("dir", ""))).startswith(str(pa)):
        raise UserError(f"{child} was fine-tuned from {rec.get('ref')!r}, not from {parent}; pass its parent run")
    docs = {"old": test_documents(pm, parent), "new": test_documents(cm, child)}
    a = hooked.load(str(parent), device=cfg.device)
    b = hooked.load(str(child), device=cfg.device)
    n_ctx = int(a.cfg.n_ctx)
    win = {k: tokens.eval_windows(a.tokenizer, v, n_ctx, cfg.max_tokens) for k, v in docs.items()}
    ppl, losses = {}, {}
    for k, w in win.items():
        la, lb = window_losses(a, w), window_losses(b, w)
        losses[k] = (la, lb)
        ppl[k] = {"parent": _ci(la, cfg, "exp_mean"), "child": _ci(lb, cfg, "exp_mean"),
                  "delta_loss": _ci(lb - la, cfg), "n_windows": int(len(w))}
    dist = attention_distance(a, b, win["new"])
    abl_a, abl_b = head_ablation(a, win["new"], cfg.seed), head_ablation(b, win["new"], cfg.seed)
    change = _grid(abl_b - abl_a, cfg)
    L, H = dist.shape[1:]
    top = sorted(({"head": f"L{x}.H{y}", "change": change["value"][x][y], "lo": change["lo"][x][y],
                   "hi": change["hi"][x][y], "attention_distance": float(dist[:, x, y].mean())}
                  for x in range(L) for y in range(H)), key=lambda r: -abs(r["change"]))[:5]
    vocab = int(a.cfg.d_vocab)
    return FinetuneCompareResult(
        parent=str(parent), child=str(child), parent_weights_sha256=rec.get("weights_sha256", ""),
        config={"max_tokens": cfg.max_tokens, "n_boot": cfg.n_boot, "ablation": "mean", "windows": "test splits"},
        seed=cfg.seed, n_layers=L, n_heads=H, vocab_size=vocab,
        corpora={k: {"corpus": m["data"]["corpus"], "n_windows": int(len(win[k])), "window_len": n_ctx,
                     "test_sha256": m["data"]["splits"]["test"]["sha256"]} for k, m in (("old", pm), ("new", cm))},
        perplexity={**ppl, "chance": vocab},
        forgetting={**ppl["old"]["delta_loss"], "verdict": _verdict(ppl["old"]["delta_loss"], "forgot", "improved")},
        attention_distance=_grid(dist, cfg),
        ablation={"parent": _grid(abl_a, cfg), "child": _grid(abl_b, cfg), "change": change},
        top_changed_heads=tuple(top))


def _verdict(ci: dict[str, float], up: str, down: str) -> str:
    if ci["lo"] > 0:
        return up
    if ci["hi"] < 0:
        return down
    return "not distinguishable from no change"


def figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Heatmaps per head (attention distance, ablation Δloss change) + perplexity bars, from the dict."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for ax, (title, m, cmap) in zip(axes[:2], (
            ("attention JS distance parent↔child", result["attention_distance"]["value"], "viridis"),
            ("ablation Δloss change (child − parent)", result["ablation"]["change"]["value"], "RdBu_r")), strict=True):
        arr = np.asarray(m, dtype=float)
        lim = max(abs(arr).max(), 1e-9)
        im = ax.imshow(arr, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim, aspect="auto")
        ax.set_xlabel("head", fontsize=8)
        ax.set_ylabel("layer", fontsize=8)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax)
    ax = axes[2]
    labels, vals, errs = [], [], []
    for corpus in ("old", "new"):
        for who in ("parent", "child"):
            c = result["perplexity"][corpus][who]
            labels.append(f"{who}\non {corpus}")
            vals.append(c["value"])
            errs.append([[c["value"] - c["lo"]], [c["hi"] - c["value"]]])
    ax.bar(range(4), vals, yerr=np.concatenate(errs, axis=1), color=["0.6", "tab:blue"] * 2, capsize=3)
    ax.set_xticks(range(4), labels, fontsize=7)
    ax.axhline(result["perplexity"]["chance"], ls="--", color="grey", lw=1)
    ax.set_yscale("log")
    ax.set_title("perplexity (test splits, 95% CI; dashed: uniform)", fontsize=9)
    return [("finetune_compare", fig)]


def summary_line(result: dict[str, Any]) -> str:
    f = result["forgetting"]
    return f"old-corpus Δloss {f['value']:+.3f} [{f['lo']:+.3f}, {f['hi']:+.3f}] ({f['verdict']})" if math.isfinite(
        f["value"]) else ""
