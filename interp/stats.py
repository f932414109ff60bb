"""Sampling-error bounds for eval metrics — thin named wrappers over SciPy / statsmodels.

An eval metric is computed on a finite sample (n questions, n text windows), so it moves by chance even
when the model does not. The bounds here scale with n, and when two models were scored on THE SAME items
they are paired: the item-to-item variation cancels, so far smaller changes are visible.

Proportions (accuracy = k / n)
    `wilson(k, n)`            Wilson score interval (scipy `binomtest(...).proportion_ci('wilson')`).
                              8/10 at 95% → (0.490, 0.943).
    `newcombe_diff(...)`      p1 − p2, INDEPENDENT samples: Newcombe's hybrid score (method 10), statsmodels
                              `confint_proportions_2indep(method='newcomb')`. 56/70 vs 48/80 → (0.0524, 0.3339).
    `newcombe_paired_diff(a, b, c, d)`  p1 − p2 on the SAME items (a: both right, b: only arm 1, c: only
                              arm 2, d: neither): Newcombe 1998b method 10 (square-and-add Wilson with the
                              φ correction); hand-written — neither SciPy nor statsmodels has it.
    `mcnemar_p(b, c)`         exact McNemar test (statsmodels `mcnemar(exact=True)`): two-sided p of b vs c.
    `two_proportion_p(...)`   independent samples: score test (statsmodels `test_proportions_2indep`).

Means of per-item samples (per-window NLL → perplexity, Δloss, distinct-n, fraction restored)
    `bootstrap(...)`          percentile interval of the (weighted) mean / exp-mean, `scipy.stats.bootstrap`.
    `bootstrap_diff(..., paired=)`  replicates of stat(cur*) − stat(base*): paired resamples the SAME item
                              indices in both arms (scipy `paired=True`); unpaired resamples them independently.
    `bootstrap_p(reps)`       two-sided percentile-bootstrap p-value of "difference = 0".

Power and multiplicity
    `mde_*`                   minimum detectable effect (two-sided α = 1 − confidence, 80% power, normal
                              approximation) at the suite's n: "this suite cannot see a drop smaller than x".
    `adjust_pvalues(p, method)`  Benjamini–Hochberg ("bh") or Holm across a suite's metrics (statsmodels
                              `multipletests`).

All seeded functions use numpy's PCG64 (`np.random.default_rng(seed)`): the same seed gives the same
numbers bit-for-bit on a given platform.

`stat` is one of:
    "mean"      weighted mean of the samples                (Δloss, distinct-n, fraction restored)
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
ADJUST = {"bh": "fdr_bh", "holm": "holm", "none": None}
POWER = 0.8  # power at which the minimum detectable effect is quoted


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: 0.95 → 1.959964."""
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


# ----------------------------------------------------------------------------- proportions
def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (two-sided, `confidence` coverage). n = 0 → (0, 1)."""
    from scipy.stats import binomtest

    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if n == 0:
        return 0.0, 1.0
    z_value(confidence)
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    lo = 0.0 if k == 0 else max(0.0, float(ci.low))  # exact at the edges (no 1e-17 rounding residue)
    hi = 1.0 if k == n else min(1.0, float(ci.high))
    return lo, hi


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for p1 − p2 (independent samples), Newcombe's hybrid score method (statsmodels)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n1 <= 0 or n2 <= 0:
        return -1.0, 1.0
    z_value(confidence)
    lo, hi = confint_proportions_2indep(int(k1), int(n1), int(k2), int(n2), method="newcomb", compare="diff",
                                        alpha=1.0 - confidence)
    return float(lo), float(hi)


def paired_table(x1: Sequence[bool | float], x2: Sequence[bool | float]) -> tuple[int, int, int, int]:
    """(a, b, c, d) of two 0/1 vectors over the same items: a both 1, b only x1, c only x2, d neither."""
    u = np.asarray(x1, dtype=np.float64) > 0.5
    v = np.asarray(x2, dtype=np.float64) > 0.5
    if u.shape != v.shape or u.ndim != 1:
        raise ValueError(f"paired vectors must be 1-D and the same length, got {u.shape} and {v.shape}")
    return int((u & v).sum()), int((u & ~v).sum()), int((~u & v).sum()), int((~u & ~v).sum())


def newcombe_paired_diff(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for p1 − p2 = (b − c)/n on paired items, Newcombe (1998b) method 10.

    p1 = (a + b)/n, p2 = (a + c)/n; Wilson limits l1, u1, l2, u2; φ the (corrected) phi coefficient
    (ad − bc − n/2 when ad − bc > n/2, 0 when 0 ≤ ad − bc ≤ n/2, ad − bc when negative):
        lo = θ − sqrt((p1 − l1)² − 2φ(p1 − l1)(u2 − p2) + (u2 − p2)²)
        hi = θ + sqrt((p2 − l2)² − 2φ(p2 − l2)(u1 − p1) + (u1 − p1)²)
    """
    n = a + b + c + d
    if min(a, b, c, d) < 0:
        raise ValueError(f"paired counts must be >= 0, got {(a, b, c, d)}")
    if n == 0:
        return -1.0, 1.0
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, confidence)
    l2, u2 = wilson(a + c, n, confidence)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if den > 0:
        num = a * d - b * c
        corr = num - n / 2 if num > n / 2 else (num if num < 0 else 0.0)
        phi = corr / math.sqrt(den)
    th = p1 - p2
    lo = th - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = th + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return max(-1.0, lo), min(1.0, hi)


