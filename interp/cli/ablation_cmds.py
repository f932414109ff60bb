"""`interp ablate MODEL --heads 0.1,1.3` and `interp ablate-sweep MODEL` (= `interp ablate MODEL --all`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.ablation import DEFAULT_PROMPT, METHODS
from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit

app = typer.Typer()

ModelArg = Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")]
MethodOpt = Annotated[str, typer.Option(
    "--method", help="zero: z_h := 0; mean: mean z_h over the eval text; resample: z_h from random other eval positions (seeded).")]
TextOpt = Annotated[Path | None, typer.Option(
    "--text", help="Eval text: .txt, folder of .txt or .jsonl. Default: the run's validation split (required for foreign models).")]
SplitOpt = Annotated[str | None, typer.Option("--split", help="val | test split of the model's training run (default val).")]
MaxTokensOpt = Annotated[int, typer.Option(
    "--max-tokens", min=2, help="Use at most this many eval tokens (non-overlapping windows from the start of the text).")]
ContextOpt = Annotated[int | None, typer.Option(
    "--context", min=2, help="Window length in tokens (default: the model's n_ctx, at most 512).")]
BatchOpt = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="Windows per forward pass (default auto: ≤ 8192 tokens and ≤ 512 MiB of logits).")]
BosOpt = Annotated[bool | None, typer.Option(
    "--prepend-bos/--no-prepend-bos",
    help="Start every window and the prompt with BOS (default: only for tokenizers with a dedicated BOS, e.g. Gemma).")]
MAX_DEFAULT_CONTEXT = 512


def _eval_inputs(model: str, text: Path | None, split: str | None, device: str):
    """Validate + read the eval text, then load the model: (bridge, documents, source)."""
    from evals.text_input import eval_text
    from interp import hooked

    meta = hooked.run_metadata(model)
    ev = eval_text(model, meta, text, split if (split is not None or text is not None) else "val")
    return hooked.load(model, device=device), ev.documents, ev.source


def _windows(bridge, documents, context: int | None, max_tokens: int, prepend_bos: bool | None):
    from interp.ablation import eval_windows, window_bos

    ctx = context if context is not None else min(int(bridge.cfg.n_ctx), MAX_DEFAULT_CONTEXT)
    if ctx > int(bridge.cfg.n_ctx):
        from interp.errors import UserError

        raise UserError(f"--context {ctx} exceeds the model's n_ctx={bridge.cfg.n_ctx}; pass at most {bridge.cfg.n_ctx}")
    return eval_windows(bridge.tokenizer, documents, ctx, max_tokens, window_bos(bridge.tokenizer, prepend_bos))


@app.command("ablate")
def ablate_cmd(
    model: ModelArg,
    heads: Annotated[str | None, typer.Option(
        "--heads", help="Heads to ablate together: LAYER.HEAD comma list, e.g. 0.1,1.3; 1.* (all of layer 1), *.0.")] = None,
    all_heads: Annotated[bool, typer.Option(
        "--all", help="Ablate every head on its own (batched sweep, Δloss heatmap); same as `interp ablate-sweep`.")] = False,
    method: MethodOpt = "zero",
    text: TextOpt = None,
    split: SplitOpt = None,
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Prompt for the clean vs ablated greedy generation.")] = DEFAULT_PROMPT,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n", min=0, help="Generated tokens (0: skip).")] = 40,
    max_tokens: MaxTokensOpt = 20_000,
    context: ContextOpt = None,
    batch_size: BatchOpt = None,
    prepend_bos: BosOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output dir for results.json + figures.")] = Path("ablation"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ablate attention heads (hook on blocks.L.attn.hook_z): clean vs ablated loss/perplexity, per-token Δloss,
    Δ by position in window, and clean vs ablated greedy generation with distinct-1/2."""
    from interp.errors import UserError

    if all_heads:
        if heads is not None:
            raise UserError("pass either --heads or --all, not both")
        return _sweep(model, "*.*", method, text, split, max_tokens, context, batch_size, prepend_bos, out, device,
                      seed, as_json)
    if heads is None:
        raise UserError("no heads to ablate; pass --heads LAYER.HEAD,... (e.g. 0.1,1.3) or --all for a sweep")

    from interp.ablation import AblationConfig, ablate, plot_ablation
    from interp.figures import save_figure
    from interp.heads import HeadSpec
    from interp.seeding import set_seed

    set_seed(seed)
    spec = HeadSpec.parse(heads)
    config = AblationConfig(method=method, seed=seed, batch_size=batch_size, prompt=prompt,
                            max_new_tokens=max_new_tokens, prepend_bos=prepend_bos)
    bridge, documents, source = _eval_inputs(model, text, split, device)
    chosen = spec.resolve_for(bridge)
    windows = _windows(bridge, documents, context, max_tokens, prepend_bos)
    res = ablate(bridge, windows, chosen, config, progress=not as_json)
    data = {"model": model, "source": source, **res.to_dict()}
    fig = plot_ablation(data)
    save_figure(fig, out, "ablation_by_position")
    d = res.delta
    assert d is not None
    lines = [
        f"{model}: ablating {res.heads_spec} ({method}) on {res.n_windows} window(s) × {res.window_len} tokens ({source})",
        f"  loss {res.clean_loss:.4f} → {res.ablated_loss:.4f} (Δ {res.delta_loss:+.4f});  "
        f"perplexity {res.clean_perplexity:.3f} → {res.ablated_perplexity:.3f}",
        f"  per-token Δloss: mean {d.mean:+.4f}  median {d.median:+.4f}  p90 {d.p90:+.4f}  "
        f"hurt {100 * d.frac_hurt:.1f}% of {res.n_tokens_scored:,} tokens",
    ]
    if res.generation is not None:
        g = res.generation
        lines.append(f"  generation {g.prompt!r} ({g.decoding}, {g.max_new_tokens} tokens):")
        for name, c in (("clean", g.clean), ("ablated", g.ablated)):
            lines.append(f"    {name:>7}: {c.text!r}  distinct-1 {c.distinct_1:.2f} distinct-2 {c.distinct_2:.2f}")
    emit(data, out, as_json, "\n".join(lines))


