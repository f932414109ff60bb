"""`interp lens MODEL --prompt TEXT [--answer WORD] [--tuned --train-text FILE]` and
`interp lens-series SERIES --prompt TEXT --answer WORD`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OutOpt, SeedOpt, emit

app = typer.Typer()


@app.command("lens")
def lens_cmd(
    model: ModelArg,
    prompt: Annotated[str, typer.Option("--prompt", help="The prompt to read layer by layer.")],
    answer: Annotated[str | None, typer.Option("--answer", help="One-token answer word (leading space included).")] = None,
    tuned: Annotated[bool, typer.Option("--tuned", help="Also train (or reuse) a tuned lens.")] = False,
    train_text: Annotated[Path | None, typer.Option("--train-text", help="Text the tuned lens is trained on "
                                                                          "(its last 10% held out).")] = None,
    train_tokens: Annotated[int, typer.Option("--train-tokens", help="Tokens of tuned-lens training.")] = 100_000,
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain even when tuned_lens.safetensors exists.")] = False,
    out: OutOpt = Path("lens"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Logit lens (and tuned lens): per layer × position the top token, the answer's probability and rank, KL."""
    from interp.lens.api import lens
    from interp.seeding import set_seed

    set_seed(seed)
    res = lens(model, prompt=prompt, answer=answer, tuned=tuned, train_text=train_text, train_tokens=train_tokens,
               retrain=retrain, seed=seed, device=device)
    d = res.to_dict()
    res.save(out)
    lines = [f"{d['model']}: {d['n_layers']} layers, {len(d['tokens'])} tokens; answer {d['answer']!r} top-1 from "
             f"layer {d['top1_layer']}"]
    h = d["held_out"]
    if h:
        lines.append("  held-out KL per layer, logit → tuned: " + ", ".join(
            f"{a:.3f}→{t:.3f}" for a, t in zip(h["logit_kl"], h["tuned_kl"], strict=True)))
    emit(d, None, as_json, "\n".join(lines) + f"\nresults: {out / 'results.json'}")


@app.command("lens-series")
def lens_series_cmd(
    series: Annotated[list[str], typer.Argument(help="A run dir, HF Trainer folder, checkpoint dirs, nanoGPT files.")],
    prompt: Annotated[str, typer.Option("--prompt", help="The prompt.")],
    answer: Annotated[str, typer.Option("--answer", help="One-token answer word.")],
    out: OutOpt = Path("lens-series"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Per checkpoint: the first layer whose logit lens puts the answer top-1 at the last position."""
    from interp.lens.series import lens_series

    res = lens_series(series if len(series) > 1 else series[0], prompt=prompt, answer=answer, seed=seed, device=device)
    d = res.to_dict()
    res.save(out)
    emit(d, None, as_json, f"top-1 layer per checkpoint: {d['top1_layer']}\nresults: {out / 'results.json'}")
