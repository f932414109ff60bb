"""`interp report RESULTS_DIR` (or `A_DIR B_DIR --compare`): Findings-first HTML + PDF from results JSON.

Reads only the results tree (results.json files, a training run's run.json + metrics.jsonl, PNG/SVG
figures) — never a model, never torch. Calls `reports.api.report` (the public function) and prints a
summary. Writes RESULTS_DIR/report.html + report.pdf by default, and the command's own results as
report.json beside them (not results.json: RESULTS_DIR may itself be a stage folder).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import JsonOpt, SeedOpt

app = typer.Typer()


def _is_finetune(run: Path) -> bool:
    import json

    try:
        return bool(json.loads((run / "run.json").read_text()).get("parent"))
    except (OSError, ValueError, AttributeError):
        return False


@app.command("report")
def report_cmd(
    results_dirs: Annotated[list[Path], typer.Argument(
        help="Folder holding the analyses' results (results.json per stage, a training run's run.json + "
             "metrics.jsonl, figures); two folders with --compare.", show_default=False,
        metavar="RESULTS_DIR")],
    compare: Annotated[bool, typer.Option("--compare", help="Compare A_DIR with B_DIR side by side (same analyses "
                                                           "on the same eval data; accuracy differences with "
                                                           "Newcombe intervals, per-head deltas).")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Comma list of formats: html, pdf.")] = "html,pdf",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (its suffix is set per format) or "
                                                                 "folder; default RESULTS_DIR/report.html/.pdf "
                                                                 "(compare: A_DIR/compare.*).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title (default: from the folder name).")] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Build a report: Findings first (number, interval, chance, verdict per analysis), one section per
    analysis (key figure, reading guide, headline table), every other value in an appendix.

    --seed is accepted like every command's; a report involves no randomness (same input → same bytes).
    """
    from interp.results import dumps
    from reports.api import report

    if compare and len(results_dirs) == 2 and _is_finetune(results_dirs[1]):
        # PARENT CHILD --compare of a fine-tune: compute what changed (needs the models), then report that folder
        from evals.finetune_compare import CompareConfig, finetune_compare

        folder = out if out is not None and not out.suffix else results_dirs[1] / "compare-parent"
        if (results_dirs[0] / "run.json").is_file():
            result = finetune_compare(results_dirs[0], results_dirs[1], CompareConfig(seed=seed))
            result.save(folder / "compare")
            results_dirs, compare, out = [folder], False, None
    res = report(results_dirs, out=out, compare=compare, format=fmt, title=title, seed=seed, progress=not as_json)
    if as_json:
        sys.stdout.write(dumps(res))
        return
    lines = [f"report: {len(res.sections)} sections, findings:"] + [f"  {f}" for f in res.findings]
    for f, p in res.outputs.items():
        lines.append(f"  {f}: {p}" + (f" ({res.pdf_pages} pages, {res.pdf_main_pages} before the appendix)"
                                      if f == "pdf" else ""))
    typer.echo("\n".join(lines))
