"""`interp train`: train the reference GPT (fresh, or `--resume RUN_DIR`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit
from interp.errors import UserError

app = typer.Typer()

_M = "Model (overrides the preset)"
_T = "Training"
_C = "Checkpoints"
_PRESETS = "tiny, small, seed-000, seed-001, seed-002, seed-004, induction"  # interp.presets.PRESETS (kept import-light)


@app.command("train")
def train(
    ctx: typer.Context,
    run_dir: Annotated[Path | None, typer.Argument(help="Where to write the run (default runs/<preset>).")] = None,
    preset: Annotated[str, typer.Option(help=f"Model shape (and, for induction, its training recipe): {_PRESETS}.")] = "small",
    corpus: Annotated[str | None, typer.Option(help="A .txt file or folder of .txt files, or induction[:K] (repeated Shakespeare words; default: embedded Shakespeare).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="bpe (byte-level BPE of --vocab-size tokens) or char (one token per "
                                                "character, nanoGPT shakespeare-char) or word (one token per word). Default: the preset's, else bpe.")] = None,
    init_from: Annotated[str | None, typer.Option(help="Fine-tune: start from this model's weights and tokenizer (a run "
                                                       "dir, HF dir or nanoGPT ckpt.pt/import).")] = None,
    freeze: Annotated[str, typer.Option(help="Comma-separated parameter patterns kept frozen: embeddings, blocks.0, "
                                             "globs like 'blocks.*.attn.*' or HF names.")] = "",
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the interrupted run in this dir.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run dir (not one in use).")] = False,
    n_layers: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    n_heads: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    d_model: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    d_mlp: Annotated[int | None, typer.Option(rich_help_panel=_M)] = None,
    n_ctx: Annotated[int | None, typer.Option(rich_help_panel=_M, help="Context length (>= 2).")] = None,
    vocab_size: Annotated[int | None, typer.Option(rich_help_panel=_M, help="BPE vocabulary size.")] = None,
    dropout: Annotated[float | None, typer.Option(rich_help_panel=_M)] = None,
    epochs: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Max epochs (one epoch = one pass over train tokens). [default: 4]")] = None,
    max_steps: Annotated[int | None, typer.Option(rich_help_panel=_T)] = None,
    train_tokens: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Use only the first N train tokens.")] = None,
    batch_size: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Windows per micro-batch per process. [default: 16]")] = None,
    grad_accum: Annotated[int, typer.Option(rich_help_panel=_T)] = 1,
    lr: Annotated[float | None, typer.Option(rich_help_panel=_T, help="[default: 2e-3]")] = None,
    min_lr_ratio: Annotated[float | None, typer.Option(rich_help_panel=_T, help="[default: 0.1]")] = None,
    warmup_steps: Annotated[int | None, typer.Option(rich_help_panel=_T, help="[default: 100]")] = None,
    weight_decay: Annotated[float | None, typer.Option(rich_help_panel=_T, help="[default: 0.1]")] = None,
    grad_clip: Annotated[float, typer.Option(rich_help_panel=_T)] = 1.0,
    patience: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Early stop after N evals without val improvement. [default: 2]")] = None,
    eval_every: Annotated[int | None, typer.Option(rich_help_panel=_T, help="Extra val evals every N steps (0: epoch ends). [default: 0]")] = None,
    eval_tokens: Annotated[int, typer.Option(rich_help_panel=_T)] = 32_768,
    val_frac: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.05,
    test_frac: Annotated[float, typer.Option(rich_help_panel=_T)] = 0.05,
    compile: Annotated[bool, typer.Option("--compile", rich_help_panel=_T, help="torch.compile the training step.")] = False,
    save_every: Annotated[int, typer.Option(rich_help_panel=_C, help="Resumable checkpoint every N steps (0: off).")] = 0,
    save_at: Annotated[str | None, typer.Option(rich_help_panel=_C, help="Weights-only step checkpoints: 'log' (steps 1, 2, 4, 8, ...), 'log:K' (K per doubling), ranges 'A-B:S' or steps like 1,2,4,100.")] = None,
    resume_every: Annotated[int, typer.Option(rich_help_panel=_C, help="Rolling resumable checkpoint (checkpoints/"
                                              "resume, replaced each time) every N steps: --resume loses < N steps.")] = 0,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train the reference GPT: tokenizer on the train split, AdamW + warmup/cosine, a checkpoint per epoch."""
    from interp.train import TrainConfig
    from interp.train import resume as resume_run
    from interp.train import train as train_run

    if resume is not None and run_dir is not None and Path(run_dir) != resume:
        raise UserError("give the run dir once: either RUN_DIR or --resume RUN_DIR")
    if resume is not None:  # a resumed run keeps its run.json config; a flag that would be ignored is refused
        given = [p.opts[0] for p in ctx.command.params if p.name not in ("run_dir", "resume", "as_json")
                 and getattr(ctx.get_parameter_source(p.name), "name", "") == "COMMANDLINE"]
        if given:
            raise UserError(f"--resume continues the run with its recorded settings; drop {', '.join(given)} "
                            "(to change them, train a new run dir)")
    if resume is not None:
        result = resume_run(resume, progress=not as_json)
    else:
        cfg = TrainConfig.from_flags(
            preset=preset, corpus=corpus, tokenizer=tokenizer, init_from=init_from, freeze=freeze, n_layers=n_layers,
            n_heads=n_heads, d_model=d_model, d_mlp=d_mlp, n_ctx=n_ctx, vocab_size=vocab_size, dropout=dropout,
            epochs=epochs, max_steps=max_steps, train_tokens=train_tokens, batch_size=batch_size,
            grad_accum=grad_accum, lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
            weight_decay=weight_decay, grad_clip=grad_clip, patience=patience, eval_every=eval_every,
            eval_tokens=eval_tokens, save_every=save_every, save_at=save_at, resume_every=resume_every, val_frac=val_frac, test_frac=test_frac,
            compile=compile, device=device, seed=seed)
        result = train_run(cfg, run_dir, force=force, progress=not as_json)
    out = result.run_dir
    best = f"{out}/checkpoints/best" if result.best_val_loss is not None else "-"
    best_loss = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "-"
    summary = (f"trained {result.steps} steps ({result.epochs_completed} epochs, {result.tokens_seen:,} tokens, "
               f"{result.timing.get('tokens_per_s', 0):,.0f} tok/s); best val loss {best_loss}"
               f"{' (early stop)' if result.stopped_early else ''}\n"
               f"checkpoints: {', '.join(f'{out}/{c}' for c in result.checkpoints)}\nbest: {best}")
    if os.environ.get("RANK", "0") == "0":  # under torchrun every rank trains; rank 0 alone reports
        emit(result, None, as_json, summary)
