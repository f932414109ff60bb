"""`interp train`: train the reference GPT (fresh, or `--resume RUN_DIR`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit
from interp.errors import UserError
from interp.presets import PRESETS, get_preset
from interp.results import read_json
from interp.seeding import set_seed

app = typer.Typer()

_M = "Model (overrides the preset)"
_T = "Training"


@app.command()
def train(
    run_dir: Annotated[Path | None, typer.Argument(help="Where to write the run (default runs/<preset>).")] = None,
    preset: Annotated[str, typer.Option(help=f"Model shape: {', '.join(PRESETS)}.")] = "small",
    corpus: Annotated[str | None, typer.Option(help="A .txt file or folder of .txt files (default: embedded Shakespeare).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the interrupted run in this dir.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run dir.")] = False,
    n_layers: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    n_heads: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    d_model: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    d_mlp: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    n_ctx: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    vocab_size: Annotated[int | None, typer.Option(rich_help_panel=_M, help="BPE vocabulary size.")] = None,
    dropout: Annotated[float | None, typer.Option(rich_help_panel=_M)] = None,
    epochs: Annotated[int, typer.Option(rich_help_panel=_T, help="Max epochs (one epoch = one pass over train tokens).")] = 4,
    max_steps: Annotated[int | None, typer.Option(rich_help_panel=_T)] = None,
    train_tokens: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Use only the first N train tokens.")] = None,
    batch_size: Annotated[int, typer.Option(rich_help_panel=_T, help="Windows per micro-batch per process.")] = 16,
    grad_accum: Annotated[int, typer.Option(rich_help_panel=_T)] = 1,
    lr: Annotated[float, typer.Option(rich_help_panel=_T)] = 2e-3,
    min_lr_ratio: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.1,
    warmup_steps: Annotated[int, typer.Option(rich_help_panel=_T)] = 100,
    weight_decay: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.1,
    grad_clip: Annotated[float, typer.Option(rich_help_panel=_T)] = 1.0,
    patience: Annotated[int, typer.Option(rich_help_panel=_T, help="Early stop after N evals without val improvement.")] = 2,
    eval_every: Annotated[int, typer.Option(rich_help_panel=_T, help="Extra val evals every N steps (0: epoch ends).")] = 0,
    eval_tokens: Annotated[int, typer.Option(rich_help_panel=_T)] = 32_768,
    save_every: Annotated[int, typer.Option(rich_help_panel=_T, help="Extra checkpoint every N steps (0: off).")] = 0,
    val_frac: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.05,
    test_frac: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.05,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train the reference GPT: BPE on the train split, AdamW + warmup/cosine, a checkpoint per epoch."""
    from interp.train import TrainConfig
    from interp.train import resume as resume_run
    from interp.train import train as train_run

    set_seed(seed)
    if resume is not None:
        if run_dir is not None and Path(run_dir) != resume:
            raise UserError("give the run dir once: either RUN_DIR or --resume RUN_DIR")
        result = resume_run(resume, progress=not as_json)
        out = resume
    else:
        model = get_preset(preset, n_layers=n_layers, n_heads=n_heads, d_model=d_model, d_mlp=d_mlp, n_ctx=n_ctx,
                           d_vocab=vocab_size, dropout=dropout)
        cfg = TrainConfig(model=model, preset=preset, corpus=corpus, batch_size=batch_size, grad_accum=grad_accum,
                          lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps, weight_decay=weight_decay,
                          grad_clip=grad_clip, max_epochs=epochs, max_steps=max_steps, train_tokens=train_tokens,
                          eval_every=eval_every, eval_tokens=eval_tokens, patience=patience, save_every=save_every,
                          val_frac=val_frac, test_frac=test_frac, seed=seed, device=device)
        out = run_dir or Path("runs") / preset
        result = train_run(cfg, out, force=force, progress=not as_json)
    timing = read_json(Path(out) / "timing.json")
    best = f"{out}/checkpoints/best" if result.best_val_loss is not None else "-"
    summary = (f"trained {result.steps} steps ({result.epochs_completed} epochs, {result.tokens_seen:,} tokens, "
               f"{timing['tokens_per_s']:,.0f} tok/s); best val loss {result.best_val_loss:.4f}"
               f"{' (early stop)' if result.stopped_early else ''}\n"
               f"checkpoints: {', '.join(f'{out}/{c}' for c in result.checkpoints)}\nbest: {best}")
    emit(result, None, as_json, summary)
