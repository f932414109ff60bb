"""Sweep trials as torchrun jobs (`interp sweep SPACE.toml --trials N --nproc-per-node K`).

    sweep process (holds the Optuna trial)          child: its own session, tied to the sweep
    ───────────────────────────────────────         ─────────────────────────────────────────────────────────
    start ────────────────────────────────────────► python -m interp.train.dist SWEEP_PID  (prctl, then exec:)
                                                    python -m torch.distributed.run --nproc-per-node K
                                                      --standalone -m interp train RUN_DIR <trial flags>
                                                      --batch-size B/K --force --json      (gloo on CPU)
    tail RUN_DIR/metrics.jsonl ◄─────────────────── rank 0 appends one record per eval (step, epoch, val_loss)
    trial.report(val_loss, step); should_prune()
      → SIGTERM torchrun's process group (it stops its workers), SIGKILL after a grace period

The [train] batch size is the global one: each of the K processes takes B/K windows of every batch, so a
trial trains on the same batches as in one process (DDP averages the gradients) and its val losses equal the
in-process trial's up to float error. No orphans: torchrun dies with the sweep (SIGTERM on its death, also
after kill -9) and its workers die with torchrun (`interp.train.dist`). The child's output goes to
OUT/logs/trial-NNNN.log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interp.errors import UserError

POLL_S = 0.05  # how often the sweep reads the trial's metrics.jsonl
GRACE_S = 10.0  # SIGTERM → SIGKILL


def per_rank_batch(batch_size: int, nproc: int, where: str = "") -> int:
    """The per-process batch of a global `batch_size` split over `nproc` processes (must divide evenly)."""
    if batch_size % nproc:
        raise UserError(f"batch_size {batch_size}{where} is not divisible by --nproc-per-node {nproc}; each "
                        "process takes batch_size / nproc windows of every batch — pick a multiple")
    return batch_size // nproc


def train_argv(flags: dict[str, Any]) -> list[str]:
    """`interp train` options for TrainConfig.from_flags keywords: n_layers=2 → --n-layers 2 (None: left out)."""
    argv: list[str] = []
    for name, v in flags.items():
        opt = "--" + name.replace("_", "-")
        if v is None or v is False:
            continue
        if v is True:
            argv.append(opt)  # the only boolean flag: --compile
        else:
            argv += [opt, repr(v) if isinstance(v, float) else str(v)]  # repr: a float round-trips exactly
    return argv


def trial_command(flags: dict[str, Any], run_dir: Path, nproc: int) -> list[str]:
    """The child's argv: tied launcher → torchrun → `interp train RUN_DIR ...` with the per-process batch."""
    py = sys.executable
    return [py, "-m", "interp.train.dist", str(os.getpid()),
            py, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--standalone",
            "-m", "interp", "train", str(run_dir), *train_argv(flags), "--force", "--json"]


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start the child in its own session (a process group the sweep can signal without signalling itself)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(proc: subprocess.Popen, grace: float = GRACE_S) -> bool:
    """SIGTERM the child's process group (torchrun stops its workers), SIGKILL it after `grace` seconds.
    True when it was still running (so it was stopped)."""
    if proc.poll() is not None:
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    return True


def follow(proc: subprocess.Popen, metrics: Path, on_eval: Callable[[dict[str, Any]], None],
           poll: float = POLL_S) -> int:
    """Feed every eval record rank 0 appends to `metrics` to `on_eval` (in order) until the child exits;
    its exit code. Records are read after the child exits too, so the outcome never depends on timing."""
    pos, buf = 0, b""
    while True:
        rc = proc.poll()
        if metrics.exists():
            with open(metrics, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos, buf = pos + len(chunk), buf + chunk
            *lines, buf = buf.split(b"\n")  # a line still being written stays in buf
            for line in lines:
                rec = json.loads(line) if line.strip() else {}
                if "val_loss" in rec:
                    on_eval(rec)
        if rc is not None:
            return rc
        time.sleep(poll)


def _error_line(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errs = [ln for ln in lines if ln.startswith("error: ")]
    return errs[-1][len("error: "):] if errs else (lines[-1][:300] if lines else "no output")


def run_trial(flags: dict[str, Any], run_dir: Path, nproc: int, log: Path,
              on_eval: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train `flags` (TrainConfig.from_flags keywords, batch_size already per process) into `run_dir` with
    torchrun; `on_eval` sees each eval record and may raise (a pruned trial: the child is stopped first).
    Returns the child's results.json. A child that fails: UserError with its error line and the log path."""
    import shutil

    if run_dir.exists():  # a stale attempt's metrics must not be read as this one's
        shutil.rmtree(run_dir)
    proc = start(trial_command(flags, run_dir, nproc), log)
    try:
        rc = follow(proc, run_dir / "metrics.jsonl", on_eval or (lambda rec: None))
    finally:
        if stop(proc):  # pruned, or the sweep is being interrupted: say so below torchrun's shutdown traceback
            with open(log, "a", encoding="utf-8") as f:
                f.write("interp sweep: stopped this torchrun job (trial pruned or sweep interrupted)\n")
    if rc != 0:
        raise UserError(f"torchrun trial exited with code {rc}: {_error_line(log)} (log: {log})")
    return json.loads((run_dir / "results.json").read_text())


def last_logged_step(run_dir: Path) -> int | None:
    """The last step rank 0 logged (a pruned torchrun trial may have trained a little past its pruned eval)."""
    path = run_dir / "metrics.jsonl"
    steps = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            steps.append(int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):  # a line cut by the kill
            continue
    return max(steps) if steps else None
