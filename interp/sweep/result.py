"""The sweep's result: trials table, best config, parameter importance, pruning's saved compute."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.results import FrozenResult


@dataclass(frozen=True)
class SweepResult(FrozenResult):
    kind: str = "sweep"
    name: str = ""
    space: dict[str, Any] = field(default_factory=dict)  # SweepSpec.to_dict()
    sampler: str = ""  # GridSampler | TPESampler
    pruner: dict[str, Any] = field(default_factory=dict)
    storage: str = ""  # "sweep dir" (embedded SQLite) or the --storage URL without credentials
    seed: int = 0
    n_trials_requested: int = 0
    trials: tuple[dict[str, Any], ...] = ()  # number, state, params, value, steps_run, planned_steps, intermediate
    best: dict[str, Any] | None = None  # number, params, value, run_dir, config (the trial's TrainConfig)
    importance: dict[str, float] | None = None  # optuna.importance (fANOVA, fixed seed); None with < 2 trials
    importance_note: str = ""
    compute: dict[str, Any] = field(default_factory=dict)  # steps run vs the full grid (pruning's saving)
    retrained: dict[str, Any] | None = None  # --retrain-best
    nproc_per_node: int | None = None  # None: trials trained in the sweep process; K: torchrun jobs of K processes


def _trial_row(t) -> dict[str, Any]:
    inter = {str(k): float(v) for k, v in sorted(t.intermediate_values.items())}
    val = None if t.value is None or not math.isfinite(t.value) else float(t.value)
    return {"number": t.number, "state": t.state.name, "params": dict(t.params), "value": val,
            "steps_run": t.user_attrs.get("steps_run", 0), "planned_steps": t.user_attrs.get("planned_steps"),
            "intermediate": inter, "run_dir": t.user_attrs.get("run_dir"), "error": t.user_attrs.get("error"),
            "retry_of": t.system_attrs.get("failed_trial")}


def _importance(study, seed: int) -> tuple[dict[str, float] | None, str]:
    import optuna
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    varied = {n for n in (done[0].params if done else {}) if len({repr(t.params.get(n)) for t in done}) > 1}
    if len(done) < 2 or not varied:
        return None, "needs at least 2 completed trials that differ in a parameter"
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed), params=sorted(varied))
    except (RuntimeError, ValueError) as e:
        return None, f"optuna.importance failed: {e}"
    return {k: float(v) for k, v in imp.items()}, "fANOVA (optuna.importance), seed fixed"


def _safe_url(url: str | None) -> str:
    if url is None:
        return "sweep dir (SQLite study.db)"
    head, sep, tail = url.partition("@")
    return (head.split("://")[0] + "://***@" + tail) if sep else url


def trial_config(run_dir: Path) -> dict[str, Any]:
    """A trial's TrainConfig dict from its run.json, as one process would train it: a torchrun trial's
    `batch_size` there is per process, so it is multiplied back by the world size."""
    meta = json.loads((run_dir / "run.json").read_text())
    config = dict(meta["config"])
    if "distributed" in meta:
        config["batch_size"] = meta["distributed"]["global_batch_size"]
    return config


def collect(study, spec, cfg, out: Path, retrained: dict[str, Any] | None) -> SweepResult:
    rows = [_trial_row(t) for t in study.get_trials(deepcopy=False) if t.user_attrs.get("run_dir") is not None]
    finished = [r for r in rows if r["state"] in ("COMPLETE", "PRUNED")]
    best = None
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    if done:
        b = min(done, key=lambda r: (r["value"], r["number"]))
        config = trial_config(out / b["run_dir"]) if (out / b["run_dir"] / "run.json").exists() else None
        best = {"number": b["number"], "params": b["params"], "value": b["value"], "run_dir": b["run_dir"],
                "config": config}
    imp, note = _importance(study, cfg.seed)
    run_steps = sum(r["steps_run"] or 0 for r in finished)
    full = sum(r["planned_steps"] or r["steps_run"] or 0 for r in finished)
    compute = {"trials_finished": len(finished), "trials_pruned": sum(r["state"] == "PRUNED" for r in finished),
               "steps_run": run_steps, "steps_without_pruning": full,
               "saved_frac": (1 - run_steps / full) if full else 0.0}
    return SweepResult(
        name=spec.name, space=spec.to_dict(), sampler=type(study.sampler).__name__,
        pruner={"type": "MedianPruner", "n_startup_trials": spec.prune_startup_trials,
                "n_warmup_steps": spec.prune_warmup_steps},
        storage=_safe_url(cfg.storage), seed=cfg.seed, n_trials_requested=cfg.trials, trials=tuple(rows),
        best=best, importance=imp, importance_note=note, compute=compute, retrained=retrained,
        nproc_per_node=cfg.nproc_per_node)
