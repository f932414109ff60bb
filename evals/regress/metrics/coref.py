"""Metric kind `coref`: the coreference attention probe + behavioural check (`probes.coref.coref_probe`)."""

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
    proportion,
    proportion_of,
)
from interp.errors import UserError


def _head_ok(v: str) -> str | None:
    parts = v.split(".")
    if len(parts) != 2 or not all(x.isdigit() for x in parts):
        return "use LAYER.HEAD, e.g. \"1.3\""
    return None


def _probe_set_ok(v: str) -> str | None:
    from probes.coref_data import PROBE_SETS

    if v in PROBE_SETS:
        return None
    return f"unknown probe set {v!r}; use one of {', '.join(PROBE_SETS)}, or `file = \"PATH.jsonl\"`"


def _validate(p: dict[str, Any], metrics: list[str]) -> str | None:
    if p.get("probe_set") is not None and p.get("file") is not None:
        return "give at most one of `probe_set` (a registered set) or `file` (a .jsonl)"
    if "head_accuracy" in metrics and p.get("head") is None:
        return "metric head_accuracy needs `head = \"LAYER.HEAD\"`"
    return None


def _coref(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    from probes.coref import CorefConfig, coref_probe
    from probes.coref_data import load_probe_set

    label, examples = load_probe_set(p["file"] or p["probe_set"] or "builtin")
    if p["max_examples"] is not None:
        examples = examples[: p["max_examples"]]
    res = coref_probe(model, examples, CorefConfig(batch_size=p["batch_size"], seed=ctx.seed), probe_set=label)
    fp = fingerprint([[ex.text, ex.pronoun, ex.antecedent, ex.distractor] for ex in examples])
    ids = [item_id(ex.text, ex.pronoun, ex.antecedent, ex.distractor) for ex in examples]
    rows = res.examples  # per example, in order: head_mean_correct, behaviour_correct (None = skipped)
    beh = [(i, r["behaviour_correct"]) for i, r in zip(ids, rows, strict=True) if r["behaviour_correct"] is not None]
    out = {
        "head_mean_accuracy": proportion_of([r["head_mean_correct"] for r in rows], ids, fp),
        "behaviour_accuracy": proportion_of([c for _, c in beh], [i for i, _ in beh], fp),
    }
    held = res.best_head_heldout
    out["best_head_accuracy"] = proportion(held["k"], held["n"], fp) if held is not None else proportion(0, 0, fp)
    if p["head"] is not None:
        layer, head = (int(x) for x in p["head"].split("."))
        if layer >= res.n_layers or head >= res.n_heads:
            raise UserError(f"coref eval: head {p['head']} does not exist in a model with "
                            f"{res.n_layers} layers x {res.n_heads} heads")
        acc = float(res.head_accuracy[layer][head])
        out["head_accuracy"] = proportion(round(acc * res.n_examples), res.n_examples, fp)
    return out


KIND = EvalKind(
    name="coref",
    doc="Coreference attention probe + behavioural pronoun check (probes.coref).",
    params={
        "probe_set": Param("str", None, "registered probe set (builtin, builtin-small, handwritten); default builtin",
                           check=_probe_set_ok),
        "file": Param("path", None, "a .jsonl probe set (text, pronoun, antecedent, distractor per line)"),
        "max_examples": Param("int", None, "use only the first N examples", check=positive),
        "head": Param("str", None, "LAYER.HEAD for the head_accuracy metric", check=_head_ok),
        "batch_size": Param("int", 16, "examples per forward", check=positive),
    },
    metrics={
        "head_mean_accuracy": MetricSpec("head_mean_accuracy", "higher", "proportion",
                                         "attention averaged over all heads favours the antecedent"),
        "behaviour_accuracy": MetricSpec("behaviour_accuracy", "higher", "proportion",
                                         "P(correct pronoun) > P(contrast pronoun)"),
        "best_head_accuracy": MetricSpec("best_head_accuracy", "higher", "proportion",
                                         "best head picked on a seeded half, scored on the other half"),
        "head_accuracy": MetricSpec("head_accuracy", "higher", "proportion", "accuracy of the head named by `head`",
                                    default=False),
    },
    adapter=_coref,
    validate=_validate,
    seeded=True,
)
