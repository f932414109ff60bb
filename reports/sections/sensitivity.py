"""Section for `interp eval sensitivity` (kind "prompt_sensitivity"): pairwise BLEU across paraphrases."""

from __future__ import annotations

from reports import charts
from reports.collect import Stage
from reports.document import Table
from reports.generic import records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, fmt, is_number, require


def guide(stage: Stage) -> str:
    return ("Each paraphrase of a prompt is continued under each decoding, and the continuations are compared "
            "pairwise with sentence BLEU (0–100, symmetrised; the diagonal is left out). High mean BLEU = the "
            "continuation barely depends on the wording (prompt-insensitive); low = sensitive. Unrelated text scores "
            "near 0 and identical text 100 — there is no fixed chance level, so compare decodings with each other "
            "(bars: mean, whiskers: min–max over prompt pairs). Low distinct-n (repetition) inflates BLEU; under "
            "sampling part of the disagreement is sampling noise (every prompt uses the same seed).")


def _decs(d: dict) -> list[dict]:
    return [x for x in d.get("decodings") or [] if isinstance(x, dict)]


def findings(stage: Stage) -> list[Finding]:
    decs = [x for x in _decs(stage.data) if is_number(x.get("bleu_mean"))]
    if not decs:
        return [Finding("Prompt sensitivity", "no decodings", "nothing to judge")]
    value = ", ".join(f"{x.get('decoding')} {x['bleu_mean']:.1f}" for x in decs)
    hi = max(decs, key=lambda x: x["bleu_mean"])
    verdict = ("continuations barely depend on the wording" if hi["bleu_mean"] >= 50 else
               "continuations change with the wording")
    return [Finding("Prompt sensitivity (mean pairwise BLEU)", value, verdict,
                    baseline="0 = unrelated, 100 = identical")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "decodings", "list")
    decs = _decs(d)
    prompts = [str(p) for p in d.get("prompts") or []]
    if decs:
        names = [str(x.get("decoding")) for x in decs]
        means = [x.get("bleu_mean") for x in decs]
        iv = [(x["bleu_min"], x["bleu_max"]) if is_number(x.get("bleu_min")) and is_number(x.get("bleu_max")) else None
              for x in decs]
        b.blocks.append(Chart(caption="mean pairwise BLEU between continuations of paraphrased prompts "
                                      "(whiskers: min–max)",
                              draw=lambda fig: charts.draw_bars(fig, names, means, "pairwise BLEU per decoding",
                                                                "BLEU (0–100)", intervals=iv, ylim=(0, 100)),
                              height=2.4))
        cols = ("decoding", "bleu_mean", "bleu_min", "bleu_max", "distinct_1_mean", "distinct_2_mean")
        b.blocks.append(records_table(decs, caption=f"pairwise BLEU and diversity per decoding ({len(prompts)} prompts)",
                                      columns=cols))
        for x in decs:
            conts = x.get("continuations") or []
            rows = tuple((str(i), fmt(prompts[i] if i < len(prompts) else ""), fmt(c, 400)) for i, c in enumerate(conts))
            if rows:
                b.appendix.append(Table(columns=("#", "prompt", "continuation"), rows=rows,
                                        caption=f"continuations — {x.get('decoding')}"))
    b.used.update({"decodings", "prompts"})
    if prompts:
        b.appendix.insert(0, Table(columns=("#", "prompt"), rows=tuple((str(i), fmt(p)) for i, p in enumerate(prompts)),
                                   caption="prompts (paraphrases)"))
    return b


SECTION = SectionSpec(kind="prompt_sensitivity", title="Prompt sensitivity", order=70, guide=guide, findings=findings,
                      build=build)
