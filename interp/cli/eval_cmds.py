"""`interp eval ...`: perplexity (+ leakage check) and prompt sensitivity.

`app` holds these two `eval` subcommands; `interp.cli.app` adds it (and `eval_trimmed_cmd.app`) to the `eval`
group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OptionalOutOpt, SeedOpt, emit

app = typer.Typer()

OutDirOpt = OptionalOutOpt


@app.command("perplexity")
def perplexity_cmd(
    model: ModelArg,
    text: Annotated[Path | None, typer.Option(
        "--text", help="Eval text: .txt (one document), folder of .txt (one per file) or .jsonl ({\"text\"} per line).")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", help="val | test split of the model's training run (default: test, if MODEL is a run).")] = None,
    stride: Annotated[int | None, typer.Option(
        "--stride", help="Window advance in tokens (default context-1 = non-overlapping scoring).")] = None,
    context: Annotated[int | None, typer.Option(
        "--context", help="Window length in tokens (default: the model's n_ctx, at most 1024).")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Score at most N eval tokens.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Windows per forward (default auto).")] = None,
    no_leakage_check: Annotated[bool, typer.Option(
        "--no-leakage-check", help="Skip the train/eval n-gram overlap check.")] = False,
    train_text: Annotated[Path | None, typer.Option(
        "--train-text", help="Training text for the leakage check (for models without run metadata).")] = None,
    ngram: Annotated[int | None, typer.Option(
        "--ngram", help="n of the leakage n-grams in tokens (default 13, more for < 2 bytes/token).")] = None,
    out: OutDirOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Sliding-window perplexity, bits per byte and nats per char of MODEL, with a leakage check.

    Documents are scored separately, each preceded by BOS (<|endoftext|>); see evals/perplexity.py.
    """
    from evals.api import perplexity

    res = perplexity(model, text=text, split=split, stride=stride, context=context, max_tokens=max_tokens,
                     batch_size=batch_size, leakage_check=not no_leakage_check, train_text=train_text, ngram=ngram,
                     device=device, seed=seed, progress=not as_json)
    data = res.to_dict()
    ev_source, train_src = res.source, res.train_text
    lines = [
        f"{model} on {ev_source}: {res.n_tokens:,} tokens in {res.n_documents} document(s), "
        f"{res.n_windows} window(s) of {res.context} (stride {res.stride})",
        f"  nll/token {res.nll_per_token:.4f}  perplexity {res.perplexity:.3f}  "
        f"bits/byte {res.bits_per_byte:.4f}  nats/char {res.nats_per_char:.4f}",
        f"  leakage: {res.leakage.message if res.leakage else 'not checked: ' + train_src}",
        *[f"  WARNING {w}" for w in res.warnings],
    ]
    emit(data, out, as_json, "\n".join(lines))


@app.command("sensitivity")
def sensitivity_cmd(
    model: ModelArg,
    prompts: Annotated[Path | None, typer.Option(
        "--prompts", help="File with one prompt per line (default: 8 'university student' paraphrases).")] = None,
    decoding: Annotated[str, typer.Option(
        "--decoding", help="Comma-separated decodings: greedy, t0.7 (temperature), k50 (top-k), k50t0.8.")] = "greedy,t0.7,k50",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n", min=1, max=4096,
                                                help="Tokens generated per prompt.")] = 30,
    samples: Annotated[int, typer.Option(
        "--samples", min=1, help="Continuations per prompt under sampling (each seeded independently from --seed); "
        "their BLEU against each other is the within-prompt baseline line.")] = 4,
    out: OutDirOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Prompt sensitivity: pairwise sentence BLEU between continuations of paraphrased prompts."""
    from evals.api import sensitivity
    from evals.sensitivity import figures
    from interp.figures import save_figure

    res = sensitivity(model, prompts=prompts, decoding=decoding, max_new_tokens=max_new_tokens, device=device,
                      seed=seed, progress=not as_json, samples=samples)
    data = res.to_dict()
    figs = figures(data)  # build every figure before writing anything
    if out is not None:
        for name, fig in figs.items():
            save_figure(fig, out, name)
    lines = [f"{model}: {len(res.prompts)} prompts × {len(res.decodings)} decoding(s), {res.max_new_tokens} new tokens"]
    for r in res.decodings:
        lines.append(f"  {r.decoding:>8}: BLEU mean {r.bleu_mean:5.1f} (min {r.bleu_min:5.1f}, max {r.bleu_max:5.1f})"
                     f"  distinct-1 {r.distinct_1_mean:.2f}  distinct-2 {r.distinct_2_mean:.2f}")
        if r.bleu_within_mean is not None:
            lines.append(f"  {'':>8}  within-prompt BLEU {r.bleu_within_mean:5.1f} ({r.n_samples} samples/prompt); "
                         f"within − between {r.within_minus_between:+.1f} "
                         f"[{r.diff_ci_low:+.1f}, {r.diff_ci_high:+.1f}] (bootstrap over prompts)")
    emit(data, out, as_json, "\n".join(lines))