@app.command("ablate-sweep")
def ablate_sweep_cmd(
    model: ModelArg,
    heads: Annotated[str, typer.Option("--heads", help="Heads to sweep (each ablated alone): LAYER.HEAD list, 1.*, *.0.")] = "*.*",
    method: MethodOpt = "zero",
    text: TextOpt = None,
    split: SplitOpt = None,
    max_tokens: MaxTokensOpt = 20_000,
    context: ContextOpt = None,
    batch_size: BatchOpt = None,
    prepend_bos: BosOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output dir for results.json + heatmap.")] = Path("ablation-sweep"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ablate every head ALONE (batched: one expanded forward per layer from the cached residual);
    Δloss heatmap layers × heads."""
    _sweep(model, heads, method, text, split, max_tokens, context, batch_size, prepend_bos, out, device, seed, as_json)


def _sweep(model: str, heads: str, method: str, text: Path | None, split: str | None, max_tokens: int,
           context: int | None, batch_size: int | None, prepend_bos: bool | None, out: Path, device: str, seed: int,
           as_json: bool) -> None:
    from interp.ablation import AblationConfig, plot_sweep, sweep
    from interp.figures import save_figure
    from interp.heads import HeadSpec
    from interp.seeding import set_seed

    set_seed(seed)
    spec = HeadSpec.parse(heads)
    config = AblationConfig(method=method, seed=seed, batch_size=batch_size, max_new_tokens=0)
    bridge, documents, source = _eval_inputs(model, text, split, device)
    chosen = spec.resolve_for(bridge)
    windows = _windows(bridge, documents, context, max_tokens, prepend_bos)
    res = sweep(bridge, windows, config, heads=chosen, progress=not as_json)
    data = {"model": model, "source": source, **res.to_dict()}
    save_figure(plot_sweep(data), out, "ablation_heatmap")
    top = ", ".join(f"{r['head']} {r['delta_loss']:+.4f}" for r in res.ranking[:5])
    lines = [
        f"{model}: {len(chosen)} heads ablated one at a time ({method}) on {res.n_windows} window(s) × "
        f"{res.window_len} tokens ({source}); clean loss {res.clean_loss:.4f}",
        f"  largest Δloss: {top}",
    ]
    for layer, row in enumerate(res.delta_loss):
        lines.append(f"  L{layer}: " + " ".join("   .   " if v is None else f"{v:+.4f}" for v in row))
    emit(data, out, as_json, "\n".join(lines))


__all__ = ["METHODS", "ablate_cmd", "ablate_sweep_cmd"]
