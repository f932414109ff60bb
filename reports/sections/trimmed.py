"""Section for `interp eval trimmed` (kind "trimmed_eval"): accuracy per variant with Wilson intervals."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Preformatted, Table
from reports.generic import generic_blocks, records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    ci_text,
    fmt,
    is_number,
    matrix_shape,
    require,
    verdict_vs,
)

ORDER = ("trimmed", "calibrated", "fitted_head", "linear_probe", "full_vocab")


def variant_stats(d: dict[str, Any]) -> list[dict[str, Any]]:
    """[{variant, accuracy, k, n, lo, hi, macro_f1}] with Wilson 95% intervals (k from predictions vs gold)."""
    from evals.stats import wilson

    gold = [g for g in d.get("gold") or [] if isinstance(g, int)]
    variants = d.get("variants") if isinstance(d.get("variants"), dict) else {}
    out = []
    for name in sorted(variants, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        v = variants[name]
        if not isinstance(v, dict) or not is_number(v.get("accuracy")):
            continue
        pred = v.get("predictions")
        if isinstance(pred, list) and gold and len(pred) == len(gold):
            n, k = len(gold), sum(int(p == g) for p, g in zip(pred, gold, strict=True))
        else:
            n = int(v.get("n") or 0)
            k = int(round(v["accuracy"] * n))
        lo, hi = wilson(k, n) if n else (0.0, 1.0)
        out.append({"variant": name, "accuracy": k / n if n else v["accuracy"], "k": k, "n": n, "lo": lo, "hi": hi,
                    "macro_f1": v.get("macro_f1")})
    return out


def baselines(d: dict[str, Any]) -> tuple[float | None, float | None]:
    """(chance 1/k, majority-class rate)."""
    labels = d.get("labels") or []
    k = len(labels)
    ds = d.get("dataset") if isinstance(d.get("dataset"), dict) else {}
    chance = ds.get("chance") if is_number(ds.get("chance")) else (1 / k if k else None)
    maj = ds.get("majority_rate")
    if not is_number(maj):
        gold = [g for g in d.get("gold") or [] if isinstance(g, int)]
        maj = max(gold.count(i) for i in range(k)) / len(gold) if gold and k else None
    return chance, maj


def guide(stage: Stage) -> str:
    d = stage.data
    chance, maj = baselines(d)
    k = len(d.get("labels") or [])
    base = f" With {k} labels chance is 1/{k} = {chance:.3f}" if chance else ""
    if maj is not None:
        base += f"; always predicting the most frequent label scores {maj:.3f} (the majority baseline)"
    return ("Zero/few-shot classification with the LM's unembedding trimmed to the label tokens: a template turns "
            "each text into a prompt, and the prediction is the label whose token gets the highest logit at the "
            "last position. Variants: trimmed (argmax over the label logits), calibrated (contextual calibration "
            "with content-free inputs), fitted_head (only the k × d_model label head trained on a few labeled "
            "examples, deduplicated against the test set), full_vocab (argmax over the whole vocabulary; wrong when "
            "it is not a label word)." + (base + "." if base else "") +
            " Whiskers are Wilson 95% intervals; dashed lines the baselines.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    stats = [s for s in variant_stats(d) if s["variant"] != "full_vocab"]
    if not stats:
        return [Finding("Trimmed-head classification", "no variants", "nothing to judge")]
    chance, maj = baselines(d)
    ref, name = (maj, "the majority baseline") if maj is not None and (chance is None or maj >= chance) else (chance, "chance")
    best = max(stats, key=lambda s: s["accuracy"])
    others = ", ".join(f"{s['variant']} {s['accuracy']:.2f}" for s in stats if s is not best)
    ds = d.get("dataset") if isinstance(d.get("dataset"), dict) else {}
    label = f"Classification, {ds.get('name', 'dataset')} (n = {best['n']}), best: {best['variant']}"
    value = f"{best['k']}/{best['n']} = {best['accuracy']:.3f}" + (f" (others: {others})" if others else "")
    verdict = verdict_vs(best["lo"], best["hi"], ref, name) if ref is not None else "no baseline"
    base = ", ".join(x for x in (f"chance {chance:.2f}" if chance else "", f"majority {maj:.2f}" if maj else "") if x)
    return [Finding(label, value, verdict, interval=ci_text(best["lo"], best["hi"]), baseline=base)]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "variants", "dict")
    require(d, "labels", "list")
    require(d, "gold", "list")
    stats = variant_stats(d)
    chance, maj = baselines(d)
    labels = [str(x) for x in d.get("labels") or []]
    if stats:
        names = [s["variant"] for s in stats]
        vals = [s["accuracy"] for s in stats]
        iv = [(s["lo"], s["hi"]) for s in stats]
        hl = {}
        if chance is not None:
            hl[f"chance {chance:.2f}"] = chance
        if maj is not None:
            hl[f"majority {maj:.2f}"] = maj
        b.blocks.append(Chart(caption="accuracy per variant with Wilson 95% intervals; dashed: chance and majority class",
                              draw=lambda fig: charts.draw_bars(fig, names, vals, "accuracy per variant", "accuracy",
                                                                intervals=iv, hlines=hl, ylim=(0, 1)), height=2.6))
        b.blocks.append(records_table([{"variant": s["variant"], "accuracy": s["accuracy"],
                                        "95% CI": f"{s['lo']:.3f} – {s['hi']:.3f}", "macro-F1": s["macro_f1"],
                                        "n": s["n"]} for s in stats], caption="accuracy and macro-F1 per variant"))
    learning_curve_blocks(d, b)
    ds = d.get("dataset") if isinstance(d.get("dataset"), dict) else {}
    b.appendix.append(records_table([{"key": f"dataset.{k}", "value": v} for k, v in ds.items()]
                                    + [{"key": "model", "value": d.get("model")}, {"key": "labels", "value": labels}],
                                    caption="setup"))
    b.used.update({"variants", "gold", "labels", "dataset", "model"})
    if isinstance(d.get("template"), str):
        b.appendix.append(Preformatted(d["template"], caption="prompt template"))
        b.used.add("template")
    variants = d.get("variants") if isinstance(d.get("variants"), dict) else {}
    for name, v in variants.items():
        if not isinstance(v, dict):
            continue
        pc = v.get("per_class")
        if isinstance(pc, dict) and pc:
            b.appendix.append(records_table([{"label": lab, **(r if isinstance(r, dict) else {})} for lab, r in pc.items()],
                                            caption=f"{name}: per class"))
        cm = v.get("confusion")
        shp = matrix_shape(cm)
        if shp is not None and len(shp) == 2 and shp[0] == len(labels) and shp[1] <= 16:
            cols = labels + ["other"] * (shp[1] - len(labels))
            b.appendix.append(Table(columns=("gold \\ predicted", *cols[: shp[1]]),
                                    rows=tuple((labels[i], *(fmt(x) for x in row)) for i, row in enumerate(cm)),
                                    caption=f"{name}: confusion matrix (rows gold, columns predicted)"))
    for key, cap in (("full_vocab", "full-vocabulary decoding"), ("calibration", "calibration"), ("fit", "fitted head")):
        v = d.get(key)
        if isinstance(v, dict) and v:
            b.appendix.extend(generic_blocks(v, prefix=cap))
            b.used.add(key)
    return b


def learning_curve_blocks(d: dict[str, Any], b: Built) -> None:
    """`--fit-head K1,K2,...`: test accuracy of the fitted head and the linear probe vs examples per class."""
    curve = d.get("learning_curve")
    if not isinstance(curve, dict) or not isinstance(curve.get("points"), list) or not curve["points"]:
        return
    pts = [p for p in curve["points"] if isinstance(p, dict) and isinstance(p.get("head"), dict)
           and isinstance(p.get("probe"), dict) and is_number(p.get("n_train"))]
    k = max(1, len(d.get("labels") or []))
    xs = [p["n_train"] / k for p in pts]
    series = {arm: (xs, [p[key].get("accuracy") for p in pts])
              for arm, key in (("fitted trimmed head", "head"), ("linear probe", "probe"))}
    hl = {f"{name} {v['accuracy']:.3f}": v["accuracy"] for name, v in (curve.get("baselines") or {}).items()
          if isinstance(v, dict) and is_number(v.get("accuracy"))}
    b.blocks.append(Chart(caption="learning curve: test accuracy vs train examples per class (fitted head from the "
                                  "label rows vs a randomly initialised linear probe on the same features); dashed: "
                                  "zero-shot and calibrated", height=2.6,
                          draw=lambda fig: charts.draw_panels(fig, [("learning curve", series, "test accuracy", hl)],
                                                              "train examples per class")))
    rows = []
    for p in pts:
        h, q = p["head"], p["probe"]
        rows.append({"K per class": p.get("k_per_class"), "n train": p["n_train"],
                     "head": h.get("accuracy"), "head 95% CI": ci_text(*h["ci95"], digits=3, what="") if isinstance(h.get("ci95"), list) else "",
                     "probe": q.get("accuracy"), "probe 95% CI": ci_text(*q["ci95"], digits=3, what="") if isinstance(q.get("ci95"), list) else "",
                     "λ head / probe": f"{fmt(h.get('weight_decay'))} / {fmt(q.get('weight_decay'))}"})
    b.blocks.append(records_table(rows, caption=f"learning curve (test n = {curve.get('n_test')}, validation n = "
                                                f"{curve.get('n_val')}; Wilson 95% intervals)"))
    b.used.add("learning_curve")


SECTION = SectionSpec(kind="trimmed_eval", title="Trimmed-head classification", order=75, guide=guide,
                      findings=findings, build=build)
