"""`interp probe coref MODEL` — coreference attention probe + behavioural pronoun check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, check_out_dir, emit

app = typer.Typer(help="Probes of what a model has learned (coreference ...).", no_args_is_help=True)

ModelArg = Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")]


def _fmt(s: dict) -> str:
    if s.get("accuracy") is None:
        return "n/a (n=0)"
    return f"{s['accuracy']:.3f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}] n={s['n']}"


def _summary(d: dict) -> str:
    lines = [
        f"coref probe: {d['model']}  set={d['probe_set']}  n={d['n_examples']}  chance={d['chance']:g} "
        f"(brackets: Wilson 95%)",
        f"  head-mean attention  {_fmt(d['head_mean'])}",
        f"  recency baseline     {_fmt(d['recency_baseline'])}  (head that always picks the nearer word)",
        "  best heads (picked on this data): "
        + ", ".join(f"{b['head']} {b['accuracy']:.3f}" for b in d["best_heads"]),
    ]
    if d["best_head_heldout"]:
        h = d["best_head_heldout"]
        lines.append(f"  best head held out    {h['head']} {_fmt(h)} (picked on {h['selected_on']} others)")
    lines.append(f"  behaviour            {_fmt(d['behaviour'])}  skipped={d['behaviour']['n_skipped']}")
    for title, groups in (("sentence", d["by_cross_sentence"]), ("category", d["by_category"])):
        for name, g in groups.items():
            if g["n"]:
                lines.append(f"  {title}={name:<11} head-mean {_fmt(g['head_mean'])}; "
                             f"behaviour {_fmt(g['behaviour'])}")
    return "\n".join(lines)


@app.command("coref")
def coref_cmd(
    model: ModelArg,
    data: Annotated[str, typer.Option(
        "--data", "-d", help="Probe set name (builtin, builtin-small, handwritten) or a JSONL file "
        "(keys text, pronoun, antecedent, distractor; optional category, contrast, cross_sentence, and for --causal "
        "corrupt = the corrupted text before the pronoun).")] = "builtin",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write results.json and figures here.",
                                             callback=check_out_dir)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Best heads to report.")] = 5,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    query: Annotated[str, typer.Option("--query", help="Query token of a multi-token pronoun: first | last.")] = "first",
    causal: Annotated[bool, typer.Option(
        "--causal", help="Activation patching on corrupted twins (antecedent swapped for the other gender, or the "
        "row's `corrupt`): which heads/layers CARRY the referent, next to the heads that look at it.")] = False,
    method: Annotated[str, typer.Option(
        "--method", help="With --causal: exact | atp | atp* | a comma list (estimates compared with exact).")] = "exact",
    verify_top: Annotated[int, typer.Option(
        "--verify-top", min=0, help="With --causal --method atp: re-measure the K heads with the largest estimates "
        "exactly; the top carriers are then exact, with bootstrap intervals.")] = 0,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Does attention from a pronoun go to its antecedent rather than a distractor? Plus P(right pronoun).
    With --causal: do the heads that look at the antecedent also carry it (activation patching)?"""
    if causal:
        return _causal(model, data, out, top_k, method, device, seed, as_json, verify_top)
    from probes.coref_api import coref

    result = coref(model, data=data, top_k=top_k, batch_size=batch_size, query=query, device=device, seed=seed,
                   progress=True)
    d = result.to_dict()
    if out is not None:
        result.save(out)
    emit(d, None, as_json, _summary(d) + (f"\nresults: {out / 'results.json'}" if out is not None else ""))


def _causal_summary(d: dict) -> str:
    lv, tg = d["look_vs_carry"], d["top_heads_together"]
    rho = lv["spearman_attention_accuracy_vs_fraction"]
    lines = [
        f"causal coref: {d['model']}  set={d['probe_set']}  pairs={d['n_pairs']} of {d['n_examples']} "
        f"(skipped {d['n_skipped']}); logit diff clean {d['clean_logit_diff']:.3f}, corrupt {d['corrupt_logit_diff']:.3f}",
        f"  carry (fraction of gap restored, bootstrap 95%; {d.get('top_heads_source', 'exact')}): " + ", ".join(
            f"{r['head']} {r['fraction']:+.3f}" + (f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]" if "ci_low" in r else "")
            for r in d["top_heads"]),
        "  look (attention accuracy): " + ", ".join(
            f"{r['head']} {r['accuracy']:.2f} (carries {r['fraction']:+.3f})" for r in d["attention_best_heads"]),
        f"  top-{lv['top_k']} carriers patched together: {tg['fraction']:+.3f} [{tg['ci_low']:+.2f}, {tg['ci_high']:+.2f}]",
        f"  overlap of top-{lv['top_k']} lookers and carriers: {lv['overlap'] or 'none'}; Spearman over heads "
        f"{'n/a' if rho is None else f'{rho:.3f}'}",
    ]
    return "\n".join(lines)


def _causal(model: str, data: str, out: Path | None, top_k: int, method: str, device: str, seed: int,
            as_json: bool, verify_top: int = 0) -> None:
    from interp.seeding import set_seed
    from probes.coref_causal import causal_coref

    set_seed(seed)
    res = causal_coref(model, data=data, top_k=top_k, method=method, seed=seed, device=device, progress=not as_json,
                       verify_top=verify_top)
    d = res.to_dict()
    if out is not None:
        res.save(out)
    emit(d, None, as_json, _causal_summary(d) + (f"\nresults: {out / 'results.json'}" if out is not None else ""))
