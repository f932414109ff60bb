"""`trimmed(model, dataset=..., ...)`: the public function behind `interp eval trimmed` (same names, defaults)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from evals.trimmed.evaluate import (
    TrimmedConfig,
    TrimmedEvalResult,
    check_train,
    evaluate_trimmed,
    parse_fit_head,
    plan_train,
)
from evals.trimmed.features import FeatureCache, model_key
from evals.trimmed.fit import MAX_ITER
from evals.trimmed.prompts import DEFAULT_TEMPLATE


def unescape(template: str) -> str:
    r"""Shell-typed `\n` / `\t` in a template become a newline / tab."""
    return template.replace("\\n", "\n").replace("\\t", "\t")


def trimmed(
    model: Any,
    *,
    dataset: str,
    labels: str | None = None,
    template: str | None = None,
    shots: int = 0,
    calibrate: bool = False,
    fit_head: str | int | None = None,
    fit_steps: int = MAX_ITER,
    fit_weight_decay: float | None = None,
    val_fraction: float = 0.1,
    limit: int | None = None,
    split: str | None = None,
    train_file: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    no_header: bool = False,
    label_map: str | None = None,
    label_names_file: str | Path | None = None,
    label_names_start: int = 1,
    backslash_newlines: bool = False,
    batch_size: int = 8,
    max_tokens: int | None = None,
    max_text_tokens: int | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
) -> TrimmedEvalResult:
    """Trimmed-head classification of `dataset` with `model` (a reference string or a loaded bridge).

    Everything about the data is validated before the model is loaded. `fit_head` is "all", K or "K1,K2,..."
    (examples per class; several sizes give a learning curve); `cache` keeps last-position features under
    `cache_dir` (default `interp.hooked.cache_dir()`), keyed by model weights + prompt token ids.
    See `evals.trimmed` for the variants and `evals.datasets` for the dataset flags.
    """
    from evals import datasets as ds
    from interp import hooked
    from interp.errors import UserError
    from interp.seeding import set_seed

    set_seed(seed)
    sizes = parse_fit_head(fit_head)
    fmt = ds.FileFormat(
        text_columns=ds.parse_columns(text_column), label_column=label_column, header=not no_header,
        label_map=ds.parse_label_map(label_map), label_names_file=str(label_names_file) if label_names_file else None,
        label_names_start=label_names_start, backslash_newlines=backslash_newlines,
    )
    if template is not None and "{text}" not in template:
        raise UserError(f"--template {template!r} has no {{text}} placeholder; "
                        'use e.g. --template "Review: {text}\\nSentiment:"')
    need_train = shots > 0 or bool(sizes)
    data, train = ds.load(dataset, split=split, fmt=fmt, train_file=str(train_file) if train_file else None,
                          need_train=need_train)
    data = dataclasses.replace(data, examples=ds.subsample(data.examples, limit))
    label_list = tuple(x.strip() for x in labels.split(",")) if labels else data.label_names
    cfg = TrimmedConfig(
        labels=label_list, template=unescape(template) if template is not None else (data.default_template or DEFAULT_TEMPLATE),
        shots=shots, calibrate=calibrate, fit_head=sizes, fit_steps=fit_steps, fit_weight_decay=fit_weight_decay,
        val_fraction=val_fraction, batch_size=batch_size, max_tokens=max_tokens, max_text_tokens=max_text_tokens,
        seed=seed,
    )
    present = {ex.label for ex in data.examples}
    missing = [lab for lab in cfg.labels if lab not in present]
    if missing:  # checked again in evaluate_trimmed; here to fail before loading the model
        raise UserError(f"label(s) {', '.join(map(repr, missing))} do not occur in {data.name} ({data.split}); "
                        f"its labels are {', '.join(sorted(present))} (map raw labels with --label-map)")
    if train is not None:
        check_train(train, [ex for ex in data.examples if ex.label in cfg.labels], cfg.labels)
        plan_train(train.examples, [lab.strip() for lab in cfg.labels], cfg)  # --shots / --fit-head sizes
    bridge, info = hooked.load_model(model, device)
    name = info.name
    fc = None
    if cache:
        fc = FeatureCache(cache_dir or hooked.cache_dir(), model_key(bridge), int(bridge.cfg.d_model),
                          meta={"model_ref": name})
    return evaluate_trimmed(bridge, data, cfg, train=train, model_name=name, progress=progress, cache=fc)

