"""`interp regress --suite SUITE.toml`: CI regression evals against a stored baseline.

Exit codes: 0 all metrics within bounds (or baseline written), 1 a metric regressed (after all outputs
are written), 2 bad input (suite, baseline, model, flags). The command calls `evals.regress.regress`; see
`evals.regress` for the suite format and the tolerances.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, check_out_dir
from interp.errors import UserError

app = typer.Typer()

# library errors name the `regress()` parameter; on the command line it is a flag
_FLAGS = {"`update_baseline`": "--update-baseline", "`model=REF`": "--model REF"}


def _list_kinds(as_json: bool) -> None:
    from evals.regress import describe_kinds

    kinds = describe_kinds()
    if as_json:
        sys.stdout.write(json.dumps(kinds, indent=2, sort_keys=True, default=str) + "\n")
        return
    for name, k in kinds.items():
        typer.echo(f"{name}: {k['doc']}")
        for p, spec in k["params"].items():
            req = "required" if spec["required"] else f"default {spec['default']!r}"
            typer.echo(f"    {p} ({spec['type']}, {req}): {spec['doc']}")
        for m, spec in k["metrics"].items():
            arrow = {"higher": "↑", "lower": "↓", None: "direction required"}[spec["direction"]]
            bound = "McNemar / Newcombe" if spec["stat"] == "proportion" else "bootstrap (paired when items match)"
            typer.echo(f"  metric {m} {arrow} [{bound}]: {spec['doc']}")


@app.command("regress")
def regress_cmd(
    suite: Annotated[Path | None, typer.Option("--suite", "-s", help="Suite TOML (see examples/regress-suite.toml).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", "-b", help="Baseline JSON (default: the suite's `baseline`, else SUITE.baseline.json beside it).")] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Measure and (over)write the baseline instead of failing on changes.")] = False,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Model reference; overrides the suite's `model`.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write results.json, junit.xml and summary.md here.", callback=check_out_dir)] = None,
    device: DeviceOpt = "cpu",
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, max=2**64 - 1, help="Seed for sampling evals and the bootstrap (default: the suite's `seed`, else 0).")] = None,
    as_json: JsonOpt = False,
    list_kinds: Annotated[bool, typer.Option(
        "--list-kinds", help="List the eval kinds, their parameters and metrics, and exit.")] = False,
) -> None:
    """Run a suite of evals and compare each metric with a stored baseline (absolute, relative or
    statistical bounds). Exit 1 when a metric regressed, 2 on bad input."""
    if list_kinds:
        _list_kinds(as_json)
        return
    if suite is None:
        raise UserError("missing --suite SUITE.toml (see examples/regress-suite.toml; --list-kinds lists eval kinds)")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; pass a directory")

    from evals.regress import print_table, regress
    from interp.results import dumps

    try:
        result = regress(suite, baseline, update_baseline=update_baseline, model=model, device=device, seed=seed,
                         progress=not as_json)
    except UserError as e:
        msg = str(e)
        for field, flag in _FLAGS.items():
            msg = msg.replace(field, flag)
        raise UserError(msg) from None
    if update_baseline:
        result.write_baseline()
    if out is not None:
        result.save(out)
    data = result.to_dict()
    if as_json:
        sys.stdout.write(dumps(data))
    else:
        print_table(data, sys.stdout)
        if out is not None:
            typer.echo(f"results: {out / 'results.json'}, {out / 'junit.xml'}, {out / 'summary.md'}")
    if not result.passed:
        raise typer.Exit(1)
