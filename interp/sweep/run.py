"""`run_sweep(spec, out_dir, config)`: a hyperparameter search on Optuna; each trial an ordinary run dir.

    SPACE.toml ─► Optuna study (GridSampler for a grid, TPE otherwise; MedianPruner on the val losses logged
    at eval steps) in an RDB: OUT/study.db (SQLite, default) or --storage URL (several machines share it)
    ─► trial N = `interp train` of [train] + sampled [space] into OUT/trials/trial-NNNN/ ─► OUT/results.json

Resumable and shareable. A grid is enqueued once by the process that creates the study; each process pops
WAITING trials (Optuna's atomic RUNNING claim), so two processes never train the same point. Trials send a
heartbeat: a trial whose process was killed (-9) goes stale, is marked FAIL and re-enqueued with the same
parameters (`RetryHeartbeatStaleTrialCallback`); finished trials are never re-run.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.sweep.result import SweepResult, collect, trial_config
from interp.sweep.space import SweepSpec
from interp.sweep.torchrun import per_rank_batch, run_trial

HEARTBEAT_S, GRACE_S = 2, 10


@dataclass(frozen=True)
class SweepConfig:
    """How to run a sweep (the space is `SweepSpec`)."""

    trials: int
    storage: str | None = None  # None: sqlite:///OUT/study.db
    seed: int = 0
    device: str = "cpu"
    retrain_best: bool = False
    epochs: int | None = None  # --retrain-best: max epochs of the retrain
    nproc_per_node: int | None = None  # None: trials train in this process; K: each a torchrun job of K processes

    def __post_init__(self) -> None:
        if not isinstance(self.trials, int) or isinstance(self.trials, bool) or self.trials <= 0:
            raise UserError(f"--trials must be a positive integer, got {self.trials!r}")
        k = self.nproc_per_node
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
            raise UserError(f"--nproc-per-node must be an integer >= 1, got {k!r}")
        if k is not None and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise UserError(f"--nproc-per-node trains with torch.distributed (gloo on cpu, nccl on cuda); "
                            f"device {self.device!r} is neither")
        if self.epochs is not None and self.epochs <= 0:
            raise UserError(f"--epochs must be a positive integer, got {self.epochs}")
        if self.epochs is not None and not self.retrain_best:
            raise UserError("--epochs sets the retrain's length; pass it with --retrain-best")


class _NoWork(Exception):
    """A grid worker found no enqueued point left (another process took the last one)."""


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; UserError (nothing written) when it cannot be reached."""
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    class Storage(optuna.storages.RDBStorage):
        def record_heartbeat(self, trial_id: int) -> None:
            """Retry a heartbeat a busy SQLite refused (optuna's heartbeat thread dies on the first error)."""
            for _ in range(40):
                try:
                    return super().record_heartbeat(trial_id)
                except Exception:  # sqlalchemy OperationalError: database is locked
                    time.sleep(0.1)

    kw: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(40):
        try:
            return Storage(
                url, engine_kwargs=kw, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))
        except Exception as e:  # sqlalchemy/driver errors: unreachable host, missing driver, bad URL
            racing = any(w in str(e) for w in ("locked", "already exists", "UNIQUE constraint"))
            if racing and attempt < 39:  # another process is creating the same schema right now
                time.sleep(0.25)
                continue
            msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise UserError(f"cannot open the sweep storage {url!r}: {msg}") from None
    raise AssertionError("unreachable")


def _study(storage, spec: SweepSpec, cfg: SweepConfig):
    import optuna

    sampler = optuna.samplers.GridSampler({n: p["values"] for n, p in spec.space.items()}, seed=cfg.seed) \
        if spec.is_grid else optuna.samplers.TPESampler(seed=cfg.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup_trials,
                                         n_warmup_steps=spec.prune_warmup_steps)
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, sampler=sampler, pruner=pruner,
                                    direction="minimize")
        study.set_user_attr("spec", spec.to_dict())
        if spec.is_grid:
            for point in spec.grid(cfg.seed):
                study.enqueue_trial(point)
        study.set_user_attr("ready", True)
        return study
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler, pruner=pruner)
    for _ in range(120):  # another process is creating it: wait until its grid is enqueued
        if study.user_attrs.get("ready"):
            break
        time.sleep(0.5)
    else:
        raise UserError(f"study {spec.name!r} in the storage was never finished by the process that created it; "
                        "delete it (or the sweep dir's study.db) and start again")
    if study.user_attrs.get("spec") != spec.to_dict():
        raise UserError(f"study {spec.name!r} in the storage has a different search space or [train] settings; "
                        "give the sweep another [sweep] name or --out dir")
    return study


