"""`interp attention MODEL`, `interp attention-evolution SERIES...` and `interp head-formation SERIES...`.

The commands parse flags, call one public function each (`interp.attention.attention`,
`interp.attention.attention_evolution`, `interp.attention.head_formation`) and write results.json + figures
(`FrozenResult.save`). SERIES is anything `interp.series.as_series` takes: a run dir, a folder of HF Trainer
`checkpoint-N/` or model dirs, several model dirs, `org/name@step0,step1000` / `@log` / `@every:N`, or
nanoGPT `ckpt*.pt` files. Under torchrun only rank 0 writes and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.common import (
    DeviceOpt,
    JsonOpt,
    ModelArg,
    OptionalOutOpt,
    SeedOpt,
    check_out_dir,
    echo_err,
    emit,
)
from interp.errors import UserError

app = typer.Typer()

PromptOpt = Annotated[str, typer.Option("--prompt", "-p", help="Prompt text whose attention is shown.")]
MaxTokOpt = Annotated[int | None, typer.Option(
    "--max-tokens", min=1, help="Keep at most this many tokens (the LAST ones; BOS kept). Default: n_ctx.")]
SeriesArg = Annotated[list[str], typer.Argument(
    help="Run dir | folder of checkpoint-N/ or model dirs | several model dirs | org/name@step0,step1000 "
         "(or @log, @every:N) | nanoGPT ckpt*.pt file or folder.")]
XOpt = Annotated[str | None, typer.Option(
    "--x", help="x axis: step | tokens | epoch | checkpoint. Default: tokens when every checkpoint knows them.")]
TokenizerOpt = Annotated[str | None, typer.Option(
    "--tokenizer", help="Tokenizer dir for checkpoints without tokenizer files (HF Trainer, nanoGPT GPT-2 BPE).")]
MetaOpt = Annotated[str | None, typer.Option("--meta", help="nanoGPT char-level meta.pkl (for .pt series).")]
IndLenOpt = Annotated[int, typer.Option(
    "--induction-len", min=1, help="Length S of the random sequence repeated twice for induction/duplicate scores.")]
IndBatchOpt = Annotated[int, typer.Option("--induction-batch", min=1, help="Random repeated sequences averaged per checkpoint.")]


def _warn_truncated(d: dict) -> None:
    if d.get("truncated"):
        echo_err(
            f"warning: prompt has {d['n_prompt_tokens']} tokens, more than the limit; kept the last "
            f"{len(d['tokens'])} (dropped the first {d['n_dropped']})"
        )


def _save(result: Any, out: Path, as_json: bool, summary: str) -> None:
    from interp.attention import quiet_missing_glyphs

    with quiet_missing_glyphs():
        paths = result.save(out)  # figures built before anything is written
    pngs = ", ".join(str(p) for p in paths if p.suffix == ".png")
    emit(result.to_dict(), None, as_json, summary + (f"\nfigures: {pngs}" if pngs else ""))
    if not as_json:
        typer.echo(f"results: {out / 'results.json'}")


def _default_out(series: list[str], name: str) -> Path:
    first = Path(series[0]).expanduser()
    return first / name if len(series) == 1 and first.is_dir() else Path(name)


def _fmt_x(v: Any) -> str:
    return "?" if v is None else f"{v:,.0f}" if isinstance(v, (int, float)) and float(v).is_integer() else f"{v:g}"


@app.command("attention")
def attention_cmd(
    model: ModelArg,
    prompt: PromptOpt,
    layers: Annotated[str | None, typer.Option("--layers", help="Comma list of layers, e.g. '0,2'. Default: all.")] = None,
    heads: Annotated[str | None, typer.Option(
        "--heads", help="Heads of each selected layer, e.g. '0,3', or LAYER.HEAD terms, e.g. '0.1,2.*'. Default: all.")] = None,
    max_tokens: MaxTokOpt = None,
    out: OptionalOutOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Attention heatmaps of PROMPT per layer/head (+ head-mean) and the model's next-token prediction."""
    from interp.attention import attention
    from interp.seeding import set_seed

    set_seed(seed)
    result = attention(model, prompt, layers=layers, heads=heads, max_tokens=max_tokens, device=device, seed=seed)
    d = result.to_dict()
    _warn_truncated(d)
    sel = " ".join(f"L{layer}:{','.join(map(str, hs))}" for layer, hs in zip(d["layers"], d["heads"], strict=True))
    _save(result, out if out is not None else Path("attention"), as_json,
          f"{model}: {len(d['tokens'])} tokens, heads {sel}; next token '{d['next_token']}' p={d['next_token_prob']:.3f}")


