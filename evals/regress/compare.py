"""Comparing measured metrics with a baseline: one `Check` (bound, pass/fail) per metric.

Tolerances. `absolute`/`relative` give a fixed bound (baseline ± amount, baseline × (1 ± amount)).
A fixed bound ignores the sample size: ±0.02 accuracy is noise at n = 50 (the 95% Wilson interval of
40/50 is 0.67–0.89) yet a real drop at n = 10,000. `statistical` scales with n and asks "is the change
larger than the sampling error?":

PAIRED (both sides carry per-item results over the same items — `evals.regress.paired`). The item-to-item
variation cancels, so much smaller changes are visible:
  - proportions: exact McNemar test on the discordant items (right → wrong vs wrong → right), with
    Newcombe's paired (method 10) interval for current − baseline;
  - means of per-item samples (perplexity, Δloss, distinct-n, fraction restored): a seeded paired
    percentile bootstrap (the same resampled items in both arms) of stat(current*) − stat(baseline*).
UNPAIRED (one side has no per-item results, or the items differ — the check says which): Newcombe's
hybrid-score interval with a score test (proportions), an independent bootstrap of each side (means).

Verdict. Each statistical check has a two-sided p-value; across the suite's statistical checks the
p-values are adjusted (Benjamini–Hochberg by default, the suite's `adjust = "holm" | "none"`), and a check
fails when its ADJUSTED p < 1 − confidence and the change is on the worse side (and larger than the
metric's `min_effect`, default 0: a paired test also sees tiny systematic drifts, such as another BLAS).
Each check also reports
its minimum detectable effect (`mde`, 80% power at the suite's n and confidence): changes smaller than
that are invisible to this suite. `bound` is the worst current value that would still pass the unadjusted
test (for paired checks: the interval shifted to 0, an approximation), so the table shows how sensitive
each check is. The changed items (flipped answers; windows whose NLL moved most) are listed per check.

What the statistical bound does NOT cover is training variance: two training runs with different seeds
differ by more than eval sampling noise on a large eval set. To gate models retrained from different
seeds, measure that seed-to-seed spread and use a relative/absolute tolerance at least that wide (CI here
retrains with a fixed seed, which reproduces the weights bit-for-bit on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.regress.baseline import check_baseline
from evals.regress.paired import align, changed_items, pairing_note
from evals.regress.protocol import MetricValue
from evals.regress.suite import MetricCheck, Suite
from interp import stats
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
    pairing: str | None = None  # "paired" | "unpaired" (statistical checks)
    pairing_note: str = ""  # "paired on 400 items" / why unpaired
    test: str | None = None  # the test behind p_value
    p_value: float | None = None  # two-sided, raw
    p_adjusted: float | None = None  # across the suite's statistical checks (`adjust`)
    adjust: str | None = None
    alpha: float | None = None  # 1 − confidence
    mde: float | None = None  # minimum detectable effect (80% power), metric units; None: no spread to size it
    worse: bool = False  # the change is on the worse side
    min_effect: float = 0.0  # |change| at or below this cannot fail
    changed: dict[str, Any] | None = None  # flipped / most-moved items (paired checks)


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
    else:
        return _statistical(common, name, check, base, cur, seed)
    if ok:
        msg = f"{name}: {c:.6g} vs baseline {b:.6g} (bound {bound:.6g}, {tol.describe(check.stat)})"
    else:
        worse = "higher" if d == "lower" else "lower"
        msg = (f"{name} regressed: current {c:.6g} is {worse} than the bound {bound:.6g} "
               f"(baseline {b:.6g}, {d} is better, {tol.describe(check.stat)})")
    return Check(**common, bound=bound, delta=c - b, passed=ok, message=msg, interval=interval)


def _statistical(common: dict[str, Any], name: str, check: MetricCheck, base: MetricValue, cur: MetricValue,
                 seed: int) -> Check:
    """A statistical check, paired when the items match (verdict on the raw p; `adjust_checks` redoes it)."""
    tol, d = check.tolerance, check.direction
    b, c = float(base.value), float(cur.value)
    conf = tol.confidence
    al = align(base, cur)
    note = pairing_note(base, cur)
    changed = None
    if check.stat == "proportion":
        if cur.n <= 0 or base.n <= 0:
            return Check(**common, bound=None, delta=c - b, passed=False, message=f"{name}: no items scored (n = 0)")
        if al is not None:
            ib, ic = al
            xb, xc = np.asarray(base.samples)[ib], np.asarray(cur.samples)[ic]
            a_, b_, c_, d_ = stats.paired_table(xc, xb)  # b_: right now, wrong in the baseline
            lo, hi = stats.newcombe_paired_diff(a_, b_, c_, d_, conf)
            p = stats.mcnemar_p(b_, c_)
            mde = stats.mde_paired_proportion(len(ic), b_ + c_, conf)
            test = f"exact McNemar ({c_} right→wrong, {b_} wrong→right); Newcombe paired interval"
            delta = (b_ - c_) / len(ic)
            bound = b - (hi - delta) if d == "higher" else b - (lo - delta)
            changed = changed_items(base, cur, ib, ic)
        else:
            kb, kc = round(b * base.n), round(c * cur.n)
            lo, hi = stats.newcombe_diff(kc, cur.n, kb, base.n, conf)
            p = stats.two_proportion_p(kc, cur.n, kb, base.n)
            mde = stats.mde_unpaired_proportion(b, base.n, cur.n, conf)
            test = "score test (independent samples); Newcombe interval"
            bound = _proportion_bound(kb, base.n, cur.n, d, conf)
    else:
        if not base.samples or not cur.samples:
            return Check(**common, bound=None, delta=c - b, passed=False,
                         message=f"{name}: no per-item samples for the bootstrap")
        if al is not None:
            ib, ic = al
            wb = np.asarray(base.weights)[ib] if base.weights is not None else None
            wc = np.asarray(cur.weights)[ic] if cur.weights is not None else None
            reps = stats.bootstrap_diff(np.asarray(base.samples)[ib], np.asarray(cur.samples)[ic], wb, wc, check.stat,
                                        tol.n_boot, seed, paired=True)  # (n_boot,) replicates of cur* − base*
            test = f"paired bootstrap×{tol.n_boot} (same items resampled in both)"
            changed = changed_items(base, cur, ib, ic)
        else:
            reps = stats.bootstrap_diff(base.samples, cur.samples, base.weights, cur.weights, check.stat,
                                        tol.n_boot, seed)
            test = f"bootstrap×{tol.n_boot} (samples resampled independently)"
        lo, hi = stats.quantile_interval(reps, conf)
        p = stats.bootstrap_p(reps)
        # identical per-item results: no spread to size a detectable effect from (None → "n/a")
        mde = stats.mde_from_replicates(reps, conf) if np.ptp(reps) > 0 else None
        delta = c - b
        # pass ⟺ cur ≤ base − q_a(reps − Δ) (lower) / cur ≥ base − q_{1−a}(reps − Δ) (higher)
        bound = b - (lo - delta) if d == "lower" else b - (hi - delta)
    worse = _worse(d, c, b)
    chk = Check(**common, bound=bound, delta=c - b, passed=True, message="", interval=(lo, hi),
                pairing="paired" if al is not None else "unpaired", pairing_note=note, test=test, p_value=p,
                p_adjusted=p, adjust="none", alpha=1.0 - conf, mde=mde, worse=worse, changed=changed,
                min_effect=tol.min_effect)
    return _verdict(chk, p, "none")


def _verdict(chk: Check, p_adj: float, method: str) -> Check:
    """Pass/fail and message of a statistical check from its adjusted p-value."""
    from dataclasses import replace

    assert chk.alpha is not None and chk.p_value is not None
    name = f"{chk.eval}/{chk.metric}"
    ok = not (chk.worse and p_adj < chk.alpha and abs(chk.delta) > chk.min_effect)
    padj = f", adjusted ({method}) {p_adj:.3g}" if method != "none" else ""
    stat_txt = (f"Δ {chk.delta:+.4g}, {(1 - chk.alpha) * 100:g}% CI [{chk.interval[0]:+.4g}, {chk.interval[1]:+.4g}], p {chk.p_value:.3g}{padj}; "
                f"{chk.pairing_note}; " + (f"this suite cannot see a change smaller than {chk.mde:.3g}"
                                           if chk.mde is not None else "MDE n/a: identical per-item results")
                if chk.interval else "")
    if ok:
        msg = f"{name}: {chk.current:.6g} vs baseline {chk.baseline:.6g} ({stat_txt})"
    else:
        worse = "higher" if chk.direction == "lower" else "lower"
        msg = (f"{name} regressed: current {chk.current:.6g} is significantly {worse} than the baseline "
               f"{chk.baseline:.6g} ({stat_txt}; {chk.direction} is better)")
    return replace(chk, passed=ok, message=msg, p_adjusted=p_adj, adjust=method)


def adjust_checks(checks: list[Check], method: str) -> list[Check]:
    """Adjust the statistical checks' p-values across the suite (`stats.adjust_pvalues`) and redo their verdicts."""
    idx = [i for i, ch in enumerate(checks) if ch.p_value is not None]
    adj = stats.adjust_pvalues([checks[i].p_value for i in idx], method)  # type: ignore[misc]
    out = list(checks)
    for i, pa in zip(idx, adj, strict=True):
        out[i] = _verdict(checks[i], pa, method)
    return out


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
    adjust: str = "bh"  # p-value adjustment across the statistical checks
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
    return adjust_checks(checks, suite.adjust)


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
        baseline_model_sha256=baseline.get("model_sha256"), mode=mode, seed=suite.seed, adjust=suite.adjust,
        passed=n_failed == 0,
        n_checks=len(checks), n_failed=n_failed, checks=tuple(checks),
        current={e: {m: v.to_dict() for m, v in ms.items()} for e, ms in current.items()},  # per-item results too
        new_baseline=new_baseline, eval_seconds=dict(eval_seconds or {}),
    )
