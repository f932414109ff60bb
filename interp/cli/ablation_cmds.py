"""`interp ablate MODEL --heads 0.1,1.3` and `interp ablate-sweep MODEL` (= `interp ablate MODEL --all`).

The commands parse flags, call `interp.ablation.ablate` / `interp.ablation.ablate_sweep` (the public
functions), and write results.json + figures. Library errors name parameters (`max_tokens`); here they
become the flags (--max-tokens).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, SeedOpt, check_out_dir, emit
from interp.errors import UserError

app = typer.Typer()

DEFAULT_PROMPT = "The cat sat on"  # = interp.ablation.DEFAULT_PROMPT (not imported: no torch at import time)
MethodOpt = Annotated[str, typer.Option(
    "--method", help="zero: z_h := 0; mean: mean z_h over the eval text; resample: z_h from random other eval positions (seeded).")]
TextOpt = Annotated[Path | None, typer.Option(
    "--text", help="Eval text: .txt, folder of .txt or .jsonl. Default: the run's validation split (required for foreign models).")]
SplitOpt = Annotated[str | None, typer.Option("--split", help="val | test split of the model's training run (default val).")]
MaxTokensOpt = Annotated[int, typer.Option(
    "--max-tokens", min=2, help="Use at most this many eval tokens (non-overlapping windows from the start of the text).")]
ContextOpt = Annotated[int | None, typer.Option(
    "--context", min=2, help="Window length in tokens, BOS included (default: the model's n_ctx, at most 512).")]
BatchOpt = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="Windows per forward pass (default auto: ≤ 8192 tokens and ≤ 512 MiB of logits).")]


def _flags(e: UserError) -> UserError:
    """A library error naming parameters (`max_tokens`) → the same error naming flags (--max-tokens)."""
    return UserError(re.sub(r"`([a-z_]+)`", lambda m: "--" + m.group(1).replace("_", "-"), str(e)))


def _call(fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except UserError as e:
        raise _flags(e) from None


def _save(res: Any, out: Path, as_json: bool, summary: str) -> None:
    """results.json + the figures of the result kind (`FrozenResult.save`); print JSON or the summary."""
    res.save(out)
    emit(res, None, as_json, summary)
    if not as_json:
        typer.echo(f"results: {out / 'results.json'}")


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
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n", min=0, max=100_000, help="Generated tokens (0: skip).")] = 40,
    max_tokens: MaxTokensOpt = 20_000,
    context: ContextOpt = None,
    batch_size: BatchOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output dir for results.json + figures.",
                                      callback=check_out_dir)] = Path("ablation"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ablate attention heads (hook on blocks.L.attn.hook_z): clean vs ablated loss/perplexity, per-token Δloss,
    Δ by position in window, and clean vs ablated greedy generation with distinct-1/2."""
    if all_heads:
        if heads is not None:
            raise UserError("pass either --heads or --all, not both")
        return _sweep("*.*", model, method, text, split, max_tokens, context, batch_size, out, device, seed, as_json)
    if heads is None:
        raise UserError("no heads to ablate; pass --heads LAYER.HEAD,... (e.g. 0.1,1.3) or --all for a sweep")
    from interp.ablation.ablate import ablate

    res = _call(ablate, model=model, heads=heads, method=method, text=text, split=split, prompt=prompt,
                max_new_tokens=max_new_tokens, max_tokens=max_tokens, context=context, batch_size=batch_size,
                device=device, seed=seed, progress=not as_json)
    d = res.delta
    lines = [
        f"{model}: ablating {res.heads_spec} ({method}) on {res.n_windows} window(s) × {res.window_len} tokens "
        f"({res.source})",
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
    _save(res, out, as_json, "\n".join(lines))


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
    out: Annotated[Path, typer.Option("--out", "-o", help="Output dir for results.json + heatmap.",
                                      callback=check_out_dir)] = Path("ablation-sweep"),
    estimate: Annotated[str | None, typer.Option(
        "--estimate", help="atp: estimate every head's Δloss from gradients (attribution patching, one backward) "
        "instead of ablating each head.")] = None,
    verify_top: Annotated[int, typer.Option(
        "--verify-top", min=0, help="With --estimate: re-measure the K largest estimates exactly.")] = 0,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ablate every head ALONE (batched: one expanded forward per layer from the cached residual);
    Δloss heatmap layers × heads. --estimate atp: first-order estimate of every head at once."""
    if estimate is not None or verify_top:
        return _sweep_estimate(estimate, verify_top, model=model, heads=heads, method=method, text=text,
                              split=split, max_tokens=max_tokens, context=context, batch_size=batch_size,
                              device=device, seed=seed, as_json=as_json, out=out)
    _sweep(heads, model, method, text, split, max_tokens, context, batch_size, out, device, seed, as_json)


def _sweep(heads: str, model: str, method: str, text: Path | None, split: str | None, max_tokens: int,
           context: int | None, batch_size: int | None, out: Path, device: str, seed: int, as_json: bool) -> None:
    from interp.ablation import ablate_sweep

    res = _call(ablate_sweep, model=model, heads=heads, method=method, text=text, split=split, max_tokens=max_tokens,
                context=context, batch_size=batch_size, device=device, seed=seed, progress=not as_json)
    top = ", ".join(f"{r['head']} {r['delta_loss']:+.4f}" for r in res.ranking[:5])
    n_swept = sum(v is not None for row in res.delta_loss for v in row)
    lines = [
        f"{model}: {n_swept} heads ablated one at a time ({method}) on {res.n_windows} window(s) × "
        f"{res.window_len} tokens ({res.source}); clean loss {res.clean_loss:.4f}",
        f"  largest Δloss: {top}",
    ]
    for layer, row in enumerate(res.delta_loss):
        lines.append(f"  L{layer}: " + " ".join("   .   " if v is None else f"{v:+.4f}" for v in row))
    _save(res, out, as_json, "\n".join(lines))



def _sweep_estimate(estimate: str | None, verify_top: int, *, model: str, out: Path, as_json: bool,
                    **kwargs: Any) -> None:
    """`interp ablate-sweep --estimate atp [--verify-top K]`: the AtP estimate (interp.ablation.atp)."""
    from interp.ablation.atp import ablate_sweep_atp

    if estimate != "atp":
        raise UserError(f"unknown --estimate {estimate!r}; the only estimator is atp"
                        if estimate is not None else "--verify-top needs --estimate atp")
    res = _call(ablate_sweep_atp, model=model, verify_top=verify_top, progress=not as_json, **kwargs)
    top = ", ".join(f"{r['head']} {r['delta_loss']:+.4f}" for r in res.ranking[:5])
    lines = [f"{model}: Δloss of ablating each head ({res.method}) ESTIMATED by attribution patching on "
             f"{res.n_windows} window(s) × {res.window_len} tokens ({res.source}); clean loss {res.clean_loss:.4f}",
             f"  largest estimated Δloss: {top}"]
    if res.verify:
        lines.append("  verified exactly: " + ", ".join(
            f"{v['head']} est {v['estimate']:+.4f} / exact {v['exact']:+.4f}" for v in res.verify))
        if res.verify_spearman is not None:
            lines.append(f"  Spearman over the verified heads: {res.verify_spearman:.3f}")
    _save(res, out, as_json, "\n".join(lines))


__all__ = ["ablate_cmd", "ablate_sweep_cmd"]
