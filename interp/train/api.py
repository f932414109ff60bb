"""Public entry points: `train(config, run_dir)` (what `interp train` calls) and `resume(run_dir)`.

Order of work in both: validate everything (config, device, run dir, lock, corpus, tokenizer, sizes)
→ only then write. While a process writes a run dir it holds `RUN_DIR/.lock` (`interp.run_lock`), so a
second `--force` or `--resume` on a live run fails with one line naming the holder's pid and deletes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.run_lock import LOCK_NAME, lock_holder, run_lock
from interp.train.config import TrainConfig, TrainResult
from interp.train.dist import Dist, barrier, init_distributed
from interp.train.hooks import Hooks
from interp.train.prepare import prepare_data, run_meta

GB = 1e9
# training defaults when neither the caller nor the preset sets them (the CLI shows these)
from interp.train.config import TRAIN_DEFAULTS  # noqa: E402,F401  (old import path)


def _check_run_dir(run_dir: Path, force: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"run dir {run_dir} is a file; give a directory path")
    if run_dir.is_dir() and any(p.name != LOCK_NAME for p in run_dir.iterdir()) and not force:
        raise UserError(f"run dir {run_dir} already exists; pass --resume {run_dir} to continue it or --force to "
                        "overwrite")


def _say(msg: str, progress: bool, d: Dist) -> None:
    if progress and d.main:
        print(msg, file=sys.stderr)


def _storage_note(trainer, progress: bool) -> None:
    """Checkpoint size × count, shown before training when it exceeds 1 GB."""
    total = trainer.planned_bytes()
    if total > GB:
        c = trainer.planned_checkpoints()
        _say(f"checkpoints will take up to {total / GB:.1f} GB: {trainer.n_params:,} params; {c['epoch']} epoch + "
             f"{c['save_every']} --save-every checkpoints with optimizer state ({trainer.n_params * 12 / GB:.2f} GB "
             f"each), {c['save_at']} --save-at + 1 best, weights only ({trainer.n_params * 4 / GB:.2f} GB each)",
             progress, trainer.dist)


def _finish(trainer, progress: bool, hooks: Hooks | None) -> TrainResult:
    """Fit, then write results.json (deterministic) and timing.json (wall clock) on rank 0."""
    from interp.results import write_json

    if trainer.state["step"] < trainer.total_steps:  # what is about to happen, before minutes of silence
        from interp.train.plan import plan_line

        cfg = trainer.cfg
        per_step = cfg.batch_size * cfg.grad_accum * trainer.dist.world * cfg.model.n_ctx
        _say(plan_line(cfg.preset, trainer.n_params, per_step, trainer.total_steps - trainer.state["step"],
                       trainer.run_dir, cfg.device), progress, trainer.dist)
    _storage_note(trainer, progress)
    result = trainer.fit(progress=progress, hooks=hooks)
    if trainer.dist.main:
        write_json(trainer.run_dir / "timing.json", result.timing)
        write_json(trainer.run_dir / "results.json", result)
    return result


@contextlib.contextmanager
def _undo_if_diverged_before_checkpoint(run_dir: Path, created: bool, d: Dist):
    """A fresh run that diverges before its first checkpoint leaves nothing (no run.json to `--resume` from 0)."""
    from interp.train.loop import TrainingDiverged

    try:
        yield
    except TrainingDiverged:
        ck = run_dir / "checkpoints"
        if d.main and not (ck.is_dir() and any(not p.name.startswith(".") for p in ck.iterdir())):
            for p in list(run_dir.iterdir()) if run_dir.is_dir() else []:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            if created:
                run_dir.rmdir()
        raise


def _lock(run_dir: Path, d: Dist):
    """Rank 0 holds the run lock (other ranks write nothing)."""
    return run_lock(run_dir) if d.main else contextlib.nullcontext()


def train_config(cfg: TrainConfig, run_dir: str | Path, *, force: bool = False, progress: bool = True,
                 _hooks: Hooks | None = None) -> TrainResult:
    """Train a fresh run of `cfg` into `run_dir` (must be absent or empty unless `force`)."""
    from interp.devices import check_device
    from interp.seeding import set_seed
    from interp.train.loop import Trainer

    run_dir = Path(run_dir)
    cfg = dataclasses.replace(cfg, device=check_device(cfg.device))
    _check_run_dir(run_dir, force)
    from interp.train.plan import check_memory

    check_memory(cfg.model, cfg.device)  # before any data prep or allocation
    dist_ = init_distributed(cfg.device)
    if dist_.main and (pid := lock_holder(run_dir)) is not None:  # fail fast, before minutes of data prep
        raise UserError(f"run dir {run_dir} is in use by process {pid}; wait for it to finish or stop it, then retry")
    if dist_.world > 1 and cfg.device.startswith("cuda"):
        cfg = dataclasses.replace(cfg, device=f"cuda:{dist_.local_rank}")
    set_seed(cfg.seed)
    parent = tok = None
    if cfg.init_from is not None:
        from interp.train.finetune import load_tokenizer, resolve_parent

        parent = resolve_parent(cfg.init_from)
        tok = load_tokenizer(parent.dir)
    tok, splits, ids = prepare_data(cfg, tokenizer=tok)  # validates before anything is written
    if parent is not None:
        from interp.train.finetune import check_unknown

        check_unknown(tok, ids, cfg.init_from, cfg.corpus)
    trainer = Trainer(cfg, run_dir, tok, ids["train"], ids["val"], dist_)
    if parent is not None:
        trainer.init_from(parent.dir)
    created = not run_dir.exists()
    if dist_.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    with _undo_if_diverged_before_checkpoint(run_dir, created, dist_), _lock(run_dir, dist_):
        if dist_.main:
            for p in run_dir.iterdir():  # --force: clear the old run, keeping the lock we hold
                if p.name != LOCK_NAME:
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            from interp.results import write_json

            meta = run_meta(cfg, splits, ids, tok)
            if parent is not None:
                meta["parent"] = parent.record()
                meta["tokenizer"]["trained_on"] = f"parent {cfg.init_from} (kept)"
            if trainer.frozen:
                meta["frozen_parameters"] = list(trainer.frozen)
            if dist_.world > 1:  # config.batch_size is per process; the optimizer saw world × that per micro-step
                meta["distributed"] = {"world_size": dist_.world, "backend": "nccl" if cfg.device.startswith("cuda")
                                       else "gloo", "global_batch_size": cfg.batch_size * dist_.world}
            write_json(run_dir / "run.json", meta)
        barrier(dist_)
        return _finish(trainer, progress, _hooks)


def resume(run_dir: str | Path, *, progress: bool = True, max_epochs: int | None = None,
           _hooks: Hooks | None = None) -> TrainResult:
    """Continue an interrupted run from its newest complete checkpoint (bit for bit on CPU).

    Removes hidden temp checkpoint dirs a kill left behind, checkpoints newer than the resume point, and
    metrics logged after it (they are re-made identically).
    """
    from interp.checkpoint import (
        load_trainer_state,
        load_weights,
        read_state,
        remove_partial,
        resumable_checkpoints,
    )
    from interp.devices import check_device
    from interp.results import atomic_write_text
    from interp.seeding import set_seed
    from interp.train.loop import Trainer

    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise UserError(f"{run_dir} is not a training run (no run.json); start one with `interp train`")
    try:
        meta = json.loads((run_dir / "run.json").read_text())
        cfg = TrainConfig.from_dict(meta["config"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{run_dir}/run.json is damaged ({type(e).__name__}); cannot resume this run") from None
    if max_epochs is not None:
        cfg = dataclasses.replace(cfg, max_epochs=max_epochs)
    from interp.checkpoint import check_resumable

    check_resumable(run_dir)  # never restart from step 0 over checkpoints whose optimizer state was deleted
    cfg = dataclasses.replace(cfg, device=check_device(cfg.device))
    dist_ = init_distributed(cfg.device)
    with _lock(run_dir, dist_):
        if dist_.main:
            remove_partial(run_dir)
        barrier(dist_)
        set_seed(cfg.seed)
        ckpts = resumable_checkpoints(run_dir)
        tok = None
        if cfg.init_from is not None:  # the kept parent tokenizer (the saved one below, once a checkpoint exists)
            from interp.train.finetune import load_tokenizer

            tok = load_tokenizer(Path(meta["parent"]["dir"]))
        tok, splits, ids = prepare_data(cfg, tokenizer=tok)
        if {k: s.sha256 for k, s in splits.items()} != {k: v["sha256"] for k, v in meta["data"]["splits"].items()}:
            raise UserError(f"the corpus of {run_dir} changed since training started (split hashes differ); "
                            "cannot resume")
        if ckpts:  # the saved tokenizer: identical to a refitted one, but this is the one the weights know
            from transformers import AutoTokenizer

            try:
                tok = AutoTokenizer.from_pretrained(str(ckpts[-1]), local_files_only=True)
            except (OSError, ValueError) as e:
                raise UserError(f"checkpoint {ckpts[-1]} has a damaged tokenizer ({type(e).__name__}); delete that "
                                "directory to resume from the checkpoint before it") from None
        trainer = Trainer(cfg, run_dir, tok, ids["train"], ids["val"], dist_)
        if not ckpts and cfg.init_from is not None:  # a fine-tune killed before its first checkpoint
            trainer.init_from(Path(meta["parent"]["dir"]))
        if ckpts:
            last = ckpts[-1]
            load_weights(last, trainer.model)
            state = load_trainer_state(last, trainer.opt)
            trainer.state = {k: state[k] for k in trainer.state}
        step = trainer.state["step"]
        if dist_.main:
            # drop checkpoints and metrics newer than the resume point (partial/ahead states; re-made identically)
            ck = run_dir / "checkpoints"
            for p in sorted(ck.iterdir()) if ck.is_dir() else []:
                if not p.name.startswith(".") and (p / "trainer_state.json").is_file() and read_state(p)["step"] > step:
                    shutil.rmtree(p)
            mpath = run_dir / "metrics.jsonl"
            if mpath.exists():
                keep = [ln for ln in mpath.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
                atomic_write_text(mpath, "".join(ln + "\n" for ln in keep))
        barrier(dist_)
        return _finish(trainer, progress, _hooks)


def train(config: TrainConfig | str | Path | None = None, run_dir: str | Path | None = None, *,
          force: bool = False, progress: bool = True, resume_run: bool = False, _hooks: Hooks | None = None,
          **flags: Any) -> TrainResult:
    """Train the reference GPT: `train(TrainConfig(...), run_dir)` — the function `interp train` calls.

    `run_dir` defaults to runs/<preset>. The CLI's flags also work, as keywords mapped onto
    `TrainConfig.from_flags` (`--n-layers` → `n_layers`, `--epochs` → `epochs`, `--init-from` → `init_from`):
    `train("runs/x", preset="tiny", epochs=1)`. `resume_run=True` continues the run in `run_dir`.
    Returns a `TrainResult` (its `.timing` holds wall-clock numbers, kept out of results.json).
    `_hooks` is a private seam for tests and `interp sweep` (interrupt after a step, report val losses).
    """
    if not isinstance(config, TrainConfig):  # the flag form: train(run_dir, preset=..., ...)
        if run_dir is not None:
            raise TypeError("train() takes a TrainConfig and a run dir, or one run dir and the flags by keyword")
        valid = [p for p in inspect.signature(TrainConfig.from_flags).parameters if p != "cls"]
        unknown = [k for k in flags if k not in valid]
        if unknown:
            raise TypeError(f"interp.train() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            f"valid keyword arguments: config, run_dir, force, progress, resume_run, "
                            f"{', '.join(valid)}")
        out = Path(config) if config is not None else Path("runs") / flags.get("preset", "small")
        if resume_run:
            return resume(out, progress=progress, _hooks=_hooks)
        return train_config(TrainConfig.from_flags(**flags), out, force=force, progress=progress, _hooks=_hooks)
    if flags:
        raise TypeError(f"train(config, run_dir): the config holds the options; got {', '.join(flags)} too")
    if resume_run:
        raise TypeError("train(config, ...) starts a run; use interp.train.resume(run_dir) to continue one")
    out = Path(run_dir) if run_dir is not None else Path("runs") / config.preset
    return train_config(config, out, force=force, progress=progress, _hooks=_hooks)