@app.command("attention-evolution")
def attention_evolution_cmd(
    series: SeriesArg,
    prompt: PromptOpt,
    heads: Annotated[str | None, typer.Option(
        "--heads", help="LAYER.HEAD terms to plot, e.g. '0.1,1.3', '1.*' or '*.0'. Default: head-mean per layer.")] = None,
    x: XOpt = None,
    induction_len: IndLenOpt = 32,
    induction_batch: IndBatchOpt = 4,
    max_tokens: MaxTokOpt = None,
    tokenizer: TokenizerOpt = None,
    meta: MetaOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output dir. Default: SERIES/attention-evolution for one local dir, else ./attention-evolution.", callback=check_out_dir)] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse (exit 2) a series in which differently named checkpoints hold identical weights "
        "(content hash of the safetensors tensors); default: a warning in the results and the report.")] = False,
) -> None:
    """Attention of PROMPT at every checkpoint of SERIES: pattern grid + head scores over training.

    Shards over processes with `torchrun --nproc_per_node=N -m interp.cli attention-evolution ...`."""
    from interp.attention import attention_evolution, is_main_process
    from interp.seeding import set_seed

    set_seed(seed)
    out = out if out is not None else _default_out(series, "attention-evolution")
    result = attention_evolution(series if len(series) > 1 else series[0], prompt, heads=heads, x=x,
                                 induction_len=induction_len, induction_batch=induction_batch, max_tokens=max_tokens,
                                 tokenizer=tokenizer, meta=meta, device=device, seed=seed, strict=strict)
    if not is_main_process():
        return
    d = result.to_dict()
    _warn_truncated(d)
    for w in d.get("warnings") or ():
        print(f"warning: {w}", file=sys.stderr)
    js = [c["js_distance"] for c in d["checkpoints"] if c["js_distance"] is not None]
    js_txt = ""
    if js:
        means = [sum(sum(r) for r in m) / (d["n_layers"] * d["n_heads"]) for m in js]
        js_txt = "\nmean JS distance to previous checkpoint: " + " ".join(f"{v:.3f}" for v in means)
    last = d["checkpoints"][-1]
    _save(result, out, as_json,
          f"{d['run_dir']}: {len(d['labels'])} checkpoints ({d['labels'][0]} .. {d['labels'][-1]}, x = {d['x']} "
          f"{_fmt_x(d['x_values'][0])}..{_fmt_x(d['x_values'][-1])}), {len(d['tokens'])} prompt tokens; "
          f"last predicts '{last['next_token']}' p={last['next_token_prob']:.3f}{js_txt}")


@app.command("head-formation")
def head_formation_cmd(
    series: SeriesArg,
    prompt: Annotated[str | None, typer.Option(
        "--prompt", "-p", help="Prompt for the previous-token and sink scores. Default: a built-in sentence.")] = None,
    thresholds: Annotated[str | None, typer.Option(
        "--thresholds", help="TYPE=VALUE overrides, e.g. 'prev_token=0.5,induction=0.4' "
                             "(types: prev_token, induction, duplicate_token, sink).")] = None,
    x: XOpt = None,
    induction_len: IndLenOpt = 32,
    induction_batch: IndBatchOpt = 4,
    max_tokens: MaxTokOpt = None,
    tokenizer: TokenizerOpt = None,
    meta: MetaOpt = None,
    induction_sampling: Annotated[str, typer.Option(
        "--induction-sampling", help="Tokens of the induction sequences: frequent (the most frequent tokens of the "
        "run's train split or --sample-text: tokens the model has seen), vocab (uniform over the vocabulary), or "
        "auto (frequent when a train text is known).")] = "auto",
    sample_text: Annotated[Path | None, typer.Option(
        "--sample-text", help="A text the models were trained on, for --induction-sampling frequent (default for "
        "an interp run: its train split).")] = None,
    icl_text: Annotated[Path | None, typer.Option(
        "--icl-text", help="Held-out text for the in-context-learning score (default for an interp run: its val "
        "split; none otherwise).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output dir. Default: SERIES/head-formation for one local dir, else ./head-formation.", callback=check_out_dir)] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """When heads form over SERIES: per-head previous-token, induction, duplicate-token and sink scores, the first
    checkpoint where each crosses its threshold and stays above it, and the loss curve beside them."""
    from interp.attention import DEFAULT_PROMPT, head_formation, is_main_process, parse_thresholds
    from interp.seeding import set_seed

    set_seed(seed)
    parse_thresholds(thresholds)  # syntax first, before any model is loaded
    if induction_sampling not in ("auto", "vocab", "frequent"):
        raise UserError(f"--induction-sampling must be auto, vocab or frequent; got {induction_sampling!r}")
    texts = {}
    for key, path in (("sample", sample_text), ("icl", icl_text)):
        if path is not None:
            from interp.data import read_text_file

            if not path.is_file():
                raise UserError(f"--{'sample' if key == 'sample' else 'icl'}-text {path} is not a file")
            texts |= {key: read_text_file(path), f"{key}_source": str(path)}
    out = out if out is not None else _default_out(series, "head-formation")
    result = head_formation(series if len(series) > 1 else series[0], prompt or DEFAULT_PROMPT, thresholds=thresholds,
                            x=x, induction_len=induction_len, induction_batch=induction_batch, max_tokens=max_tokens,
                            tokenizer=tokenizer, meta=meta, device=device, seed=seed,
                            induction_sampling=induction_sampling, texts=texts)
    if not is_main_process():
        return
    d = result.to_dict()
    lines = []
    for s in d["summary"]:
        f = s["first"]
        first = (f"first {f['head_name']} at {f['label']} ({d['x']} {_fmt_x(f['x'])})" if f else "none formed")
        best = s["best_final"]
        lines.append(f"  {s['type']:<16} ≥ {s['threshold']:<4g} {s['n_formed']:>3}/{s['n_heads_total']} formed; {first}; "
                     f"best final {best['head_name']} {best['score']:.3f}" if best else f"  {s['type']}: no scores")
    marks = [f"{k} at {m['label']} ({d['x']} {_fmt_x(m['x'])})" for k, m in d.get("markers", {}).items() if m]
    if marks:
        lines.append("  changes: " + "; ".join(marks))
    last_icl = (d.get("icl") or [None])[-1]
    if last_icl:
        lines.append(f"  ICL score (late − early loss, {d['icl_source']}): {last_icl['score']:+.3f} nats "
                     f"[{last_icl['low']:+.3f}, {last_icl['high']:+.3f}] at {d['labels'][-1]}")
    lines.append(f"  induction tokens: {d.get('induction_sampling')}")
    _save(result, out, as_json, f"{d['source']}: {len(d['labels'])} checkpoints\n" + "\n".join(lines))
