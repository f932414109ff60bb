"""`interp patch MODEL --clean TEXT --corrupt TEXT --metric "logit-diff: his, her"` — activation / attribution patching."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OutOpt, SeedOpt, emit

app = typer.Typer()


def _summary(d: dict) -> str:
    lines = [f"{d['model']}: {d['direction']} patching, metric {d['metric']}, {d['n_pairs']} pair(s); "
             f"clean {d['clean_metric']:.4g}, corrupt {d['corrupt_metric']:.4g} (gap {d['gap']:.4g})"]
    if d.get("gap_meaningful") is False:
        return "\n".join([*lines, f"  fractions restored: not meaningful — {d.get('gap_note', '')}"])
    for m, rows in d["top"].items():
        lines.append(f"  top by {m} (fraction of gap restored): "
                     + ", ".join(f"{r['component']} {r['fraction']:+.3f}" for r in rows[:6]))
    for m, rows in d["verify"].items():
        lines.append(f"  verify {m} top-{len(rows)}: "
                     + ", ".join(f"{r['component']} est {r['estimate']:+.3f} / exact {r['exact']:+.3f}" for r in rows))
    for kind, by in d["comparison"].items():
        for m, c in by.items():
            sp, pe, rc = c["spearman"], c["pearson"], c["recall_top5_in_top10"]
            lines.append(f"  {kind} {m} vs exact: Spearman {'n/a' if sp is None else f'{sp:.3f}'}, "
                         f"Pearson {'n/a' if pe is None else f'{pe:.3f}'}, "
                         f"top-5 in top-10 {'n/a' if rc is None else f'{rc:.2f}'}")
    return "\n".join(lines)


@app.command("patch")
def patch_cmd(
    model: ModelArg,
    clean: Annotated[str | None, typer.Option("--clean", help="Clean prompt (the behaviour to localize).")] = None,
    corrupt: Annotated[str | None, typer.Option(
        "--corrupt", help="Corrupted prompt, same token length as --clean.")] = None,
    pairs: Annotated[Path | None, typer.Option(
        "--pairs", help="JSONL of pairs: clean, corrupt (same token length), optional answer, wrong.")] = None,
    metric: Annotated[str, typer.Option(
        "--metric", help='"logit-diff: ANSWER, WRONG" | "logprob: ANSWER" | "loss" (words: the token after the '
        'prompt, leading space included).')] = "logit-diff",
    component: Annotated[str, typer.Option(
        "--component", "-c", help="Comma list of: heads (hook_z), resid (hook_resid_pre per position), attn_out, "
        "mlp_out, q, k.")] = "heads",
    method: Annotated[str, typer.Option(
        "--method", help="exact | atp | atp* — or a comma list (atp,atp*,exact: estimates compared with exact).")] = "exact",
    direction: Annotated[str, typer.Option(
        "--direction", help="denoise: corrupt run, clean activation patched in | noise: the reverse.")] = "denoise",
    verify_top: Annotated[int, typer.Option(
        "--verify-top", min=0, help="Re-measure the K largest estimates exactly (with --method atp / atp*).")] = 0,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Top components listed per method.")] = 10,
    out: OutOpt = Path("patching"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Activation patching of every head / residual position / layer output, batched and exact, or estimated by
    attribution patching (AtP, AtP*); heatmaps of the fraction of the clean−corrupt gap restored."""
    from interp.patching.api import patch
    from interp.seeding import set_seed

    set_seed(seed)
    comps = [c.strip() for c in component.split(",") if c.strip()]
    res = patch(model, clean=clean, corrupt=corrupt, pairs=pairs, metric=metric, components=comps, method=method,
                direction=direction, verify_top=verify_top, top_k=top_k, seed=seed, device=device,
                progress=not as_json)
    d = res.to_dict()
    res.save(out)
    emit(d, None, as_json, _summary(d) + f"\nresults: {out / 'results.json'}")
