"""`interp demo`: the main job (train → analyses → evals → report), resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit
from interp.presets import PRESETS

app = typer.Typer()


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the run, all results and the report.")] = Path("demo"),
    preset: Annotated[str, typer.Option(help=f"Model shape: {', '.join(PRESETS)}.")] = "small",
    epochs: Annotated[int, typer.Option(help="Training epochs (≥ 2; one checkpoint each).")] = 3,
    corpus: Annotated[str | None, typer.Option(help="Corpus .txt file or folder (default: embedded Shakespeare).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo every stage, even those with results.")] = False,
    gemma: Annotated[bool | None, typer.Option(
        "--gemma/--no-gemma", help="Add (or skip) the Gemma-3-270M part: coref probe, trimmed-head classification, "
                                   "ablation sweep and perplexity on the demo's test split. Default: on when the "
                                   "`gemma` extra is installed (see README).", show_default=False)] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train the default model on the embedded Shakespeare corpus, run every analysis and eval, write
    report.html + report.pdf. Stages whose results exist are skipped (resumable) unless --force."""
    from interp.demo import DemoConfig, run_demo

    cfg = DemoConfig(out=out, preset=preset, epochs=epochs, corpus=corpus, seed=seed, force=force, device=device,
                     gemma=gemma)
    record = run_demo(cfg, announce=lambda s: typer.secho(s, fg="cyan", err=True))
    times = "  ".join(f"{s['name']} {s['seconds']:.0f}s" for s in record["stages"] if s["status"] == "ran")
    summary = (f"demo finished in {record['seconds']:.0f}s" + (f" ({times})" if times else "") + "\n"
               f"checkpoints: {out}/run/checkpoints/epoch-*\n"
               f"report: {record['report']['html']}  {record['report']['pdf']}")
    emit(record, out, as_json, summary, name="demo.json")
