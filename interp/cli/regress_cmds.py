"""`interp regress --suite SUITE.toml`: CI regression evals against a stored baseline.

Exit codes: 0 all metrics within bounds (or baseline written), 1 a metric regressed (after all outputs
are written), 2 bad input (suite, baseline, model, flags). See `evals.regress` for the suite format
and the tolerances.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.common import DeviceOpt, JsonOpt
from interp.errors import UserError

app = typer.Typer()


def _table(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from evals.regress import _fmt

    t = Table(title=f"interp regress — {data['suite']}", title_justify="left")
    for col, just in (("eval", "left"), ("metric", "left"), ("better", "center"), ("baseline", "right"),
                      ("current", "right"), ("bound", "right"), ("tolerance", "left"), ("result", "center")):
        t.add_column(col, justify=just)
    for c in data["checks"]:
        t.add_row(c["eval"], c["metric"], "↑" if c["direction"] == "higher" else "↓", _fmt(c["baseline"]),
                  _fmt(c["current"]), _fmt(c["bound"]), c["tolerance"],
                  "[green]pass[/green]" if c["passed"] else "[bold red]FAIL[/bold red]")
    con = Console(file=sys.stdout, width=max(132, Console().width))
    con.print(t)
    for c in data["checks"]:
        if not c["passed"]:
            con.print(f"[red]✗[/red] {escape(c['message'])}", highlight=False)
    if data["mode"] == "update-baseline":
        con.print(f"baseline written: {data['baseline']}", highlight=False)
    elif data["passed"]:
        con.print(f"[green]all {data['n_checks']} metrics within bounds[/green]")
    else:
        con.print(f"[bold red]{data['n_failed']} of {data['n_checks']} metrics regressed[/bold red]")


def _list_kinds(kinds: dict[str, Any], as_json: bool) -> None:
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
            bound = "Wilson/Newcombe" if spec["stat"] == "proportion" else "bootstrap"
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
        "--out", "-o", help="Write results.json, junit.xml and summary.md here.")] = None,
    device: DeviceOpt = "cpu",
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed for sampling evals and the bootstrap (default: the suite's `seed`, else 0).")] = None,
    as_json: JsonOpt = False,
    list_kinds: Annotated[bool, typer.Option(
        "--list-kinds", help="List the eval kinds, their parameters and metrics, and exit.")] = False,
) -> None:
    """Run a suite of evals and compare each metric with a stored baseline (absolute, relative or
    statistical bounds). Exit 1 when a metric regressed, 2 on bad input."""
    from tqdm import tqdm

    from evals import regress
    from evals.junit import to_junit_xml
    from interp import hooked
    from interp.results import atomic_write_text, read_json, to_jsonable, write_json
    from interp.seeding import set_seed

    if list_kinds:
        _list_kinds(regress.describe_kinds(), as_json)
        return
    if suite is None:
        raise UserError("missing --suite SUITE.toml (see examples/regress-suite.toml; --list-kinds lists eval kinds)")
    if seed is not None and seed < 0:
        raise UserError(f"--seed must be >= 0, got {seed}")
    s = regress.load_suite(suite, seed_override=seed)
    ref = model or s.model
    if not ref:
        raise UserError(f"no model: set `model = \"...\"` in {suite} or pass --model REF")
    bpath = s.baseline_path(baseline)
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; pass a directory")
    if bpath.exists() and bpath.is_dir():
        raise UserError(f"baseline path {bpath} is a directory; pass a .json file path")
    old = None
    if not update_baseline:
        if not bpath.is_file():
            raise UserError(f"no baseline at {bpath}; record one first with "
                            f"`interp regress --suite {suite} --update-baseline`")
        try:
            old = read_json(bpath)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read baseline {bpath} ({type(e).__name__}); "
                            "fix it or rerun with --update-baseline") from None
        regress.check_baseline(s, old, str(bpath))  # fail before spending compute

    set_seed(s.seed)
    bridge = hooked.load(ref, device=device)
    ctx = regress.EvalContext(model_ref=ref, base_dir=s.base_dir, seed=s.seed, device=device)
    times: dict[str, float] = {}

    def timed(evs: Iterable[regress.EvalSpec]) -> Iterator[regress.EvalSpec]:
        for ev in tqdm(list(evs), desc="regress", unit="eval", file=sys.stderr, disable=as_json, leave=False):
            t0 = time.perf_counter()
            yield ev
            times[ev.name] = time.perf_counter() - t0

    current = regress.evaluate(s, bridge, ctx, progress=timed)
    mhash = regress.model_sha256(ref)
    if update_baseline:
        old = regress.make_baseline(s, current, ref, mhash, regress.package_versions())
        write_json(bpath, old)
    result = regress.regress(s, current, old, ref, str(bpath), mhash,
                             mode="update-baseline" if update_baseline else "compare")
    data = to_jsonable(result)
    if out is not None:
        write_json(out / "results.json", data)
        atomic_write_text(out / "junit.xml", to_junit_xml(data, times))
        atomic_write_text(out / "summary.md", regress.to_markdown(data))
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        _table(data)
        if out is not None:
            typer.echo(f"results: {out / 'results.json'}, {out / 'junit.xml'}, {out / 'summary.md'}")
    if not result.passed:
        raise typer.Exit(1)
