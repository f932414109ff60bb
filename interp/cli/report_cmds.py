"""`interp report RESULTS_DIR`: one self-contained HTML file and/or a multi-page PDF from results JSON.

Reads only the results tree (results.json files, a training run's run.json + metrics.jsonl, PNG/SVG
figures) — never a model. Writes RESULTS_DIR/report.html and report.pdf by default (atomically), and
the command's own results as report.json beside them (not results.json: RESULTS_DIR may itself be a
stage folder whose results.json must not be overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.common import JsonOpt, SeedOpt, emit
from interp.errors import UserError
from interp.results import FrozenResult, atomic_write_bytes, atomic_write_text

app = typer.Typer()


@dataclass(frozen=True)
class ReportResult(FrozenResult):
    kind: str = "report"
    results_dir: str = ""
    formats: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)  # format → written path
    bytes: dict[str, int] = field(default_factory=dict)  # format → file size
    pdf_pages: int = 0
    sections: tuple[dict[str, Any], ...] = ()  # id, title, kind, source, tailored, n_tables, n_figures
    skipped: tuple[str, ...] = ()
    seed: int = 0


def output_paths(results_dir: Path, out: Path | None, formats: tuple[str, ...]) -> dict[str, Path]:
    """Paths per format, plus "json" for the command's results.

    --out FILE → FILE with each format's suffix (report.html → report.html + report.pdf + report.json);
    --out DIR (existing folder, or ending in '/') → DIR/report.<fmt>; default RESULTS_DIR/report.<fmt>."""
    if out is None:
        base = results_dir / "report"
    elif out.is_dir() or str(out).endswith(("/", "\\")):
        base = out / "report"
    else:
        base = out.with_suffix("") if out.suffix.lower() in (".html", ".htm", ".pdf") else out
    return {f: base.with_name(base.name + "." + f) for f in (*formats, "json")}


@app.command("report")
def report_cmd(
    results_dir: Annotated[Path, typer.Argument(help="Folder holding the analyses' results (results.json per stage, "
                                                     "a training run's run.json + metrics.jsonl, figures).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Comma list of formats: html, pdf.")] = "html,pdf",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (its suffix is set per format) or "
                                                                 "folder; default RESULTS_DIR/report.html/.pdf.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title (default: from the folder name).")] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Build a report (HTML with embedded figures + interactive attention view, and/or PDF) from RESULTS_DIR.

    --seed is accepted like every command's; a report involves no randomness (same input → same bytes).
    """
    from reports.build import make_report, parse_formats

    formats = parse_formats(fmt)
    paths = output_paths(results_dir, out, formats)
    json_path = paths.pop("json")
    for p in paths.values():
        if p.exists() and p.is_dir():
            raise UserError(f"output {p} is a directory; pass a file name with --out (e.g. --out report.html)")
    if len(set(paths.values())) != len(paths):
        raise UserError("output paths collide; pass --out without a suffix, e.g. --out reports/run1")
    rendered = make_report(results_dir, formats, title=title, progress=not as_json)  # validates RESULTS_DIR; writes nothing
    sizes: dict[str, int] = {}
    if rendered.html is not None:
        atomic_write_text(paths["html"], rendered.html)
        sizes["html"] = paths["html"].stat().st_size
    if rendered.pdf is not None:
        atomic_write_bytes(paths["pdf"], rendered.pdf)
        sizes["pdf"] = paths["pdf"].stat().st_size
    rep = rendered.report
    result = ReportResult(
        results_dir=str(results_dir), formats=formats, outputs={f: str(p) for f, p in paths.items()}, bytes=sizes,
        pdf_pages=rendered.pdf_pages,
        sections=tuple({"id": s.id, "title": s.title, "kind": s.kind, "source": s.source, "tailored": s.tailored,
                        "n_tables": s.n_tables, "n_figures": s.n_figures, "interactive": s.attention is not None}
                       for s in rep.sections),
        skipped=rep.skipped, seed=seed,
    )
    lines = [f"report: {len(rep.sections)} sections ({sum(s.tailored for s in rep.sections)} tailored)"]
    lines += [f"  {f}: {p}" + (f" ({rendered.pdf_pages} pages)" if f == "pdf" else "") for f, p in paths.items()]
    if rep.skipped:
        lines.append(f"  skipped {len(rep.skipped)} unreadable input(s); see the report")
    emit(result, json_path.parent, as_json, "\n".join(lines), name=json_path.name)
