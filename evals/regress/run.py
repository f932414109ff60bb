"""`regress(suite, baseline=None, ...)`: run a suite on a model and compare it with its baseline — the function
`interp regress` calls.

    suite.toml ─► parse + validate (suite.py; errors name file, line and key)
               ─► baseline read + checked against the suite (baseline.py) — before any compute
               ─► each eval's metric kind on the model (metrics/, lazy registry): {metric: MetricValue}
               ─► update_baseline: the new baseline document (values + samples) is returned to be stored
               ─► compare (compare.py): one Check per metric → RegressResult (render.py: table/Markdown/JUnit)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evals.regress.baseline import check_baseline, make_baseline, model_sha256, read_baseline
from evals.regress.compare import RegressResult, build_result
from evals.regress.metrics import get_kind
from evals.regress.protocol import EvalContext, MetricValue
from evals.regress.suite import Suite, load_suite
from interp.errors import UserError


def evaluate(suite: Suite, model: Any, ctx: EvalContext, progress: bool = False,
             seconds: dict[str, float] | None = None) -> dict[str, dict[str, MetricValue]]:
    """Run every eval's metric kind on `model` (a loaded bridge); keep the checked metrics (JSON precision).

    `seconds`, when given, receives each eval's wall time (for JUnit)."""
    from interp.progress import progress_bar

    out: dict[str, dict[str, MetricValue]] = {}
    for ev in progress_bar(suite.evals, desc="regress", unit="eval", file=sys.stderr, disable=(not progress) or None, leave=False):
        t0 = time.perf_counter()
        got = get_kind(ev.kind).adapter(model, ev.param_dict, ctx)
        missing = [m.metric for m in ev.metrics if m.metric not in got]
        if missing:
            raise RuntimeError(f"eval kind {ev.kind!r} did not produce metric(s) {missing}")  # a metric-kind bug
        out[ev.name] = {m.metric: got[m.metric].normalized() for m in ev.metrics}
        if seconds is not None:
            seconds[ev.name] = time.perf_counter() - t0
    return out


def regress(suite: str | Path | Suite, baseline: str | Path | None = None, *, update_baseline: bool = False,
            model: str | Any | None = None, device: str = "cpu", seed: int | None = None,
            progress: bool = False) -> RegressResult:
    """Run the regression suite `suite` (a TOML path or a parsed `Suite`) and compare with its baseline.

    baseline: the baseline JSON (default: the suite's `baseline`, else SUITE.baseline.json beside it).
    update_baseline: measure and return the new baseline document (`result.new_baseline`;
        `result.write_baseline()` stores it) instead of comparing with the stored one.
    model: a model reference, or a loaded TransformerBridge (default: the suite's `model`).
    seed: seeds evals that sample and the bootstrap (default: the suite's `seed`, else 0).
    Everything (suite, baseline, model reference) is validated before any eval runs; bad input is a UserError.
    Returns a RegressResult: `passed`, one Check per metric; `.save(out)` writes results.json, junit.xml, summary.md.
    """
    from interp import hooked
    from interp.seeding import set_seed
    from interp.train import package_versions

    s = suite if isinstance(suite, Suite) else load_suite(suite, seed_override=seed)
    if isinstance(suite, Suite) and seed is not None:
        raise UserError("seed applies to a suite file; parse the Suite with seed_override instead")
    from interp.model_ref import reference_of

    ref = reference_of(model) if model is not None else s.model
    if model is None and not ref:
        raise UserError(f"no model to evaluate: set `model = \"...\"` in {s.path} or pass `model=REF`")
    bpath = s.baseline_path(baseline)
    old: Mapping[str, Any] | None = None
    if update_baseline:
        if bpath.is_dir():
            raise UserError(f"baseline path {str(bpath)!r} is a directory; give a .json file path")
    else:
        old = read_baseline(bpath)
        check_baseline(s, old, str(bpath))  # fail before spending compute
    set_seed(s.seed)
    bridge = hooked.load_model(model if model is not None else ref, device)[0]
    label = ref or "<in-memory model>"
    ctx = EvalContext(model_ref=label, base_dir=s.base_dir, seed=s.seed, device=device)
    seconds: dict[str, float] = {}
    current = evaluate(s, bridge, ctx, progress=progress, seconds=seconds)
    mhash = model_sha256(ref) if ref else None
    new = None
    if update_baseline:
        new = old = make_baseline(s, current, label, mhash, package_versions())
    assert old is not None
    return build_result(s, current, old, label, str(bpath), mhash,
                        mode="update-baseline" if update_baseline else "compare", new_baseline=new,
                        eval_seconds=seconds)
