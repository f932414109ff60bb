"""Section for `interp eval sensitivity` (kind "prompt_sensitivity"): pairwise BLEU across paraphrases."""

from __future__ import annotations

from reports import charts
from reports.collect import Stage
from reports.document import Table
from reports.generic import records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, fmt, is_number, require, verdict_vs


def guide(stage: Stage) -> str:
    return ("Each paraphrase of a prompt is continued under each decoding, and the continuations are compared "
            "pairwise with sentence BLEU (0–100, symmetrised; the diagonal is left out). High mean BLEU = the "
            "continuation barely depends on the wording (prompt-insensitive); low = sensitive. Unrelated text scores "
            "near 0 and identical text 100 — there is no fixed chance level, so compare decodings with each other "
            "(bars: mean, whiskers: min–max over prompt pairs). Low distinct-n (repetition) inflates BLEU. Under "
            "sampling every (prompt, sample) has its own seed and several samples are drawn per prompt: the "
            "within-prompt BLEU (the same prompt's samples against each other) is the baseline line — the wording "
            "matters only where between-prompt BLEU is below it (interval: bootstrap over prompts).")


def _decs(d: dict) -> list[dict]:
    return [x for x in d.get("decodings") or [] if isinstance(x, dict)]


def findings(stage: Stage) -> list[Finding]:
    decs = [x for x in _decs(stage.data) if is_number(x.get("bleu_mean"))]
    if not decs:
        return [Finding("Prompt sensitivity", "no decodings", "nothing to judge")]
    out = []
    for x in decs:
        w, lo, hi = x.get("bleu_within_mean"), x.get("diff_ci_low"), x.get("diff_ci_high")
        if not (is_number(w) and is_number(lo) and is_number(hi)):
            continue  # greedy (one sample) or an old result without the within-prompt baseline
        v = verdict_vs(lo, hi, 0.0, "sampling noise")
        verdict = {"above sampling noise": "the wording changes the continuation beyond sampling noise",
                   "below sampling noise": "different prompts agree more than resamples of one prompt"}.get(v, v)
        out.append(Finding(f"Prompt sensitivity ({x.get('decoding')}): between- vs within-prompt BLEU",
                           f"{x['bleu_mean']:.1f} vs {w:.1f} (within − between {x.get('within_minus_between'):+.1f}, "
                           f"{x.get('n_samples')} samples/prompt)", verdict,
                           interval=f"95% bootstrap over prompts [{lo:+.1f}, {hi:+.1f}]",
                           baseline="within-prompt BLEU = resampling alone"))
    greedy = [x for x in decs if not is_number(x.get("bleu_within_mean"))]
    if greedy:
        out.append(Finding("Prompt sensitivity (deterministic decodings, mean pairwise BLEU)",
                           ", ".join(f"{x.get('decoding')} {x['bleu_mean']:.1f}" for x in greedy),
                           "no sampling baseline: compare with the sampled decodings",
                           baseline="0 = unrelated, 100 = identical"))
    return out


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "decodings", "list")
    decs = _decs(d)
    prompts = [str(p) for p in d.get("prompts") or []]
    if decs:
        names, means, iv = [], [], []
        for x in decs:
            names.append(f"{x.get('decoding')} between")
            means.append(x.get("bleu_mean"))
            iv.append((x["bleu_min"], x["bleu_max"]) if is_number(x.get("bleu_min")) and is_number(x.get("bleu_max"))
                      else None)
            if is_number(x.get("bleu_within_mean")):
                ws = [v for v in x.get("bleu_within") or [] if is_number(v)]
                names.append(f"{x.get('decoding')} within")
                means.append(x["bleu_within_mean"])
                iv.append((min(ws), max(ws)) if ws else None)
        b.blocks.append(Chart(caption="mean BLEU between continuations of different paraphrases (between) and "
                                      "between samples of the same prompt (within: the sampling baseline; whiskers: "
                                      "min–max over pairs / prompts)",
                              draw=lambda fig: charts.draw_bars(fig, names, means, "pairwise BLEU per decoding",
                                                                "BLEU (0–100)", intervals=iv, ylim=(0, 100)),
                              height=2.4))
        cols = ("decoding", "n_samples", "bleu_mean", "bleu_within_mean", "within_minus_between", "diff_ci_low",
                "diff_ci_high", "distinct_1_mean", "distinct_2_mean")
        b.blocks.append(records_table(decs, caption=f"pairwise BLEU and diversity per decoding ({len(prompts)} prompts)",
                                      columns=cols))
        for x in decs:
            conts = x.get("continuations") or []
            rows = tuple((str(i), fmt(prompts[i] if i < len(prompts) else ""), fmt(c, 400)) for i, c in enumerate(conts))
            if rows:
                b.appendix.append(Table(columns=("#", "prompt", "continuation"), rows=rows,
                                        caption=f"continuations — {x.get('decoding')}"))
    b.used.update({"decodings", "prompts", "samples"})
    if prompts:
        b.appendix.insert(0, Table(columns=("#", "prompt"), rows=tuple((str(i), fmt(p)) for i, p in enumerate(prompts)),
                                   caption="prompts (paraphrases)"))
    return b


SECTION = SectionSpec(kind="prompt_sensitivity", title="Prompt sensitivity", order=70, guide=guide, findings=findings,
                      build=build)
