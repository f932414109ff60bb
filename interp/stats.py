"""Sampling-error bounds for eval metrics: Wilson / Newcombe intervals and a seeded bootstrap.

An eval metric is computed on a finite sample (n questions, n text windows), so it moves by chance
even when the model does not: a fixed tolerance (say "accuracy may drop 0.02") is far too tight for
n = 50 items (the 95% interval of 40/50 is ±0.11) and needlessly loose for n = 10,000 (±0.008).
The bounds here scale with the sample size.

Proportions (accuracy = k / n)
    `wilson(k, n)` — the Wilson score interval (better than the normal "Wald" interval for small n or
    p near 0/1; never leaves [0, 1]). 8/10 at 95% → (0.490, 0.943).
    `newcombe_diff(k1, n1, k2, n2)` — Newcombe's hybrid score interval for p1 − p2, built from the
    two Wilson intervals (Newcombe 1998, method 10). 56/70 vs 48/80 → (0.0524, 0.3339).

Means of per-item samples (per-window NLL → perplexity, per-window Δloss, per-generation distinct-n)
    `bootstrap(samples, stat, ...)` — percentile bootstrap of a (weighted) mean or exp-mean, seeded
    with numpy's PCG64, so the same seed gives the same interval bit-for-bit.
    `bootstrap_diff(base, cur, ...)` — the distribution of stat(cur*) − stat(base*) when both
    samples are resampled independently.

`stat` is one of:
    "mean"      weighted mean of the samples                (Δloss, distinct-n)
    "exp_mean"  exp(weighted mean)                          (perplexity from per-window mean NLLs,
                                                             weights = tokens per window)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from interp.errors import UserError

STATS = ("mean", "exp_mean")
BOOT_CHUNK = 256  # resamples per vectorised chunk (bounds memory at n_samples * 256 floats)


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: 0.95 → 1.959964."""
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (two-sided, `confidence` coverage). n = 0 → (0, 1)."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    lo = 0.0 if k == 0 else max(0.0, center - half)  # exact at the edges (no 1e-17 rounding residue)
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for p1 − p2 (p1 = k1/n1, p2 = k2/n2, independent samples), Newcombe's hybrid score method."""
    p1, p2 = (k1 / n1 if n1 else 0.0), (k2 / n2 if n2 else 0.0)
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lo, hi


def _as_arrays(samples: Sequence[float], weights: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(samples, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if x.ndim != 1 or x.shape != w.shape:
        raise ValueError(f"samples {x.shape} and weights {w.shape} must be 1-D and the same length")
    if x.size == 0:
        raise ValueError("bootstrap needs at least one sample")
    if np.any(w <= 0) or not np.all(np.isfinite(x)):
        raise ValueError("weights must be positive and samples finite")
    return x, w


def statistic(samples: Sequence[float], weights: Sequence[float] | None = None, stat: str = "mean") -> float:
    """The point value of `stat` on the (weighted) samples."""
    if stat not in STATS:
        raise ValueError(f"unknown stat {stat!r}; one of {STATS}")
    x, w = _as_arrays(samples, weights)
    m = float((x * w).sum() / w.sum())
    return math.exp(m) if stat == "exp_mean" else m


def bootstrap_replicates(samples: Sequence[float], weights: Sequence[float] | None = None,
                         stat: str = "mean", n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """`n_boot` bootstrap replicates of `stat` (resampling items with replacement), seeded. (n_boot,)"""
    if stat not in STATS:
        raise ValueError(f"unknown stat {stat!r}; one of {STATS}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    x, w = _as_arrays(samples, weights)
    rng = np.random.Generator(np.random.PCG64(seed))
    out = np.empty(n_boot, dtype=np.float64)
    for s in range(0, n_boot, BOOT_CHUNK):
        b = min(BOOT_CHUNK, n_boot - s)
        idx = rng.integers(0, x.size, size=(b, x.size))  # (b, n)
        ww = w[idx]
        out[s:s + b] = (x[idx] * ww).sum(1) / ww.sum(1)
    return np.exp(out) if stat == "exp_mean" else out


def bootstrap(samples: Sequence[float], weights: Sequence[float] | None = None, stat: str = "mean",
              confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Two-sided percentile-bootstrap interval of `stat`."""
    z_value(confidence)  # validates
    reps = bootstrap_replicates(samples, weights, stat, n_boot, seed)
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def bootstrap_diff(base: Sequence[float], cur: Sequence[float], base_weights: Sequence[float] | None = None,
                   cur_weights: Sequence[float] | None = None, stat: str = "mean", n_boot: int = 1000,
                   seed: int = 0) -> np.ndarray:
    """Replicates of stat(cur*) − stat(base*), the two samples resampled independently. (n_boot,)"""
    rb = bootstrap_replicates(base, base_weights, stat, n_boot, seed)
    rc = bootstrap_replicates(cur, cur_weights, stat, n_boot, seed + 1)
    return rc - rb
