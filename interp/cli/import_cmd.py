"""`interp import nanogpt CKPT.pt OUT_DIR [--meta meta.pkl | --tokenizer DIR]` — other trainers' checkpoints → HF dirs.

CKPT may be a folder of nanoGPT checkpoints (`ckpt_*.pt`, as forks save): each becomes OUT_DIR/<file stem>/,
with a trainer_state.json giving its step, so OUT_DIR is then a checkpoint series ordered by step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import JsonOpt, SeedOpt, emit
from interp.errors import UserError

app = typer.Typer()


@app.command("nanogpt")
def nanogpt_cmd(
    ckpt: Annotated[Path, typer.Argument(help="nanoGPT ckpt.pt, or a folder of ckpt*.pt files.")],
    out_dir: Annotated[Path, typer.Argument(help="Output HF model dir (a folder of dirs for a folder of checkpoints).")],
    meta: Annotated[Path | None, typer.Option("--meta", help="nanoGPT char-level meta.pkl (data/<dataset>/meta.pkl).")] = None,
    tokenizer: Annotated[Path | None, typer.Option(
        "--tokenizer", help="Tokenizer dir (GPT-2 BPE runs: a dir with GPT-2's tokenizer files).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR if it exists.")] = False,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Convert nanoGPT checkpoint(s) to Hugging Face GPT-2 dirs (safetensors; weights_only=True loading only)."""
    from interp.importers.nanogpt import import_nanogpt, read_checkpoint

    if ckpt.is_dir():
        files = sorted(ckpt.glob("*.pt"))
        if not files:
            raise UserError(f"{ckpt} has no *.pt files; pass a nanoGPT ckpt.pt or a folder of them")
        for f in files:  # validate every file before writing any
            read_checkpoint(f)
        if out_dir.exists() and any(out_dir.iterdir()) and not force:
            raise UserError(f"{out_dir} already exists and is not empty; pass --force or choose another dir")
        results = [import_nanogpt(f, out_dir / f.stem, meta=meta, tokenizer=tokenizer, force=True, seed=seed).to_dict()
                   for f in files]
        emit({"kind": "nanogpt_import_series", "imports": results}, None, as_json,
             f"imported {len(results)} checkpoints into {out_dir}: " + ", ".join(
                 f"{Path(r['out_dir']).name} (iter {r['iter_num']})" for r in results))
        return
    r = import_nanogpt(ckpt, out_dir, meta=meta, tokenizer=tokenizer, force=force, seed=seed).to_dict()
    a = r["model_args"]
    emit(r, None, as_json,
         f"{ckpt} → {out_dir}: GPT-2 {a['n_layer']} layers × {a['n_head']} heads, d_model {a['n_embd']}, "
         f"vocab {a['vocab_size']} (tokenizer {r['tokenizer']}, {r['tokenizer_size']} tokens), n_ctx {a['block_size']}, "
         f"iter {r['iter_num']}, {r['n_params']:,} params")
