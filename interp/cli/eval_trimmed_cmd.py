"""`interp eval trimmed MODEL --dataset D ...`: trimmed-head classification (see evals/trimmed/).

The command parses flags, calls `evals.trimmed.trimmed(...)` (same names and defaults) and writes the result.
Dataset flags are documented in evals/datasets/. Examples (shared samples):

    interp eval trimmed gemma-3-270m --dataset ../shared/data/sst2-sample/dev.tsv \
        --train-file ../shared/data/sst2-sample/train.tsv --no-header --text-column 1 --label-column 0 \
        --label-map 0=negative,1=positive --calibrate --fit-head all --out runs/trimmed-sst2
    interp eval trimmed gemma-3-270m --dataset vader-amazon --calibrate --fit-head 16,64,256,1024,all
    interp eval trimmed gemma-3-270m --dataset bbcnews --max-text-tokens 256 --calibrate --fit-head all
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OptionalOutOpt, SeedOpt, emit

app = typer.Typer()


@app.command("trimmed")
def trimmed_cmd(
    model: ModelArg,
    dataset: Annotated[str, typer.Option(
        "--dataset", help="sst2 | ag_news | bbcnews | vader-amazon | vader-tweets, or a .csv/.tsv/.jsonl file, "
                          "or a directory of split files.")],
    labels: Annotated[str | None, typer.Option(
        "--labels", help="Comma-separated label words, as in the data after --label-map (default: all labels).")] = None,
    template: Annotated[str | None, typer.Option(
        "--template", help=r'Prompt with {text}; \n = newline (default: the dataset template, else Review: {text}\nSentiment:).')] = None,
    shots: Annotated[int, typer.Option("--shots", min=0, help="k-shot demonstrations from the train split (seeded).")] = 0,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Add contextual calibration (Zhao et al. 2021).")] = False,
    fit_head: Annotated[str | None, typer.Option(
        "--fit-head", help="Fit the trimmed head (and a linear probe) on K train examples per class: K, all, or "
                           "K1,K2,...,all for a learning curve.")] = None,
    fit_steps: Annotated[int, typer.Option("--fit-steps", min=1, help="L-BFGS iterations at most per weight decay.")] = 100,
    fit_weight_decay: Annotated[float | None, typer.Option(
        "--fit-weight-decay", min=0.0, help="Fixed L2 strength (default: chosen from a grid on the validation split).")] = None,
    val_fraction: Annotated[float, typer.Option(
        "--val-fraction", min=0.0, max=0.99, help="Share of each class's train examples held out for validation.")] = 0.1,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Evaluate at most N examples (a fixed random subset, same for every --seed).")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split of a registry dataset or directory.")] = None,
    train_file: Annotated[Path | None, typer.Option(
        "--train-file", help="Train examples (shots / --fit-head) for a single eval file.")] = None,
    text_column: Annotated[str | None, typer.Option(
        "--text-column", help="Text column name or 0-based index; '1,2' joins columns with a newline.")] = None,
    label_column: Annotated[str | None, typer.Option("--label-column", help="Label column name or 0-based index.")] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help="CSV/TSV files have no header row.")] = False,
    label_map: Annotated[str | None, typer.Option(
        "--label-map", help="Raw label -> name, e.g. 0=negative,1=positive.")] = None,
    label_names_file: Annotated[Path | None, typer.Option(
        "--label-names-file", help="One class name per line; raw labels are 1-based line numbers (AG News).")] = None,
    label_names_start: Annotated[int, typer.Option(
        "--label-names-start", help="Raw label of the first line of --label-names-file (0 or 1).")] = 1,
    backslash_newlines: Annotated[bool, typer.Option(
        "--backslash-newlines", help="A backslash in the text is an escaped newline (AG News CSV).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts per forward pass.")] = 8,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=2, help="Context budget per prompt; longer prompts lose their start (default n_ctx).")] = None,
    max_text_tokens: Annotated[int | None, typer.Option(
        "--max-text-tokens", min=1, help="Cap each text to its first N tokens before templating (long articles).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not read or write the on-disk feature cache ($INTERP_CACHE/trimmed-features).")] = False,
    out: OptionalOutOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Classify with the unembedding trimmed to the label tokens at the last position.

    Reports trimmed, calibrated (--calibrate), fitted-head + linear-probe (--fit-head) and full-vocabulary
    decoding side by side: accuracy, macro-F1, per-class precision/recall/F1, confusion matrices; with several
    --fit-head sizes a learning curve with Wilson intervals against the zero-shot and calibrated baselines.
    """
    from evals.trimmed import summary_table, trimmed

    res = trimmed(
        model, dataset=dataset, labels=labels, template=template, shots=shots, calibrate=calibrate,
        fit_head=fit_head, fit_steps=fit_steps, fit_weight_decay=fit_weight_decay, val_fraction=val_fraction,
        limit=limit, split=split, train_file=train_file, text_column=text_column, label_column=label_column,
        no_header=no_header, label_map=label_map, label_names_file=label_names_file,
        label_names_start=label_names_start, backslash_newlines=backslash_newlines, batch_size=batch_size,
        max_tokens=max_tokens, max_text_tokens=max_text_tokens, cache=not no_cache, device=device, seed=seed,
        progress=not as_json,
    )
    if out is not None:
        res.save(out)  # figures (confusion, learning_curve) built first, then written; results.json last
    result = res.to_dict()
    emit(result, None, as_json, summary_table(result) + (f"\nresults: {out / 'results.json'}" if out else ""))