def _suggest(trial, name: str, p: dict[str, Any]) -> Any:
    if "values" in p:
        return trial.suggest_categorical(name, p["values"])
    if p["int"]:
        return trial.suggest_int(name, p["low"], p["high"], step=p["step"] or 1, log=p["log"])
    return trial.suggest_float(name, p["low"], p["high"], step=p["step"], log=p["log"])


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def _objective(spec: SweepSpec, cfg: SweepConfig, out: Path, progress: bool):
    import optuna

    from interp.train import TrainConfig, train
    from interp.train.hooks import Hooks

    def objective(trial) -> float:
        if spec.is_grid and "fixed_params" not in trial.study._storage.get_trial_system_attrs(trial._trial_id):
            raise _NoWork
        params = {n: _suggest(trial, n, p) for n, p in spec.space.items()}
        run_dir = out / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir.relative_to(out)))
        try:
            tc = TrainConfig.from_flags(**{**spec.base, **params, "seed": cfg.seed, "device": cfg.device})
        except UserError as e:  # an impossible combination (e.g. n_heads not dividing d_model): this trial fails
            trial.set_user_attr("error", str(e))
            raise
        _say(progress, f"trial {trial.number}: {params}")

        def on_eval(rec: dict[str, Any]) -> None:
            if "planned_steps" not in trial.user_attrs:
                per_epoch = round(rec["step"] / rec["epoch"])
                full = per_epoch * tc.max_epochs
                trial.set_user_attr("planned_steps", min(full, tc.max_steps) if tc.max_steps else full)
            trial.set_user_attr("steps_run", rec["step"])
            trial.report(rec["val_loss"], rec["step"])
            if trial.should_prune():
                _say(progress, f"trial {trial.number}: pruned at step {rec['step']} (val {rec['val_loss']:.4f})")
                raise optuna.TrialPruned(f"pruned at step {rec['step']}")

        try:
            if cfg.nproc_per_node is None:
                res = train(tc, run_dir, force=True, progress=False, _hooks=Hooks(on_eval=on_eval)).to_dict()
            else:
                flags = {**spec.base, **params, "seed": cfg.seed, "device": cfg.device,
                         "batch_size": per_rank_batch(tc.batch_size, cfg.nproc_per_node)}
                res = run_trial(flags, run_dir, cfg.nproc_per_node, out / "logs" / f"{run_dir.name}.log", on_eval)
        except optuna.TrialPruned:
            _mark_pruned(trial, run_dir)
            raise
        except UserError as e:  # diverged, a batch_size range value not divisible by K, a failed torchrun job
            trial.set_user_attr("error", str(e))
            raise
        trial.set_user_attr("steps_run", res["steps"])
        best = res["best_val_loss"]
        _say(progress, f"trial {trial.number}: best val {best:.4f} after {res['steps']} steps")
        return float(best) if best is not None else math.inf

    return objective


def _mark_pruned(trial, run_dir: Path) -> None:
    """RUN_DIR/pruned.json: the eval that pruned the trial (and, for a torchrun trial, the last step it logged
    before it was stopped)."""
    from interp.results import write_json
    from interp.sweep.torchrun import last_logged_step

    if run_dir.is_dir():
        step = trial.user_attrs.get("steps_run")
        write_json(run_dir / "pruned.json", {
            "pruned": True, "trial": trial.number, "at_step": step,
            "val_loss": trial.study._storage.get_trial(trial._trial_id).intermediate_values.get(step),
            "last_logged_step": last_logged_step(run_dir)})


def _counts(study) -> dict[str, int]:
    from optuna.trial import TrialState

    c = {s: 0 for s in ("done", "running", "waiting")}
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            c["done"] += 1
        elif t.state == TrialState.RUNNING:
            c["running"] += 1
        elif t.state == TrialState.WAITING:
            c["waiting"] += 1
    return c


def _fail_unbeaten(study) -> None:
    """A trial killed between its creation and its first heartbeat stays RUNNING with no heartbeat row, which
    optuna's `fail_stale_trials` never judges stale: fail it (and retry it, as the stale callback does) once it
    started more than GRACE_S ago — a live process records its first heartbeat within HEARTBEAT_S."""
    import datetime

    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    storage = getattr(study._storage, "_backend", study._storage)  # optuna wraps an RDBStorage in a cache
    if not isinstance(storage, RDBStorage):
        return
    now = datetime.datetime.now()
    with _create_scoped_session(storage.scoped_session) as session:
        beaten = {h.trial_id for h in session.query(models.TrialHeartbeatModel).all()}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t._trial_id in beaten or t.datetime_start is None:
            continue
        if (now - t.datetime_start).total_seconds() > GRACE_S:
            try:
                if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    RetryHeartbeatStaleTrialCallback(max_retry=3)(study, storage.get_trial(t._trial_id))
            except (RuntimeError, ValueError):  # another process failed or finished it first
                pass


