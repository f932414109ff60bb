"""`interp eval ...`: perplexity (+ leakage check) and prompt sensitivity.

`app` holds these two `eval` subcommands; `interp.cli.app` adds it (and `eval_trimmed_cmd.app`) to the `eval`
group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit

app = typer.Typer()

ModelArg = Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")]
OutDirOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write results.json (and figures) here.")]


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
    from evals.perplexity import PerplexityConfig, perplexity
    from evals.text_input import eval_text
    from evals.text_input import train_text as train_docs
    from interp import hooked
    from interp.seeding import set_seed

    set_seed(seed)
    cfg = PerplexityConfig(context=context, stride=stride, max_tokens=max_tokens, batch_size=batch_size,
                           leakage_n=ngram)
    meta = hooked.run_metadata(model)
    ev = eval_text(model, meta, text, split)
    train, train_src = (None, "disabled (--no-leakage-check)") if no_leakage_check else train_docs(model, meta, train_text)
    hf, tok = hooked.load_hf(model, device=device)
    res = perplexity(hf, ev.documents, cfg, tokenizer=tok, train_texts=train, progress=not as_json)
    data = {"model": model, "source": ev.source, "train_text": train_src, "seed": seed, **res.to_dict()}
    lines = [
        f"{model} on {ev.source}: {res.n_tokens:,} tokens in {res.n_documents} document(s), "
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
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n", help="Tokens generated per prompt.")] = 30,
    out: OutDirOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Prompt sensitivity: pairwise sentence BLEU between continuations of paraphrased prompts."""
    from evals.sensitivity import DEFAULT_PROMPTS, SensitivityConfig, figures, read_prompts, sensitivity
    from interp import hooked
    from interp.errors import UserError
    from interp.seeding import set_seed

    set_seed(seed)
    if prompts is not None:
        if not prompts.is_file():
            raise UserError(f"--prompts {str(prompts)!r} is not a file; write one prompt per line")
        try:
            raw = prompts.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise UserError(f"cannot read --prompts {str(prompts)!r}: {e.strerror}") from None
        prompt_list = read_prompts(raw, f"--prompts {str(prompts)!r}")
    else:
        prompt_list = DEFAULT_PROMPTS
    cfg = SensitivityConfig(prompts=prompt_list, decodings=tuple(decoding.split(",")),
                            max_new_tokens=max_new_tokens, seed=seed)
    hf, tok = hooked.load_hf(model, device=device)
    res = sensitivity(hf, cfg, tokenizer=tok, progress=not as_json)
    data = {"model": model, **res.to_dict()}
    if out is not None:
        from interp.figures import save_figure

        for name, fig in figures(data).items():
            save_figure(fig, out, name)
    lines = [f"{model}: {len(res.prompts)} prompts × {len(res.decodings)} decoding(s), {res.max_new_tokens} new tokens"]
    for r in res.decodings:
        lines.append(f"  {r.decoding:>8}: BLEU mean {r.bleu_mean:5.1f} (min {r.bleu_min:5.1f}, max {r.bleu_max:5.1f})"
                     f"  distinct-1 {r.distinct_1_mean:.2f}  distinct-2 {r.distinct_2_mean:.2f}")
    emit(data, out, as_json, "\n".join(lines))

