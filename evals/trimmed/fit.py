"""Fitting a k × d_model head on last-position features: the trimmed head (from the label rows) and a probe.

Both heads are linear maps from final-LN features h (d_model) to k logits, fitted the same way, so the only
difference is the question the seed project leaves open — does starting from the label rows matter?

    trimmed head   init W = W_U[:, label_ids].T, b = b_U[label_ids]; L2 penalty toward that init
    linear probe   init W ~ N(0, 0.01²) (seeded), b = 0;            L2 penalty toward zero

Conditioning. Gemma's final-LN features have a few dimensions hundreds of times larger than the rest, which
makes the raw problem badly conditioned (the old Adam fit stalled below a standardised probe). So both
heads are fitted in standardised coordinates z = (h − μ) / σ (μ, σ from the fit examples) and mapped back:

    logits = z @ W'.T + b'   with  W' = W · diag(σ),  b' = b + W μ     (exactly the same linear map of h)

so the fitted trimmed head is still a k × d_model head on the raw features, and its init gives exactly the
zero-shot trimmed logits.

Objective: mean cross-entropy + (λ/2)·‖W' − W'_centre‖² (bias unpenalised, so a pure prior shift is free:
at large λ the trimmed head is the zero-shot head plus a fitted bias, a learned calibration).

Optimizer: full-batch L-BFGS (strong-Wolfe line search, history 20). The objective is smooth and convex,
n ≤ a few thousand × d_model fits in memory, and L-BFGS needs no learning rate, converges in tens of
iterations and is deterministic — AdamW would add a learning rate and a schedule to tune per dataset.

Early stopping and weight decay: a validation split of the train examples (stratified, seeded; see
`evaluate`) is scored every `check_every` iterations; the iterate with the lowest validation loss is kept,
and the fit stops after `patience` checks without improvement. λ is chosen from `WEIGHT_DECAYS` by
validation accuracy (ties: lower validation loss, then the larger λ). Without validation examples the
fixed `DEFAULT_WEIGHT_DECAY` is used and the last iterate is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
DEFAULT_WEIGHT_DECAY = 1e-2
MAX_ITER = 100
CHECK_EVERY = 10
PATIENCE = 2
INITS = ("labels", "random")


@dataclass(frozen=True)
class Standardiser:
    """z = (h − mu) / sigma per feature dimension (sigma floored so constant dimensions stay finite)."""

    mu: torch.Tensor  # (d_model,)
    sigma: torch.Tensor  # (d_model,)

    @classmethod
    def fit(cls, H: torch.Tensor) -> Standardiser:
        mu = H.mean(0)
        sd = H.std(0, unbiased=False)
        return cls(mu, sd.clamp_min(1e-6 * float(sd.max().clamp_min(1e-12))))

    def __call__(self, H: torch.Tensor) -> torch.Tensor:
        return (H - self.mu) / self.sigma

    def to_std(self, W: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A raw-feature head (W: (k, d), b: (k,)) as the same map on z."""
        return W * self.sigma, b + W @ self.mu

    def from_std(self, Wz: torch.Tensor, bz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        W = Wz / self.sigma
        return W, bz - W @ self.mu


def _ce(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(Z @ W.T + b, y)


def _acc(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> float:
    return float(((Z @ W.T + b).argmax(-1) == y).float().mean()) if len(y) else float("nan")


def lbfgs(Z: torch.Tensor, y: torch.Tensor, W_init: torch.Tensor, b_init: torch.Tensor, W_centre: torch.Tensor,
          weight_decay: float, Z_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None,
          max_iter: int = MAX_ITER, check_every: int = CHECK_EVERY, patience: int = PATIENCE
          ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Minimise mean CE(Z W.T + b, y) + (λ/2)‖W − W_centre‖² with L-BFGS; early stopping on (Z_val, y_val).

    Z: (n, d), y: (n,), W: (k, d), b: (k,). Returns the kept (W, b) and {iterations, val_loss, stopped}.
    """
    W = W_init.detach().clone().requires_grad_(True)
    b = b_init.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=check_every, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-7, tolerance_change=1e-10)
    has_val = Z_val is not None and y_val is not None and len(y_val) > 0

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _ce(Z, y, W, b) + 0.5 * weight_decay * (W - W_centre).pow(2).sum()
        loss.backward()
        return loss

    def val_loss() -> float:
        with torch.no_grad():
            return float(_ce(Z_val, y_val, W, b))

    best = (val_loss() if has_val else float("inf"), W.detach().clone(), b.detach().clone(), 0)
    done, bad, stopped = 0, 0, "max_iter"
    with torch.enable_grad():
        while done < max_iter:
            before = opt.state[W].get("n_iter", 0)
            opt.step(closure)
            ran = opt.state[W].get("n_iter", 0) - before
            done += max(ran, 1)
            if has_val:
                vl = val_loss()
                if vl < best[0] - 1e-7:
                    best, bad = (vl, W.detach().clone(), b.detach().clone(), done), 0
                else:
                    bad += 1
                    if bad >= patience:
                        stopped = "early_stop"
                        break
            if ran < check_every:  # L-BFGS met its tolerance inside this round
                stopped = "converged"
                break
    if has_val:
        _, W_out, b_out, it = best
    else:
        W_out, b_out, it = W.detach(), b.detach(), done
    return W_out, b_out, {"iterations": done, "kept_iteration": it, "stopped": stopped,
                          "val_loss": best[0] if has_val else None}


def fit_head(H: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, b0: torch.Tensor,
             H_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, *, init: str = "labels",
             weight_decays: tuple[float, ...] = WEIGHT_DECAYS, max_iter: int = MAX_ITER, seed: int = 0
             ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Fit a head W: (k, d_model), b: (k,) on raw features H: (n, d_model), labels y: (n,).

    `init="labels"`: the trimmed head (start from and shrink toward W0, b0 = the label rows);
    `init="random"`: the linear probe (seeded N(0, 0.01²) start, shrink toward 0). See the module docstring.
    Returns (W, b) in raw-feature coordinates and a summary (chosen λ, the grid, accuracies, iterations).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}")
    H, W0, b0 = H.detach().float(), W0.detach().float(), b0.detach().float()
    st = Standardiser.fit(H)
    Z = st(H)
    Zv = st(H_val.detach().float()) if H_val is not None and y_val is not None and len(y_val) else None
    yv = y_val if Zv is not None else None
    if init == "labels":
        W_init, b_init = st.to_std(W0, b0)
        W_centre = W_init.clone()
    else:
        g = torch.Generator().manual_seed(seed)
        W_init = 0.01 * torch.randn(W0.shape, generator=g)
        b_init = torch.zeros_like(b0)
        W_centre = torch.zeros_like(W0)
    grid = weight_decays if Zv is not None else (weight_decays[0] if len(weight_decays) == 1 else DEFAULT_WEIGHT_DECAY,)
    runs = []
    for lam in grid:
        Wz, bz, info = lbfgs(Z, y, W_init, b_init, W_centre, lam, Zv, yv, max_iter=max_iter)
        runs.append({"weight_decay": lam, "Wz": Wz, "bz": bz, **info,
                     "val_accuracy": _acc(Zv, yv, Wz, bz) if Zv is not None else None})
    # best validation accuracy, then lower validation loss, then stronger regularisation
    chosen = max(runs, key=lambda r: ((r["val_accuracy"] or 0.0), -(r["val_loss"] or 0.0), r["weight_decay"]))
    W, b = st.from_std(chosen["Wz"], chosen["bz"])
    with torch.no_grad():
        summary = {
            "init": init,
            "optimizer": "L-BFGS (full batch, strong Wolfe), standardised features",
            "weight_decay": chosen["weight_decay"],
            "iterations": chosen["iterations"],
            "kept_iteration": chosen["kept_iteration"],
            "stopped": chosen["stopped"],
            "init_train_loss": float(_ce(Z, y, W_init, b_init)),
            "train_loss": float(_ce(Z, y, chosen["Wz"], chosen["bz"])),
            "train_accuracy": _acc(Z, y, chosen["Wz"], chosen["bz"]),
            "val_accuracy": chosen["val_accuracy"],
            "val_loss": chosen["val_loss"],
            "relative_weight_change": float((W - W0).norm() / W0.norm().clamp_min(1e-12)) if init == "labels"
            else None,
            "grid": [{k: r[k] for k in ("weight_decay", "val_accuracy", "val_loss", "iterations", "stopped")}
                     for r in runs],
        }
    return W, b, summary
