"""`interp sweep SPACE.toml --trials N`: hyperparameter search on Optuna; each trial an ordinary run dir."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, check_out_dir, emit

app = typer.Typer()


@app.command("sweep")
def sweep(
    space: Annotated[Path, typer.Argument(help="SPACE.toml: \\[train] fixed flags, \\[space] searched ones (lists "
                                               "→ a grid; {low, high, log, step} → TPE), optional \\[sweep] "
                                               "settings.")],
    trials: Annotated[int, typer.Option("--trials", help="Trials to finish (by every process sharing the study).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Sweep dir (default sweeps/<space name>): "
                                                                  "trials/, study.db, results.json, figures.",
                                             callback=check_out_dir)] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="Optuna RDB URL shared by several machines (e.g. "
                                                                  "postgresql://user@host/db); default: SQLite in "
                                                                  "the sweep dir.")] = None,
    retrain_best: Annotated[bool, typer.Option("--retrain-best", help="Retrain the best config into "
                                                                      "OUT/best-retrained.")] = False,
    epochs: Annotated[int | None, typer.Option("--epochs", help="With --retrain-best: its max epochs.")] = None,
    nproc_per_node: Annotated[int | None, typer.Option("--nproc-per-node", help="Train each trial with DDP: a "
                                                       "torchrun job of K processes (gloo on cpu, nccl on cuda) "
                                                       "splitting the [train] batch_size (a multiple of K); "
                                                       "default: trials train in this process.")] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Search training hyperparameters: GridSampler for a grid, TPE otherwise, MedianPruner on val loss.

    Resumable (a killed sweep continues without re-running finished trials); start it on several
    machines with one --storage URL to share the study. Each trial is a run dir OUT/trials/trial-NNNN;
    with --nproc-per-node K a torchrun job whose val losses the sweep tails for pruning."""
    from interp.sweep import SweepConfig, load_space, run_sweep

    spec = load_space(space)
    cfg = SweepConfig(trials=trials, storage=storage, seed=seed, device=device, retrain_best=retrain_best,
                      epochs=epochs, nproc_per_node=nproc_per_node)
    out_dir = out if out is not None else Path("sweeps") / spec.name
    result = run_sweep(spec, out_dir, cfg, progress=not as_json)
    b = result.best
    best = (f"best: trial {b['number']} {b['params']} val loss {b['value']:.4f} ({out_dir}/{b['run_dir']})"
            if b else "best: - (no completed trial)")
    c = result.compute
    summary = (f"sweep {result.name}: {c['trials_finished']} trials ({c['trials_pruned']} pruned; "
               f"{c['steps_run']} of {c['steps_without_pruning']} steps run)\n{best}")
    if result.retrained:
        r = result.retrained
        summary += f"\nretrained: {out_dir}/{r['run_dir']} best val loss {r['best_val_loss']:.4f}"
    emit(result, None, as_json, summary + f"\nresults: {out_dir}/results.json")
