"""Metric kind `patching`: fraction of the clean−corrupt gap restored when named heads are patched together —
computed by `interp.patching.api.patch_heads` (the heads of `interp patch`, patched at once).

Pairs come from a JSONL `file` (clean, corrupt, answer, wrong: `interp patch --pairs`) or from a coreference
`probe_set` (the causal probe's corrupted twins, `probes.coref_causal.build_pairs`). The bootstrap unit is the
pair: each sample is (patched_i − corrupt_i) / mean gap, whose mean is the reported fraction."""

from __future__ import annotations

from typing import Any

from evals.regress.metrics._common import fingerprint, heads_ok, one_of
from evals.regress.protocol import EvalContext, EvalKind, MetricSpec, MetricValue, Param, item_id, mean_of
from interp.errors import UserError


def _metric_ok(v: str) -> str | None:
    from interp.patching.metrics import MetricSpec as PatchMetric

    try:
        PatchMetric.parse(v)
    except UserError as e:
        return str(e)
    return None


def _probe_set_ok(v: str) -> str | None:
    from probes.coref_data import PROBE_SETS

    return None if v in PROBE_SETS else f"unknown probe set {v!r}; use one of {', '.join(PROBE_SETS)}"


def _validate(p: dict[str, Any], metrics: list[str]) -> str | None:
    if (p.get("file") is None) == (p.get("probe_set") is None):
        return "give exactly one of `file = \"PAIRS.jsonl\"` (clean/corrupt pairs) or `probe_set = \"builtin-small\"`"
    return None


def _patching(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    from interp.patching.api import load_pairs, patch_heads

    if p["file"] is not None:
        pairs = load_pairs(p["file"])
    else:
        from probes.coref_causal import build_pairs
        from probes.coref_data import load_probe_set

        _, examples = load_probe_set(p["probe_set"])
        pairs, _, _ = build_pairs(model.tokenizer, examples)
        if not pairs:
            raise UserError(f"patching eval: probe set {p['probe_set']!r} gives no corrupted twins for this tokenizer")
    if p["max_pairs"] is not None:
        pairs = pairs[: p["max_pairs"]]
    res = patch_heads(model, p["heads"], pairs=pairs, metric=p["metric"], direction=p["direction"])
    fp = fingerprint([[x.clean, x.corrupt, x.answer, x.wrong] for x in pairs] + [p["heads"], p["metric"]])
    ids = [item_id(x.clean, x.corrupt, x.answer, x.wrong) for x in pairs]
    return {"fraction_restored": mean_of(res.per_pair, fingerprint=fp, items=ids)}


KIND = EvalKind(
    name="patching",
    doc="Fraction of the clean−corrupt gap restored by patching named heads together (interp.patching.patch_heads).",
    params={
        "heads": Param("str", doc="LAYER.HEAD list patched together, e.g. \"7.0,9.2\"", check=heads_ok),
        "file": Param("path", None, "JSONL of pairs: clean, corrupt, answer, wrong (as `interp patch --pairs`)"),
        "probe_set": Param("str", None, "coreference probe set whose corrupted twins are the pairs",
                           check=_probe_set_ok),
        "metric": Param("str", "logit-diff", "logit-diff[: A, W] | logprob[: A] | loss", check=_metric_ok),
        "direction": Param("str", "denoise", "denoise | noise", check=one_of(("denoise", "noise"))),
        "max_pairs": Param("int", None, "use only the first N pairs", check=lambda v: None if v > 0 else "must be > 0"),
    },
    metrics={
        "fraction_restored": MetricSpec("fraction_restored", "higher", "mean",
                                        "fraction of the clean−corrupt gap the named heads restore (0 corrupt, 1 clean)"),
    },
    adapter=_patching,
    validate=_validate,
    seeded=False,
)