def mcnemar_p(b: int, c: int) -> float:
    """Exact (binomial) McNemar test of b vs c discordant items, two-sided p (1.0 when b = c = 0)."""
    from statsmodels.stats.contingency_tables import mcnemar

    if b + c == 0:
        return 1.0
    return float(mcnemar([[0, int(b)], [int(c), 0]], exact=True).pvalue)


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Independent samples: two-sided score-test p of p1 = p2 (statsmodels `test_proportions_2indep`)."""
    from statsmodels.stats.proportion import test_proportions_2indep

    if n1 <= 0 or n2 <= 0 or (k1 + k2) in (0, n1 + n2):
        return 1.0
    p = test_proportions_2indep(int(k1), int(n1), int(k2), int(n2), method="score").pvalue
    return float(p) if math.isfinite(p) else 1.0


# ----------------------------------------------------------------------------- means of samples (bootstrap)
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


def _check_stat(stat: str, n_boot: int = 1) -> None:
    if stat not in STATS:
        raise ValueError(f"unknown stat {stat!r}; one of {STATS}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")


def statistic(samples: Sequence[float], weights: Sequence[float] | None = None, stat: str = "mean") -> float:
    """The point value of `stat` on the (weighted) samples."""
    _check_stat(stat)
    x, w = _as_arrays(samples, weights)
    m = float((x * w).sum() / w.sum())
    return math.exp(m) if stat == "exp_mean" else m


def _wmean(x: np.ndarray, w: np.ndarray, stat: str, axis: int = -1) -> np.ndarray:
    m = (x * w).sum(axis=axis) / w.sum(axis=axis)
    return np.exp(m) if stat == "exp_mean" else m


def _distribution(data: tuple[np.ndarray, ...], fn, n_boot: int, seed: int, paired: bool) -> np.ndarray:
    """scipy.stats.bootstrap's replicate distribution of fn(*data) (percentile method, seeded). (n_boot,)"""
    from scipy.stats import bootstrap as sp_bootstrap

    res = sp_bootstrap(data, fn, n_resamples=n_boot, vectorized=True, paired=paired, method="percentile",
                       batch=256, rng=np.random.default_rng(seed))
    return np.asarray(res.bootstrap_distribution, dtype=np.float64).reshape(-1)


