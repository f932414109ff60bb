"""Comparing measured metrics with a baseline: one `Check` (bound, pass/fail) per metric.

Tolerances. `absolute`/`relative` give a fixed bound (baseline ± amount, baseline × (1 ± amount)).
A fixed bound ignores the sample size: ±0.02 accuracy is noise at n = 50 (the 95% Wilson interval of
40/50 is 0.67–0.89) yet a real drop at n = 10,000. `statistical` scales with n and asks "is the change
larger than the sampling error of the two measurements?":

  - proportions (accuracy k/n): Newcombe's hybrid-score interval for (current − baseline), built from
    the two Wilson score intervals. A regression is when the whole interval lies on the worse side of 0
    — i.e. the two proportions differ significantly (one-sided, α = (1 − confidence)/2). This is
    stricter about noise than "current below the baseline's own Wilson lower bound", which ignores the
    current measurement's error and so flags too often.
  - means of per-item samples (perplexity from per-window NLLs, Δloss, distinct-n): a seeded
    percentile bootstrap of stat(current*) − stat(baseline*) with windows/items resampled
    independently; a regression when the interval lies entirely on the worse side of 0.

Both treat baseline and current as independent samples of the eval population, which is conservative
when they score the same items (a paired test would also flag tiny systematic drifts such as a changed
BLAS); to detect smaller changes, raise n. The reported `bound` is the worst current value that would
still pass, so the table shows how sensitive each check is. What the statistical bound does NOT cover
is training variance: two training runs with different seeds differ by more than eval sampling noise
on a large eval set. To gate models retrained from different seeds, measure that seed-to-seed spread
and use a relative/absolute tolerance at least that wide (CI here retrains with a fixed seed, which
reproduces the weights bit-for-bit on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals import stats
from evals.regress.baseline import check_baseline
from evals.regress.protocol import MetricValue
from evals.regress.suite import MetricCheck, Suite
from interp.results import FrozenResult

RERECORD = "if intended, re-record the baseline (`interp regress --update-baseline`)"


@dataclass(frozen=True)
class Check:
    """One metric's verdict. `bound` is the worst current value that still passes; `interval` is the
    confidence interval of (current − baseline) for statistical tolerances."""

    eval: str
    metric: str
    direction: str
    tolerance: str
    baseline: float
    current: float
    bound: float | None
    delta: float
    n_baseline: int
    n_current: int
    passed: bool
    message: str
    interval: tuple[float, float] | None = None


def _worse(direction: str, a: float, b: float) -> bool:
    """Is a worse than b?"""
    return a < b if direction == "higher" else a > b


def _proportion_bound(kb: int, nb: int, nc: int, direction: str, conf: float) -> float:
    """Worst passing current proportion (over k = 0..nc) under the Newcombe test (passing is monotone in k)."""
    def passes(k: int) -> bool:
        lo, hi = stats.newcombe_diff(k, nc, kb, nb, conf)
        return hi >= 0 if direction == "higher" else lo <= 0

    lo, hi = 0, nc
    if direction == "higher":  # smallest passing k
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if passes(mid) else (mid + 1, hi)
        return lo / nc
    while lo < hi:  # largest passing k
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if passes(mid) else (lo, mid - 1)
    return lo / nc


def compare_metric(ev: str, check: MetricCheck, base: MetricValue, cur: MetricValue, seed: int = 0) -> Check:
    """Apply one tolerance."""
    tol, d = check.tolerance, check.direction
    b, c = float(base.value), float(cur.value)
    common = dict(eval=ev, metric=check.metric, direction=d, tolerance=tol.describe(check.stat), baseline=b,
                  current=c, n_baseline=base.n, n_current=cur.n)
    name = f"{ev}/{check.metric}"
    if not math.isfinite(b):
        return Check(**common, bound=None, delta=float("nan"), passed=False,
                     message=f"{name}: the baseline value is undefined ({b}, n = {base.n}); the metric has no "
                             "items to score — fix the eval, then re-record the baseline")
    if not math.isfinite(c):
        return Check(**common, bound=None, delta=float("nan"), passed=False,
                     message=f"{name}: current value is not finite ({c}, n = {cur.n}); baseline {b:.6g}")
    if base.fingerprint and cur.fingerprint and base.fingerprint != cur.fingerprint:
        return Check(**common, bound=None, delta=c - b, passed=False,
                     message=f"{name}: scored inputs differ from the baseline's (e.g. another tokenizer), so "
                             f"{c:.6g} vs {b:.6g} is not comparable; {RERECORD}")
    interval = None
    if tol.kind == "absolute":
        bound = b + tol.amount if d == "lower" else b - tol.amount
        ok = not _worse(d, c, bound)
    elif tol.kind == "relative":
        bound = b + tol.amount * abs(b) if d == "lower" else b - tol.amount * abs(b)
        ok = not _worse(d, c, bound)
    elif check.stat == "proportion":
        if cur.n <= 0 or base.n <= 0:
            return Check(**common, bound=None, delta=c - b, passed=False, message=f"{name}: no items scored (n = 0)")
        kb, kc = round(b * base.n), round(c * cur.n)
        lo, hi = stats.newcombe_diff(kc, cur.n, kb, base.n, tol.confidence)
        interval = (lo, hi)
        ok = hi >= 0 if d == "higher" else lo <= 0
        bound = _proportion_bound(kb, base.n, cur.n, d, tol.confidence)
    else:
        if not base.samples or not cur.samples:
            return Check(**common, bound=None, delta=c - b, passed=False,
                         message=f"{name}: no per-item samples for the bootstrap")
        reps = stats.bootstrap_diff(base.samples, cur.samples, base.weights, cur.weights, check.stat,
                                    tol.n_boot, seed)  # (n_boot,) replicates of cur* − base*
        a = (1.0 - tol.confidence) / 2.0
        lo, hi = (float(x) for x in np.quantile(reps, [a, 1.0 - a]))
        interval = (lo, hi)
        delta = c - b
        ok = lo <= 0 if d == "lower" else hi >= 0
        # pass ⟺ cur ≤ base − q_a(reps − Δ) (lower) / cur ≥ base − q_{1−a}(reps − Δ) (higher)
        bound = b - (lo - delta) if d == "lower" else b - (hi - delta)
    if ok:
        msg = f"{name}: {c:.6g} vs baseline {b:.6g} (bound {bound:.6g}, {tol.describe(check.stat)})"
    else:
        worse = "higher" if d == "lower" else "lower"
        msg = (f"{name} regressed: current {c:.6g} is {worse} than the bound {bound:.6g} "
               f"(baseline {b:.6g}, {d} is better, {tol.describe(check.stat)})")
    return Check(**common, bound=bound, delta=c - b, passed=ok, message=msg, interval=interval)


@dataclass(frozen=True)
class RegressResult(FrozenResult):
    kind: str = "regress"
    suite: str = ""
    suite_sha256: str = ""
    model: str = ""
    model_sha256: str | None = None
    baseline: str = ""
    baseline_model: str | None = None
    baseline_model_sha256: str | None = None
    mode: str = "compare"  # compare | update-baseline
    seed: int = 0
    passed: bool = True
    n_checks: int = 0
    n_failed: int = 0
    checks: tuple[Check, ...] = field(default_factory=tuple)
    current: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # eval → metric → value/n
    # not in results.json: the baseline document to store (update mode) and seconds per eval (for JUnit)
    new_baseline: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    eval_seconds: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    _NOT_SAVED = ("new_baseline", "eval_seconds")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for k in self._NOT_SAVED:
            d.pop(k, None)
        return d

    def write_baseline(self) -> Path:
        """Store `new_baseline` (update mode) at `baseline`, atomically."""
        from interp.results import write_json

        if self.new_baseline is None:
            raise ValueError("this result was not measured in update-baseline mode")
        return write_json(self.baseline, self.new_baseline)

    def save(self, out_dir: str | Path) -> list[Path]:
        """OUT/results.json, OUT/junit.xml and OUT/summary.md (each atomic)."""
        from evals.regress.render import to_junit_xml, to_markdown
        from interp.results import atomic_write_text, write_json

        d = self.to_dict()
        out = Path(out_dir)
        return [write_json(out / "results.json", d), atomic_write_text(out / "junit.xml", to_junit_xml(d, self.eval_seconds)),
                atomic_write_text(out / "summary.md", to_markdown(d))]


def compare(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]],
            baseline_values: Mapping[str, Mapping[str, MetricValue]], seed: int | None = None) -> list[Check]:
    """One Check per (eval, metric) of the suite. Bootstrap seeds differ per metric but derive from `seed`."""
    seed = suite.seed if seed is None else seed
    checks = []
    j = 0
    for ev in suite.evals:
        for m in ev.metrics:
            checks.append(compare_metric(ev.name, m, baseline_values[ev.name][m.metric],
                                         current[ev.name][m.metric], seed=seed * 1000 + 2 * j))
            j += 1
    return checks


def build_result(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]], baseline: Mapping[str, Any],
                 model_ref: str, baseline_path: str = "", model_hash: str | None = None,
                 mode: str = "compare", new_baseline: dict[str, Any] | None = None,
                 eval_seconds: Mapping[str, float] | None = None) -> RegressResult:
    """Compare measured values with a baseline document → the suite's RegressResult."""
    values = check_baseline(suite, baseline, baseline_path or "baseline")
    checks = compare(suite, current, values)
    n_failed = sum(not c.passed for c in checks)
    return RegressResult(
        suite=str(suite.path), suite_sha256=suite.sha256, model=model_ref, model_sha256=model_hash,
        baseline=str(baseline_path), baseline_model=baseline.get("model"),
        baseline_model_sha256=baseline.get("model_sha256"), mode=mode, seed=suite.seed, passed=n_failed == 0,
        n_checks=len(checks), n_failed=n_failed, checks=tuple(checks),
        current={e: {m: {"value": v.value, "n": v.n} for m, v in ms.items()} for e, ms in current.items()},
        new_baseline=new_baseline, eval_seconds=dict(eval_seconds or {}),
    )
