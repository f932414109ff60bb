"""Metric kind `trimmed`: classification over the label tokens only (`evals.trimmed.evaluate_trimmed`)."""

from __future__ import annotations

from typing import Any

from evals.regress.metrics._common import fingerprint, positive
from evals.regress.protocol import (
    EvalContext,
    EvalKind,
    MetricSpec,
    MetricValue,
    Param,
    item_id,
    proportion_of,
)

VARIANTS = {  # metric → result variant
    "accuracy": "trimmed",
    "calibrated_accuracy": "calibrated",
    "fitted_head_accuracy": "fitted_head",
    "full_vocab_accuracy": "full_vocab",
}


def _non_negative(v: int) -> str | None:
    return None if v >= 0 else "must be >= 0"


def _validate(p: dict[str, Any], metrics: list[str]) -> str | None:
    if (p.get("dataset") is None) == (p.get("file") is None):
        return "give exactly one of `dataset = \"bbcnews\"` (a registered dataset) or `file = \"PATH\"`"
    if p.get("dataset") is not None and (p.get("text_column") or p.get("label_column")):
        return "`text_column`/`label_column` apply to files, not to registered datasets"
    if p["calibrate"] is False and "calibrated_accuracy" in metrics:
        return "metric calibrated_accuracy needs `calibrate = true`"
    if not p["fit_head"] and "fitted_head_accuracy" in metrics:
        return "metric fitted_head_accuracy needs `fit_head = K` (examples per class)"
    if p.get("template") is not None and "{text}" not in p["template"]:
        return "`template` needs a {text} placeholder"
    return None


def _trimmed(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    import dataclasses

    from evals import datasets
    from evals.trimmed import DEFAULT_TEMPLATE, TrimmedConfig, evaluate_trimmed

    fmt = datasets.FileFormat(text_columns=datasets.parse_columns(p["text_column"]),
                              label_column=p["label_column"])
    need_train = bool(p["shots"] or p["fit_head"])
    data, train = datasets.load(p["dataset"] or p["file"], split=p["split"], fmt=fmt, need_train=need_train)
    data = dataclasses.replace(data, examples=datasets.subsample(data.examples, p["limit"]))
    labels = tuple(p["labels"]) if p["labels"] else tuple(data.label_names)
    template = p["template"] or data.default_template or DEFAULT_TEMPLATE
    cfg = TrimmedConfig(labels=labels, template=template, shots=p["shots"], calibrate=p["calibrate"],
                        fit_head=p["fit_head"], batch_size=p["batch_size"], seed=ctx.seed)
    res = evaluate_trimmed(model, data, cfg, train=train, model_name=ctx.model_ref)
    fp = fingerprint([[ex.text, ex.label] for ex in data.examples])
    scored = [ex for ex in data.examples if ex.label in labels]  # what evaluate_trimmed scores, in order
    if len(scored) != len(res.gold):
        raise RuntimeError(f"trimmed eval scored {len(res.gold)} examples, expected {len(scored)}")  # a bug
    ids = [item_id(ex.text, ex.label) for ex in scored]
    out = {}
    for metric, variant in VARIANTS.items():
        rep = res.variants.get(variant)
        if rep is not None:
            pred = rep["predictions"]
            out[metric] = proportion_of([int(p_) == int(g) for p_, g in zip(pred, res.gold, strict=True)], ids, fp)
    return out


KIND = EvalKind(
    name="trimmed",
    doc="Zero/few-shot classification over the label tokens only (evals.trimmed).",
    params={
        "dataset": Param("str", None, "registered dataset: bbcnews (offline), sst2, ag_news (need the hub)"),
        "file": Param("path", None, ".csv/.tsv/.jsonl with text + label, or a folder of split files"),
        "split": Param("str", None, "split of a registered dataset or folder (default: its eval split)"),
        "text_column": Param("str", None, "file column(s) holding the text (name or 0-based index; a,b joins)"),
        "label_column": Param("str", None, "file column holding the label"),
        "labels": Param("str_list", None, "label words in order (default: the dataset's)"),
        "template": Param("str", None, "prompt with {text} (default: the dataset's, else Review/Sentiment)"),
        "limit": Param("int", None, "a fixed random subset of N examples", check=positive),
        "shots": Param("int", 0, "k-shot demonstrations from the train split", check=_non_negative),
        "calibrate": Param("bool", False, "also run contextual calibration (calibrated_accuracy)"),
        "fit_head": Param("int", 0, "fit the trimmed head on K examples per class (fitted_head_accuracy)",
                          check=_non_negative),
        "batch_size": Param("int", 8, "prompts per forward", check=positive),
    },
    metrics={
        "accuracy": MetricSpec("accuracy", "higher", "proportion", "argmax over the label tokens"),
        "calibrated_accuracy": MetricSpec("calibrated_accuracy", "higher", "proportion",
                                          "after contextual calibration", default=False),
        "fitted_head_accuracy": MetricSpec("fitted_head_accuracy", "higher", "proportion",
                                           "with the trimmed head fitted on K per class", default=False),
        "full_vocab_accuracy": MetricSpec("full_vocab_accuracy", "higher", "proportion",
                                          "argmax over the whole vocabulary", default=False),
    },
    adapter=_trimmed,
    validate=_validate,
    seeded=lambda p: bool(p["shots"] or p["fit_head"]),
)
