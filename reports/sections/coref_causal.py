"""Section for `interp probe coref --causal` (kind "coref_causal"): heads that CARRY the referent vs heads that LOOK."""

from __future__ import annotations

from reports import charts
from reports.collect import Stage
from reports.generic import records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    headline,
    is_number,
    matrix_shape,
    require,
    verdict_vs,
)


def guide(stage: Stage) -> str:
    return ("Causal coreference: each example's text before the pronoun (clean) is paired with a corrupted twin in "
            "which the antecedent is swapped for a word of the other gender. The metric is logit(expected pronoun) − "
            "logit(contrast pronoun) at the position before the pronoun. Patching one head's clean output into the "
            "corrupted run (denoising) and measuring how much of the clean − corrupt gap comes back tells which heads "
            "CARRY the referent: 0 = no effect, 1 = the clean behaviour restored. Beside it, the attention probe's "
            "accuracy per head (chance 0.5) tells which heads LOOK at the antecedent; the Spearman correlation over "
            "heads and the overlap of the top-k sets compare the two. Intervals: seeded bootstrap over pairs.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    out = []
    if d.get("gap_meaningful") is False:
        return [Finding("Causal coreference", "fractions of the gap not meaningful",
                        str(d.get("gap_note") or "the clean − corrupt gap is noise-sized"))]
    # only exact numbers reach the Findings: exact patching of every head, or the exactly verified top of an
    # estimate (top_heads_source says which); an AtP/AtP* estimate alone never does
    exact_top = str(d.get("top_heads_source", "exact")).startswith("exact")
    top = [t for t in d.get("top_heads") or [] if isinstance(t, dict) and is_number(t.get("fraction"))
           and t.get("verified", True) is True] if exact_top else []
    if top:
        t = top[0]
        lo, hi = t.get("ci_low"), t.get("ci_high")
        has_ci = is_number(lo) and is_number(hi)
        how = "" if d.get("top_heads_source", "exact") == "exact" else f", {d['top_heads_source']}"
        out.append(Finding(f"Causal coreference: best carrier head {t.get('head')}",
                           f"restores {t['fraction']:.0%} of the gap (n = {d.get('n_pairs')} pairs{how})",
                           verdict_vs(lo, hi, 0.0, "no effect") if has_ci else "point estimate (no interval)",
                           interval=f"95% bootstrap [{lo:.2f}, {hi:.2f}]" if has_ci else "", baseline="0 = no effect"))
    lv = d.get("look_vs_carry") or {}
    if lv and d.get("head_fraction_method", "exact") == "exact":  # Spearman over all heads: exact fractions only
        rho = lv.get("spearman_attention_accuracy_vs_fraction")
        rho_txt = f"{rho:.2f}" if is_number(rho) else "n/a"
        overlap = ", ".join(lv.get("overlap") or []) or "none"
        out.append(Finding("Look vs carry", f"overlap of the top-{lv.get('top_k')} sets: {overlap}; "
                           f"Spearman over heads {rho_txt}",
                           f"best looker {lv.get('best_looker')}, best carrier {lv.get('best_carrier')}"))
    return out


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    frac = require(d, "head_fraction", "list")
    if d.get("gap_meaningful") is False:
        b.blocks.append(headline([("fractions restored", "not meaningful: " + str(d.get("gap_note") or "gap too small"))]))
        b.used.update(set(d) - {"kind", "schema_version"})
        return b
    acc = d.get("head_attention_accuracy")
    shp = matrix_shape(frac)
    h = min(4.2, 1.4 + 0.3 * (shp[0] if shp else 4))
    b.blocks.append(Chart(caption="fraction of the clean − corrupt gap restored by patching each head (carry)",
                          draw=lambda fig: charts.draw_heatmap(fig, frac, "carry: fraction restored", center_zero=True,
                                                               colorbar_label="fraction restored"), height=h))
    if matrix_shape(acc) is not None:
        b.blocks.append(Chart(caption="attention probe accuracy per head (look; chance 0.5)",
                              draw=lambda fig: charts.draw_heatmap(fig, acc, "look: attention accuracy", vmin=0.0,
                                                                   vmax=1.0, colorbar_label="accuracy"), height=h))
    tg = d.get("top_heads_together") or {}
    src = str(d.get("top_heads_source", "exact"))
    b.blocks.append(headline([
        ("head grid", None if d.get("head_fraction_method", "exact") == "exact" else
         f"{d.get('head_fraction_method')} ESTIMATE (ranks the heads; not a measurement)"),
        ("top carriers from", src + ("" if src.startswith("exact") else
                                     " — not a finding; rerun with --verify-top K")),
        ("pairs (of examples)", f"{d.get('n_pairs')} of {d.get('n_examples')}"),
        ("logit diff clean / corrupt", f"{d.get('clean_logit_diff'):.3f} / {d.get('corrupt_logit_diff'):.3f}"
         if is_number(d.get("clean_logit_diff")) and is_number(d.get("corrupt_logit_diff")) else None),
        ("top carriers", ", ".join(f"{t['head']} {t['fraction']:+.2f}" for t in d.get("top_heads") or []
                                    if isinstance(t, dict) and is_number(t.get("fraction")))),
        ("top lookers", ", ".join(f"{t['head']} {t['accuracy']:.2f}" for t in d.get("attention_best_heads") or []
                                   if isinstance(t, dict) and is_number(t.get("accuracy")))),
        ("top carriers patched together", f"{tg['fraction']:+.2f} [{tg['ci_low']:.2f}, {tg['ci_high']:.2f}]"
         if all(is_number(tg.get(k)) for k in ("fraction", "ci_low", "ci_high")) else None),
    ]))
    for key, cap in (("top_heads", "carrier heads (fraction restored, bootstrap 95%)"),
                     ("attention_best_heads", "looker heads (attention accuracy, Wilson 95%)")):
        recs = [r for r in d.get(key) or [] if isinstance(r, dict)]
        if recs:
            b.appendix.append(records_table(recs, caption=cap))
    b.used.update({"head_fraction_method", "top_heads_source", "head_fraction", "head_attention_accuracy", "top_heads", "attention_best_heads", "n_pairs",
                   "n_examples", "clean_logit_diff", "corrupt_logit_diff", "top_heads_together", "look_vs_carry",
                   "patching", "pairs", "gap_meaningful", "gap_note"})
    return b


SECTION = SectionSpec(kind="coref_causal", title="Causal coreference", order=61, guide=guide, findings=findings,
                      build=build)
