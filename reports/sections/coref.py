"""Section for `interp probe coref` (kind "coref_probe"): per-head attention accuracy, held-out head, behaviour."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Table
from reports.generic import records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    acc_text,
    ci_text,
    fmt,
    grid_table,
    headline,
    matrix_shape,
    num,
    require,
    verdict_vs,
)


def guide(stage: Stage) -> str:
    chance = stage.data.get("chance", 0.5)
    return ("Attention probe for coreference: for each example (a pronoun, its antecedent and a distractor noun), a "
            "head is correct when the pronoun's token attends more to the antecedent than to the distractor. "
            f"Each comparison is binary, so chance is {fmt(chance)}; intervals are Wilson 95%. The heatmap is the "
            "accuracy of every head on all examples (outlined: the head chosen on one half of the data and scored "
            "on the other — trust that held-out number, the in-sample best is optimistic). 'head mean' averages "
            "attention over all heads first (the model as a whole); the recency baseline (attend to the nearer "
            "candidate) shows what position alone achieves; 'behaviour' checks the output: is the correct pronoun "
            "more likely than the contrast pronoun?")


def _acc_finding(label: str, x: Any, chance: float) -> Finding | None:
    if not isinstance(x, dict) or num(x, "accuracy") is None:
        return None
    lo, hi = num(x, "ci_low"), num(x, "ci_high")
    verdict = verdict_vs(lo, hi, chance) if lo is not None and hi is not None else "no interval"
    return Finding(label, acc_text(x), verdict, interval=ci_text(lo, hi), baseline=f"chance {chance:g}")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    chance = num(d, "chance") or 0.5
    held = d.get("best_head_heldout")
    out = [f for f in (
        _acc_finding(f"Coreference, head {held.get('head')} (held-out)" if isinstance(held, dict) else "", held, chance),
        _acc_finding("Coreference, behaviour (pronoun preference)", d.get("behaviour"), chance),
    ) if f is not None]
    if not out:
        f = _acc_finding("Coreference, head mean", d.get("head_mean"), chance)
        out = [f] if f else [Finding("Coreference", "no accuracies recorded", "nothing to judge")]
    return out


def _head_pos(h: Any) -> tuple[int, int] | None:
    try:
        a, b = str(h).split(".")
        return int(a), int(b)
    except ValueError:
        return None


def _row(name: str, x: Any) -> dict[str, Any] | None:
    if not isinstance(x, dict):
        return None
    return {"measure": name, "accuracy": x.get("accuracy"),
            "95% CI": f"{fmt(x.get('ci_low'))} – {fmt(x.get('ci_high'))}" if x.get("ci_low") is not None else None,
            "n": x.get("n"), "head": x.get("head")}


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    acc = require(d, "head_accuracy", "grid")
    require(d, "head_mean", "dict")
    require(d, "behaviour", "dict")
    shp = matrix_shape(acc)
    held = d.get("best_head_heldout") if isinstance(d.get("best_head_heldout"), dict) else {}
    if shp is not None and len(shp) == 2 and shp[0] * shp[1] >= 1:
        pos = _head_pos(held.get("head"))
        marks = [pos] if pos else []
        b.blocks.append(Chart(caption="coreference accuracy of every head (chance 0.5; outlined: the held-out head)",
                              draw=lambda fig: charts.draw_heatmap(fig, acc, "accuracy per head", cmap="viridis",
                                                                   center_zero=False, vmin=0.0, vmax=1.0, marks=marks,
                                                                   colorbar_label="accuracy"),
                              height=min(4.2, 1.4 + 0.3 * shp[0])))
    best = (d.get("best_heads") or [None])[0]
    rows = [r for r in (
        _row("best head, held-out", d.get("best_head_heldout")),
        _row("behaviour (pronoun log-prob)", d.get("behaviour")),
        _row("head mean (all heads)", d.get("head_mean")),
        _row("recency baseline (nearer candidate)", d.get("recency_baseline")),
        _row("best head, in-sample (optimistic)", best),
    ) if r is not None]
    if rows:
        b.blocks.append(records_table(rows, caption=f"accuracy against chance {fmt(d.get('chance', 0.5))} "
                                                    f"({d.get('n_examples', '?')} examples, {d.get('probe_set', '')})"))
    b.used.update({"head_accuracy", "best_head_heldout", "behaviour", "head_mean", "recency_baseline", "best_heads",
                   "chance", "n_examples", "probe_set"})
    pairs = [(k, d[k]) for k in ("model", "n_layers", "n_heads", "seed", "examples_sha256") if k in d]
    if pairs:
        b.appendix.append(headline(pairs, caption="setup"))
    for key, cap in (("head_margin", "mean margin per head (attention to antecedent − distractor)"),):
        t = grid_table(d.get(key), cap)
        if t is not None:
            b.appendix.append(t)
            b.used.add(key)
    lma = d.get("layer_mean_accuracy")
    if isinstance(lma, list) and lma:
        b.appendix.append(Table(columns=("layer", "accuracy (heads of the layer averaged first)"),
                                rows=tuple((f"L{i}", fmt(x)) for i, x in enumerate(lma)), caption="per layer"))
        b.used.add("layer_mean_accuracy")
    for key, title in (("by_cross_sentence", "single- vs cross-sentence"), ("by_category", "by category")):
        sub = d.get(key)
        if isinstance(sub, dict) and sub:
            recs = [{"subset": name, "n": x.get("n"), "head mean": (x.get("head_mean") or {}).get("accuracy"),
                     "best head": (x.get("best_head") or {}).get("accuracy"),
                     "behaviour": (x.get("behaviour") or {}).get("accuracy"),
                     "recency": (x.get("recency_baseline") or {}).get("accuracy")}
                    for name, x in sub.items() if isinstance(x, dict)]
            b.appendix.append(records_table(recs, caption=f"accuracy {title}"))
            b.used.add(key)
    ex = [x for x in d.get("examples") or [] if isinstance(x, dict)]
    if ex:
        cols = [c for c in ("text", "pronoun", "antecedent", "distractor", "category", "head_mean_correct",
                            "best_head_correct", "behaviour_correct") if any(c in x for x in ex)]
        b.appendix.append(records_table(ex, caption="examples", columns=cols))
        b.used.add("examples")
    return b


SECTION = SectionSpec(kind="coref_probe", title="Coreference probe", order=60, guide=guide, findings=findings,
                      build=build)