def _work(study, spec: SweepSpec, cfg: SweepConfig, out: Path, progress: bool) -> None:
    """Claim and run trials until --trials are finished (by any process sharing the study)."""
    import optuna

    objective = _objective(spec, cfg, out, progress)
    while True:
        c = _counts(study)
        if c["done"] >= cfg.trials:
            return
        nothing = (spec.is_grid and not c["waiting"]) or (not spec.is_grid and c["done"] + c["running"] >= cfg.trials)
        if nothing:
            if not c["running"]:
                return  # grid exhausted
            time.sleep(1.0)  # another process's trial, or a killed one whose heartbeat will go stale
            optuna.storages.fail_stale_trials(study)
            _fail_unbeaten(study)
            continue
        try:
            study.optimize(objective, n_trials=1, catch=(_NoWork, UserError), gc_after_trial=False,
                           show_progress_bar=False)
        except ValueError as e:  # "Cannot tell a FAIL trial": another process judged its heartbeat stale
            _say(progress, f"warning: a trial was failed by another process while running ({e}); continuing")


def run_sweep(spec: SweepSpec, out_dir: str | Path, cfg: SweepConfig, progress: bool = True) -> SweepResult:
    """Run (or continue, or join) the sweep; write OUT/results.json; return the result. Validates first."""
    import optuna

    from interp.train import TrainConfig

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"sweep dir {out} is a file; give a directory path")
    first = spec.grid(cfg.seed)[0] if spec.is_grid else {n: p["values"][0] if "values" in p else p["low"]
                                                  for n, p in spec.space.items()}
    tc = TrainConfig.from_flags(**{**spec.base, **first, "seed": cfg.seed, "device": cfg.device})  # bad [train]: exit 2
    if cfg.nproc_per_node is not None:
        _check_nproc(spec, cfg, tc.batch_size)
    from interp.data import load_corpus

    load_corpus(spec.base.get("corpus"))  # a missing/binary corpus fails before any file is written
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = cfg.storage
    if url is not None:
        storage = open_storage(url)  # unreachable → UserError before the sweep dir exists
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
        storage = open_storage(f"sqlite:///{(out / 'study.db').resolve()}")
    study = _study(storage, spec, cfg)
    _work(study, spec, cfg, out, progress)
    retrained = _retrain(study, spec, cfg, out, progress) if cfg.retrain_best else None
    result = collect(study, spec, cfg, out, retrained)
    result.save(out)
    return result


def _check_nproc(spec: SweepSpec, cfg: SweepConfig, batch_size: int) -> None:
    """--nproc-per-node K: the (global) batch of every listed point splits into K equal parts; K GPUs exist."""
    k = cfg.nproc_per_node
    assert k is not None
    if cfg.device.startswith("cuda"):
        import torch

        if k > torch.cuda.device_count():
            raise UserError(f"--nproc-per-node {k} needs {k} CUDA devices; this machine has "
                            f"{torch.cuda.device_count()}")
    sizes = spec.space["batch_size"].get("values", []) if "batch_size" in spec.space else [batch_size]
    for b in sizes:  # a batch_size range is checked per trial (a non-multiple fails that trial)
        per_rank_batch(b, k, " in [space]" if "batch_size" in spec.space else "")


def _retrain(study, spec: SweepSpec, cfg: SweepConfig, out: Path, progress: bool) -> dict[str, Any] | None:
    """Train the best trial's config again for --epochs (no step cap) into OUT/best-retrained."""
    import dataclasses

    from interp.train import TrainConfig, train

    try:
        best = study.best_trial
    except ValueError:
        return None
    run = out / best.user_attrs["run_dir"]
    tc = TrainConfig.from_dict(trial_config(run))
    tc = dataclasses.replace(tc, max_epochs=cfg.epochs or tc.max_epochs, max_steps=None)
    dest = out / "best-retrained"
    k = cfg.nproc_per_node
    flags = {**spec.base, **best.params, "seed": cfg.seed,
             "device": cfg.device, "epochs": tc.max_epochs, "max_steps": None}
    same = k is not None and dataclasses.replace(TrainConfig.from_flags(**flags), device=tc.device) == tc
    _say(progress, f"retraining trial {best.number} for {tc.max_epochs} epochs → {dest}"
         + (f" (torchrun, {k} processes)" if same else ""))
    if same:  # the flags rebuild exactly this config: a torchrun job like the trials
        assert k is not None
        res = run_trial({**flags, "batch_size": per_rank_batch(tc.batch_size, k)}, dest, k,
                        out / "logs" / "best-retrained.log")
    else:
        res = train(tc, dest, force=True, progress=progress).to_dict()
    return {"trial": best.number, "run_dir": "best-retrained", "epochs": tc.max_epochs, "steps": res["steps"],
            "best_val_loss": res["best_val_loss"], "final_val_loss": res["final_val_loss"]}

