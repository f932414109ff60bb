"""`interp circuit MODEL --pairs FILE.jsonl --metric "logit-diff: A, B" --method eap-ig:10` and
`interp circuit-formation SERIES --pairs FILE.jsonl`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OutOpt, SeedOpt, emit

app = typer.Typer()

PairsOpt = Annotated[Path | None, typer.Option(
    "--pairs", help="JSONL of pairs: clean, corrupt (same token length), optional answer, wrong.")]
MetricOpt = Annotated[str, typer.Option(
    "--metric", help='"logit-diff: ANSWER, WRONG" | "logprob: ANSWER" (one-token words, leading space included).')]


def _summary(d: dict) -> str:
    c = d["circuit"]
    lines = [f"{d['model']}: {d['n_edges']} edges, {d['n_pairs']} pair(s), metric {d['metric']}; clean "
             f"{d['clean_metric']:.4g}, corrupt {d['corrupt_metric']:.4g}",
             f"  top edges by {d['method']}: " + ", ".join(f"{t['edge']} {t['score']:+.3g}" for t in d["top"][:6])]
    if c.get("size") is not None:
        ci = f" [{c['lo']:.2f}, {c['hi']:.2f}]" if c.get("lo") is not None else ""
        lines.append(f"  circuit ({c['rule']}): {c['size']} edges, faithfulness {c['faithfulness']:.3f}{ci}; random "
                     f"circuit of that size {c['random']:.3f}")
    else:
        lines.append(f"  no circuit on the curve reaches faithfulness {c['target']}")
    for m, v in d["comparison"].items():
        lines.append(f"  {m} vs exact: Spearman {v['spearman']}, top-20 recall {v['recall_top20']}")
    return "\n".join(lines)


@app.command("circuit")
def circuit_cmd(
    model: ModelArg,
    clean: Annotated[str | None, typer.Option("--clean", help="Clean prompt.")] = None,
    corrupt: Annotated[str | None, typer.Option("--corrupt", help="Corrupted prompt, same token length.")] = None,
    pairs: PairsOpt = None,
    metric: MetricOpt = "logit-diff",
    method: Annotated[str, typer.Option("--method", help="exact | eap | eap-ig[:STEPS] (default 10 steps).")] = "eap-ig:10",
    compare: Annotated[str, typer.Option(
        "--compare", help="Comma list of further methods on the same pairs (with exact: Spearman, top-20 recall).")] = "",
    size: Annotated[int | None, typer.Option("--size", help="Circuit = the top-K edges (default: the smallest "
                                                             "reaching faithfulness 0.8).")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Circuit = edges with |score| >= T.")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples over pairs.")] = 1000,
    out: OutOpt = Path("circuit"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Edge attribution patching over the residual graph (exact, EAP, EAP-IG), the circuit and its faithfulness."""
    from interp.circuits.api import circuit
    from interp.seeding import set_seed

    set_seed(seed)
    res = circuit(model, clean=clean, corrupt=corrupt, pairs=pairs, metric=metric, method=method,
                  compare=[c.strip() for c in compare.split(",") if c.strip()], size=size, threshold=threshold,
                  n_boot=n_boot, seed=seed, device=device)
    d = res.to_dict()
    res.save(out)
    emit(d, None, as_json, _summary(d) + f"\nresults: {out / 'results.json'}")


@app.command("circuit-formation")
def circuit_formation_cmd(
    series: Annotated[list[str], typer.Argument(
        help="Run dir | folder of checkpoint-N/ or model dirs | several model dirs | org/name@rev,... | nanoGPT .pt.")],
    pairs: Annotated[Path, typer.Option("--pairs", help="JSONL of pairs: clean, corrupt, optional answer, wrong.")],
    metric: MetricOpt = "logit-diff",
    method: Annotated[str, typer.Option("--method", help="eap | eap-ig[:STEPS] (default 10 steps).")] = "eap-ig:10",
    size: Annotated[int, typer.Option("--size", help="Edges in each checkpoint's circuit (its top-K).")] = 20,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples over pairs.")] = 1000,
    x: Annotated[str | None, typer.Option("--x", help="x axis: step | tokens | epoch | checkpoint.")] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="Tokenizer dir for checkpoints without one.")] = None,
    out: OutOpt = Path("circuit-formation"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """EAP-IG circuits on every checkpoint: top-edge scores vs tokens, and when the circuit's faithfulness first
    reaches and stays >= 0.8 (shards over checkpoints under torchrun)."""
    from interp.attention import is_main_process
    from interp.circuits.formation import circuit_formation
    from interp.seeding import set_seed

    set_seed(seed)
    res = circuit_formation(series if len(series) > 1 else series[0], pairs=pairs, metric=metric, method=method,
                            size=size, n_boot=n_boot, x=x, seed=seed, device=device, tokenizer=tokenizer)
    if not is_main_process():
        return
    d = res.to_dict()
    res.save(out)
    at = d["formed_at"]
    emit(d, None, as_json, f"{len(d['x'])} checkpoints, top-{d['size']} circuits of {d['n_edges']} edges: faithfulness "
         + ", ".join("n/a" if f is None else f"{f:.2f}" for f in d["faithfulness"])
         + (f"\n  formed (>= {d['target']} to the end) at {d['x_name']} {at} ({d['formed_label']})" if at is not None
            else f"\n  faithfulness never stays >= {d['target']}") + f"\nresults: {out / 'results.json'}")