def bootstrap_replicates(samples: Sequence[float], weights: Sequence[float] | None = None,
                         stat: str = "mean", n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """`n_boot` bootstrap replicates of `stat` (items resampled with replacement, weights with them). (n_boot,)"""
    _check_stat(stat, n_boot)
    x, w = _as_arrays(samples, weights)
    return _distribution((x, w), lambda x, w, axis=-1: _wmean(x, w, stat, axis), n_boot, seed, paired=True)


def bootstrap(samples: Sequence[float], weights: Sequence[float] | None = None, stat: str = "mean",
              confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Two-sided percentile-bootstrap interval of `stat`."""
    z_value(confidence)
    return quantile_interval(bootstrap_replicates(samples, weights, stat, n_boot, seed), confidence)


def quantile_interval(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def bootstrap_diff(base: Sequence[float], cur: Sequence[float], base_weights: Sequence[float] | None = None,
                   cur_weights: Sequence[float] | None = None, stat: str = "mean", n_boot: int = 1000,
                   seed: int = 0, paired: bool = False) -> np.ndarray:
    """Replicates of stat(cur*) − stat(base*). (n_boot,)

    paired=True: base[i] and cur[i] are the same item; one set of resampled indices serves both arms
    (scipy `paired=True`), so item-to-item variation cancels. paired=False: resampled independently."""
    _check_stat(stat, n_boot)
    xb, wb = _as_arrays(base, base_weights)
    xc, wc = _as_arrays(cur, cur_weights)
    if paired:
        if xb.shape != xc.shape:
            raise ValueError(f"paired samples differ in length: {xb.size} vs {xc.size}")
        return _distribution((xb, wb, xc, wc),
                             lambda xb, wb, xc, wc, axis=-1: _wmean(xc, wc, stat, axis) - _wmean(xb, wb, stat, axis),
                             n_boot, seed, paired=True)
    rb = bootstrap_replicates(xb, wb, stat, n_boot, seed)
    rc = bootstrap_replicates(xc, wc, stat, n_boot, seed + 1)
    return rc - rb


def bootstrap_p(reps: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p-value of "difference = 0": 2·min(#(Δ* ≤ 0) + 1, #(Δ* ≥ 0) + 1)/(B + 1),
    capped at 1 (the +1 keeps p ≥ 2/(B + 1): B resamples cannot show a smaller p)."""
    r = np.asarray(reps, dtype=np.float64)
    b = r.size
    return float(min(1.0, 2.0 * (min(int((r <= 0.0).sum()), int((r >= 0.0).sum())) + 1) / (b + 1)))


# ----------------------------------------------------------------------------- power, multiplicity
def _zz(confidence: float, power: float = POWER) -> float:
    return z_value(confidence) + NormalDist().inv_cdf(power)


def mde_paired_proportion(n: int, n_discordant: int, confidence: float = 0.95, power: float = POWER) -> float:
    """Smallest accuracy change (b − c)/n a paired (McNemar) test sees with `power`, at the observed
    discordant count (at least 1): (z_α/2 + z_β) · sqrt(b + c) / n."""
    return _zz(confidence, power) * math.sqrt(max(1, n_discordant)) / n if n > 0 else float("inf")


def mde_unpaired_proportion(p: float, n1: int, n2: int, confidence: float = 0.95, power: float = POWER) -> float:
    """Smallest accuracy change two independent samples see: (z_α/2 + z_β) · sqrt(p(1−p)(1/n1 + 1/n2)),
    p clipped to [1/n, 1 − 1/n]."""
    if n1 <= 0 or n2 <= 0:
        return float("inf")
    n = min(n1, n2)
    q = min(max(p, 1.0 / n), 1.0 - 1.0 / n) if n > 1 else 0.5
    return _zz(confidence, power) * math.sqrt(q * (1 - q) * (1.0 / n1 + 1.0 / n2))


def mde_from_replicates(reps: np.ndarray, confidence: float = 0.95, power: float = POWER) -> float:
    """Smallest shift of a bootstrapped difference seen with `power`: (z_α/2 + z_β) · sd(replicates)."""
    return _zz(confidence, power) * float(np.std(np.asarray(reps, dtype=np.float64), ddof=1))


def adjust_pvalues(pvalues: Sequence[float], method: str = "bh") -> list[float]:
    """Multiplicity-adjusted p-values: "bh" (Benjamini–Hochberg FDR), "holm" (FWER) or "none" (statsmodels)."""
    from statsmodels.stats.multitest import multipletests

    if method not in ADJUST:
        raise UserError(f"unknown p-value adjustment {method!r}; use one of {', '.join(ADJUST)}")
    p = [float(x) for x in pvalues]
    if not p or ADJUST[method] is None:
        return p
    return [float(x) for x in multipletests(p, method=ADJUST[method])[1]]
