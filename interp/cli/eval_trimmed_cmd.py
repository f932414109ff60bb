"""`interp eval trimmed MODEL --dataset D ...`: trimmed-head classification (see evals/trimmed.py).

Dataset flags are documented in evals/datasets.py. Examples (shared samples):

    interp eval trimmed gemma-3-270m --dataset ../shared/data/sst2-sample/dev.tsv \
        --train-file ../shared/data/sst2-sample/train.tsv --no-header --text-column 1 --label-column 0 \
        --label-map 0=negative,1=positive --calibrate --fit-head 8 --out runs/trimmed-sst2
    interp eval trimmed gemma-3-270m --dataset ../shared/data/ag-news-sample --split test --no-header \
        --text-column 1,2 --label-column 0 --label-names-file ../shared/data/ag-news-sample/classes.txt \
        --backslash-newlines --template "Article: {text}\\nTopic:" --calibrate --fit-head 8
    interp eval trimmed gemma-3-270m --dataset bbcnews --limit 200 --calibrate --fit-head 8
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, echo_err, emit

app = typer.Typer()

ModelArg = Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")]


def unescape(template: str) -> str:
    r"""Shell-typed `\n` / `\t` in --template become a newline / tab."""
    return template.replace("\\n", "\n").replace("\\t", "\t")


@app.command("trimmed")
def trimmed_cmd(
    model: ModelArg,
    dataset: Annotated[str, typer.Option(
        "--dataset", help="sst2 | ag_news | bbcnews, or a .csv/.tsv/.jsonl file, or a directory of split files.")],
    labels: Annotated[str | None, typer.Option(
        "--labels", help="Comma-separated label words, as in the data after --label-map (default: all labels).")] = None,
    template: Annotated[str | None, typer.Option(
        "--template", help=r'Prompt with {text}; \n = newline (default: the dataset template, else Review: {text}\nSentiment:).')] = None,
    shots: Annotated[int, typer.Option("--shots", min=0, help="k-shot demonstrations from the train split (seeded).")] = 0,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Add contextual calibration (Zhao et al. 2021).")] = False,
    fit_head: Annotated[int, typer.Option(
        "--fit-head", min=0, help="Fit the trimmed head on K train examples per class (0 = off).")] = 0,
    fit_steps: Annotated[int, typer.Option("--fit-steps", min=1, help="Full-batch Adam steps for --fit-head.")] = 300,
    fit_weight_decay: Annotated[float, typer.Option(
        "--fit-weight-decay", min=0.0, help="L2 penalty on the head's change from the W_U rows.")] = 1.0,
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
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write results.json and confusion.png/svg here.")] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Classify with the unembedding trimmed to the label tokens at the last position.

    Reports trimmed, calibrated (--calibrate), fitted-head (--fit-head K) and full-vocabulary decoding side by
    side: accuracy, macro-F1, per-class precision/recall/F1, confusion matrices.
    """
    from evals import datasets as ds
    from evals.trimmed import (
        DEFAULT_TEMPLATE,
        TrimmedConfig,
        evaluate_trimmed,
        plot_confusions,
        summary_table,
    )
    from interp import hooked
    from interp.errors import UserError
    from interp.seeding import set_seed

    set_seed(seed)
    fmt = ds.FileFormat(
        text_columns=ds.parse_columns(text_column), label_column=label_column, header=not no_header,
        label_map=ds.parse_label_map(label_map),
        label_names_file=str(label_names_file) if label_names_file else None,
        label_names_start=label_names_start, backslash_newlines=backslash_newlines,
    )
    if template is not None and "{text}" not in template:
        raise UserError(f"--template {template!r} has no {{text}} placeholder; "
                        'use e.g. --template "Review: {text}\\nSentiment:"')
    needs_train = shots > 0 or fit_head > 0
    data, train = ds.load(dataset, split=split, fmt=fmt, train_file=str(train_file) if train_file else None,
                          need_train=needs_train)
    data = ds.LabeledData(name=data.name, source=data.source, split=data.split,
                          examples=ds.subsample(data.examples, limit), label_names=data.label_names,
                          default_template=data.default_template)
    label_list = tuple(x.strip() for x in labels.split(",")) if labels else data.label_names
    cfg = TrimmedConfig(
        labels=label_list, template=unescape(template) if template is not None else (data.default_template or DEFAULT_TEMPLATE),
        shots=shots, calibrate=calibrate, fit_head=fit_head, fit_steps=fit_steps, fit_weight_decay=fit_weight_decay,
        batch_size=batch_size, max_tokens=max_tokens, seed=seed,
    )
    present = {ex.label for ex in data.examples}
    missing = [lab for lab in cfg.labels if lab not in present]
    if missing:  # checked again in evaluate_trimmed; here to fail before loading the model
        raise UserError(f"label(s) {', '.join(map(repr, missing))} do not occur in {data.name} ({data.split}); "
                        f"its labels are {', '.join(sorted(present))} (map raw labels with --label-map)")
    if not as_json:
        echo_err(f"{dataset}: {len(data.examples)} examples ({data.split}); loading {model} ...")
    bridge = hooked.load(model, device=device)
    res = evaluate_trimmed(bridge, data, cfg, train=train, model_name=model, progress=not as_json)
    result = res.to_dict()
    if out is not None:
        from interp.figures import save_figure

        save_figure(plot_confusions(result), out, "confusion")
    emit(result, out, as_json, summary_table(result))
