"""Public entry points: `train(run_dir, *, preset=..., ...)` (what `interp train` calls) and `resume(run_dir)`.

Order of work in both: validate everything (config, device, run dir, lock, corpus, tokenizer, sizes)
→ only then write. While a process writes a run dir it holds `RUN_DIR/.lock` (`interp.run_lock`), so a
second `--force` or `--resume` on a live run fails with one line naming the holder's pid and deletes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
from pathlib import Path

from interp.errors import UserError
from interp.run_lock import LOCK_NAME, lock_holder, run_lock
from interp.train.config import TrainConfig, TrainResult
from interp.train.dist import Dist, barrier, init_distributed
from interp.train.prepare import prepare_data, run_meta

GB = 1e9
# training defaults when neither the caller nor the preset sets them (the CLI shows these)
TRAIN_DEFAULTS = {"corpus": None, "tokenizer": "bpe", "epochs": 4, "batch_size": 16, "lr": 2e-3, "min_lr_ratio": 0.1,
                  "warmup_steps": 100, "weight_decay": 0.1, "patience": 2, "eval_every": 0, "save_at": "",
                  "max_steps": None}


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


def _finish(trainer, progress: bool, interrupt_after_step: int | None) -> TrainResult:
    """Fit, then write results.json (deterministic) and timing.json (wall clock) on rank 0."""
    from interp.results import write_json

    _storage_note(trainer, progress)
    result = trainer.fit(progress=progress, interrupt_after_step=interrupt_after_step)
    if trainer.dist.main:
        write_json(trainer.run_dir / "timing.json", result.timing)
        write_json(trainer.run_dir / "results.json", result)
    return result


def _lock(run_dir: Path, d: Dist):
    """Rank 0 holds the run lock (other ranks write nothing)."""
    return run_lock(run_dir) if d.main else contextlib.nullcontext()


def train_config(cfg: TrainConfig, run_dir: str | Path, *, force: bool = False, progress: bool = True,
                 interrupt_after_step: int | None = None) -> TrainResult:
    """Train a fresh run of `cfg` into `run_dir` (must be absent or empty unless `force`)."""
    from interp.devices import check_device
    from interp.seeding import set_seed
    from interp.train.loop import Trainer

    run_dir = Path(run_dir)
    cfg = dataclasses.replace(cfg, device=check_device(cfg.device))
    _check_run_dir(run_dir, force)
    dist_ = init_distributed(cfg.device)
    if dist_.main and (pid := lock_holder(run_dir)) is not None:  # fail fast, before minutes of data prep
        raise UserError(f"run dir {run_dir} is in use by process {pid}; wait for it to finish or stop it, then retry")
    if dist_.world > 1 and cfg.device.startswith("cuda"):
        cfg = dataclasses.replace(cfg, device=f"cuda:{dist_.local_rank}")
    set_seed(cfg.seed)
    tok, splits, ids = prepare_data(cfg)  # validates before anything is written
    trainer = Trainer(cfg, run_dir, tok, ids["train"], ids["val"], dist_)
    if dist_.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    with _lock(run_dir, dist_):
        if dist_.main:
            for p in run_dir.iterdir():  # --force: clear the old run, keeping the lock we hold
                if p.name != LOCK_NAME:
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            from interp.results import write_json

            write_json(run_dir / "run.json", run_meta(cfg, splits, ids, tok))
        barrier(dist_)
        return _finish(trainer, progress, interrupt_after_step)


def resume(run_dir: str | Path, *, progress: bool = True, max_epochs: int | None = None,
           interrupt_after_step: int | None = None) -> TrainResult:
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
    cfg = dataclasses.replace(cfg, device=check_device(cfg.device))
    dist_ = init_distributed(cfg.device)
    with _lock(run_dir, dist_):
        if dist_.main:
            remove_partial(run_dir)
        barrier(dist_)
        set_seed(cfg.seed)
        ckpts = resumable_checkpoints(run_dir)
        tok, splits, ids = prepare_data(cfg)
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
        return _finish(trainer, progress, interrupt_after_step)


def train(
    run_dir: str | Path | TrainConfig | None = None,
    legacy_run_dir: str | Path | None = None,
    *,
    preset: str = "small",
    corpus: str | None = None,
    tokenizer: str | None = None,
    resume_run: bool = False,
    force: bool = False,
    n_layers: int | None = None,
    n_heads: int | None = None,
    d_model: int | None = None,
    d_mlp: int | None = None,
    n_ctx: int | None = None,
    vocab_size: int | None = None,
    dropout: float | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    train_tokens: int | None = None,
    batch_size: int | None = None,
    grad_accum: int = 1,
    lr: float | None = None,
    min_lr_ratio: float | None = None,
    warmup_steps: int | None = None,
    weight_decay: float | None = None,
    grad_clip: float = 1.0,
    patience: int | None = None,
    eval_every: int | None = None,
    eval_tokens: int = 32_768,
    save_every: int = 0,
    save_at: str | None = None,
    val_frac: float = 0.05,
    test_frac: float = 0.05,
    compile: bool = False,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
    interrupt_after_step: int | None = None,
) -> TrainResult:
    """Train the reference GPT into `run_dir` (default runs/<preset>) — the function `interp train` calls.

    Keyword names and defaults are the CLI's flags (`--n-layers` → `n_layers`, `--epochs` → `epochs`, ...).
    An option left at None takes the preset's training default (`interp.presets.PRESET_TRAIN_OPTIONS`, e.g.
    `preset="induction"` brings its corpus, word tokenizer, batch, lr and checkpoint steps), else `TRAIN_DEFAULTS`.
    `tokenizer="char"` trains nanoGPT-style one-token-per-character models; `save_at="log"` adds weights-only
    step checkpoints at steps 1, 2, 4, 8, ...; `resume_run=True` continues the run in `run_dir`.
    Returns a `TrainResult` (its `.timing` holds wall-clock numbers, kept out of results.json).

    Also accepts the config form `train(TrainConfig(...), run_dir, force=..., progress=...)`.
    """
    if isinstance(run_dir, TrainConfig):
        if legacy_run_dir is None:
            raise TypeError("train(config, run_dir): run_dir is required")
        return train_config(run_dir, legacy_run_dir, force=force, progress=progress,
                            interrupt_after_step=interrupt_after_step)
    if legacy_run_dir is not None:
        raise TypeError("train() takes one positional argument (run_dir); pass the rest by keyword")
    from interp.presets import get_preset, preset_train_options

    out = Path(run_dir) if run_dir is not None else Path("runs") / preset
    if resume_run:
        return resume(out, progress=progress, interrupt_after_step=interrupt_after_step)
    given = {"corpus": corpus, "tokenizer": tokenizer, "epochs": epochs, "batch_size": batch_size, "lr": lr,
             "min_lr_ratio": min_lr_ratio, "warmup_steps": warmup_steps, "weight_decay": weight_decay,
             "patience": patience, "eval_every": eval_every, "save_at": save_at, "max_steps": max_steps}
    o = {**TRAIN_DEFAULTS, **preset_train_options(preset), **{k: v for k, v in given.items() if v is not None}}
    corpus, tokenizer, epochs, batch_size, lr = o["corpus"], o["tokenizer"], o["epochs"], o["batch_size"], o["lr"]
    min_lr_ratio, warmup_steps, weight_decay, patience = o["min_lr_ratio"], o["warmup_steps"], o["weight_decay"], o["patience"]
    eval_every, save_at, max_steps = o["eval_every"], o["save_at"], o["max_steps"]
    if tokenizer in ("char", "word") and vocab_size is not None:
        raise UserError(f"--vocab-size applies to --tokenizer bpe; a {tokenizer} tokenizer's vocabulary is the train "
                        f"split's {tokenizer}s")
    model = get_preset(preset, n_layers=n_layers, n_heads=n_heads, d_model=d_model, d_mlp=d_mlp, n_ctx=n_ctx,
                       d_vocab=vocab_size, dropout=dropout)
    cfg = TrainConfig(model=model, preset=preset, corpus=corpus, tokenizer=tokenizer, batch_size=batch_size,
                      grad_accum=grad_accum, lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
                      weight_decay=weight_decay, grad_clip=grad_clip, max_epochs=epochs, max_steps=max_steps,
                      train_tokens=train_tokens, eval_every=eval_every, eval_tokens=eval_tokens, patience=patience,
                      save_every=save_every, save_at=save_at, val_frac=val_frac, test_frac=test_frac,
                      compile=compile, seed=seed, device=device)
    return train_config(cfg, out, force=force, progress=progress, interrupt_after_step=interrupt_after_step)
