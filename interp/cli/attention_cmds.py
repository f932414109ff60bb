"""`interp attention MODEL --prompt TEXT` and `interp attention-evolution RUN_DIR --prompt TEXT`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from interp import attention as attn
from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, echo_err, emit
from interp.figures import save_figure
from interp.seeding import set_seed

app = typer.Typer()

PromptOpt = Annotated[str, typer.Option("--prompt", "-p", help="Prompt text whose attention is shown.")]
MaxTokOpt = Annotated[int | None, typer.Option(
    "--max-tokens", min=1, help="Keep at most this many tokens (the LAST ones; BOS kept). Default: n_ctx.")]


def _warn_truncated(d: dict) -> None:
    if d["truncated"]:
        echo_err(
            f"warning: prompt has {d['n_prompt_tokens']} tokens, more than the limit; kept the last "
            f"{len(d['tokens'])} (dropped the first {d['n_dropped']})"
        )


def _save(figs: list[tuple[str, object]], out: Path) -> list[Path]:
    paths: list[Path] = []
    with attn.quiet_missing_glyphs():
        for name, fig in figs:
            paths += save_figure(fig, out, name)
    return paths


@app.command("attention")
def attention_cmd(
    model: Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")],
    prompt: PromptOpt,
    layers: Annotated[str | None, typer.Option("--layers", help="Comma list of layers, e.g. '0,2'. Default: all.")] = None,
    heads: Annotated[str | None, typer.Option(
        "--heads", help="Heads of each selected layer, e.g. '0,3', or LAYER.HEAD terms, e.g. '0.1,2.*'. Default: all.")] = None,
    max_tokens: MaxTokOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output dir for results.json + figures.")] = Path("attention"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Attention heatmaps of PROMPT per layer/head (+ head-mean) and the model's next-token prediction."""
    from interp import hooked

    set_seed(seed)
    config = attn.AttentionConfig(**attn.parse_selection(layers, heads), max_tokens=max_tokens)
    attn.check_prompt(prompt)
    bridge = hooked.load(model, device=device)
    result = attn.attention_maps(bridge, prompt, config, model=model, seed=seed)
    d = result.to_dict()
    figs = attn.plot_attention_maps(d)  # build every figure before writing anything
    _warn_truncated(d)
    paths = _save(figs, out)
    sel = " ".join(f"L{layer}:{','.join(map(str, hs))}" for layer, hs in zip(d["layers"], d["heads"], strict=True))
    summary = (f"{model}: {len(d['tokens'])} tokens, heads {sel}; "
               f"next token '{d['next_token']}' p={d['next_token_prob']:.3f}\nfigures: "
               + ", ".join(str(p) for p in paths if p.suffix == ".png"))
    emit(d, out, as_json, summary)


@app.command("attention-evolution")
def attention_evolution_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Training run dir with checkpoints/epoch-NNN/.")],
    prompt: PromptOpt,
    heads: Annotated[str | None, typer.Option(
        "--heads", help="LAYER.HEAD terms to plot, e.g. '0.1,1.3', '1.*' or '*.0'. Default: head-mean per layer.")] = None,
    induction_len: Annotated[int, typer.Option(
        "--induction-len", min=1, help="Length S of the random sequence repeated twice for the induction score.")] = 32,
    induction_batch: Annotated[int, typer.Option(
        "--induction-batch", min=1, help="Random repeated sequences averaged per checkpoint.")] = 4,
    max_tokens: MaxTokOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output dir. Default: RUN_DIR/attention-evolution.")] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Attention of PROMPT at every epoch checkpoint of RUN_DIR: pattern grid + head scores over training."""
    from tqdm import tqdm

    set_seed(seed)
    config = attn.EvolutionConfig(heads=heads, max_tokens=max_tokens, induction_len=induction_len,
                                  induction_batch=induction_batch, seed=seed)
    attn.check_prompt(prompt)
    ckpts = attn.run_checkpoints(run_dir)  # validates RUN_DIR before any loading
    out = out if out is not None else Path(run_dir) / "attention-evolution"
    it = tqdm(attn.iter_run_checkpoints(run_dir, device=device), total=len(ckpts), desc="checkpoints",
              unit="ckpt", file=sys.stderr, disable=None)
    result = attn.attention_evolution(it, prompt, config, run_dir=str(run_dir))
    d = result.to_dict()
    figs = [("attention_evolution_grid", attn.plot_attention_evolution_grid(d)),
            ("attention_evolution_scores", attn.plot_attention_evolution_metrics(d))]
    _warn_truncated(d)
    paths = _save(figs, out)
    last = d["checkpoints"][-1]
    js = [c["js_distance"] for c in d["checkpoints"] if c["js_distance"] is not None]
    js_txt = ""
    if js:
        means = [sum(sum(r) for r in m) / (d["n_layers"] * d["n_heads"]) for m in js]
        js_txt = "\nmean JS distance to previous epoch: " + " ".join(f"{v:.3f}" for v in means)
    summary = (f"{run_dir}: {len(d['epochs'])} checkpoints (epochs {d['epochs'][0]}..{d['epochs'][-1]}), "
               f"{len(d['tokens'])} prompt tokens; last epoch predicts '{last['next_token']}' "
               f"p={last['next_token_prob']:.3f}{js_txt}\nfigures: "
               + ", ".join(str(p) for p in paths if p.suffix == ".png"))
    emit(d, out, as_json, summary)
