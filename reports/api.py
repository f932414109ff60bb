"""`report(results_dirs, ...)`: the public function `interp report` calls — build, render, write.

    report("demo")                                   demo/report.html + report.pdf + report.json
    report(["runs/a", "runs/b"], compare=True)       runs/a/compare.html + .pdf + .json (A vs B)

Everything is validated and rendered in memory first (an unknown kind, a newer schema, a missing figure,
mismatched kinds/data in --compare → UserError, nothing written); then each file is written atomically.
No torch import anywhere on this path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult, atomic_write_bytes, atomic_write_text, write_json


@dataclass(frozen=True)
class ReportResult(FrozenResult):
    kind: str = "report"
    results_dirs: tuple[str, ...] = ()
    compare: bool = False
    formats: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)  # format → written path
    bytes: dict[str, int] = field(default_factory=dict)  # format → file size
    pdf_pages: int = 0
    pdf_main_pages: int = 0  # pages before the appendix
    findings: tuple[str, ...] = ()  # the Findings lines, as on page 1
    sections: tuple[dict[str, Any], ...] = ()  # id, title, kind, source, n_tables, n_figures
    skipped: tuple[str, ...] = ()
    seed: int = 0


def output_paths(results_dir: Path, out: Path | None, formats: tuple[str, ...], stem: str = "report") -> dict[str, Path]:
    """Paths per format, plus "json" for the command's own results.

    --out FILE → FILE with each format's suffix (x.html → x.html + x.pdf + x.json); --out DIR (an existing
    folder, or ending in '/') → DIR/<stem>.<fmt>; default RESULTS_DIR/<stem>.<fmt>."""
    if out is None:
        base = results_dir / stem
    elif out.is_dir() or str(out).endswith(("/", "\\")):
        base = out / stem
    else:
        base = out.with_suffix("") if out.suffix.lower() in (".html", ".htm", ".pdf") else out
    return {f: base.with_name(base.name + "." + f) for f in (*formats, "json")}


def report(results_dirs: str | os.PathLike | Sequence[str | os.PathLike], *, out: str | os.PathLike | None = None,
           compare: bool = False, format: str = "html,pdf", title: str | None = None, seed: int = 0,
           progress: bool = False) -> ReportResult:
    """Build the report of one results folder (or, with compare=True, of A vs B) and write it.

    results_dirs: one folder, or [A_DIR, B_DIR] with compare=True. out: output file (suffix set per format) or
    folder; default RESULTS_DIR/report.* (compare: A_DIR/compare.*). format: comma list of html, pdf.
    seed: accepted like every command's; a report has no randomness (same input → same bytes).
    Returns the written paths, page counts, and the Findings lines."""
    from reports.build import make_report, parse_formats

    dirs = [Path(results_dirs)] if isinstance(results_dirs, (str, os.PathLike)) else [Path(d) for d in results_dirs]
    if not dirs:
        raise UserError("give a results folder (the --out folder of an analysis, or of `interp demo`)")
    if compare and len(dirs) != 2:
        raise UserError(f"--compare needs exactly two results folders (A_DIR B_DIR), got {len(dirs)}")
    if not compare and len(dirs) != 1:
        raise UserError(f"got {len(dirs)} results folders; pass one, or two with --compare to compare them")
    formats = parse_formats(format)
    paths = output_paths(dirs[0], Path(out) if out is not None else None, formats,
                         stem="compare" if compare else "report")
    json_path = paths.pop("json")
    for p in (*paths.values(), json_path):
        if p.exists() and p.is_dir():
            raise UserError(f"output {p} is a directory; pass a file name with --out (e.g. --out report.html)")
        if p.parent.exists() and not p.parent.is_dir():
            raise UserError(f"output folder {p.parent} is a file; pass another --out")
    from interp.outputs import check_writable_dir

    for parent in sorted({p.parent for p in (*paths.values(), json_path)}):
        check_writable_dir(parent, "report output folder")  # before any section is built
    if compare:
        from reports.build import render
        from reports.compare import build_comparison

        rendered = render(build_comparison(dirs[0], dirs[1], title), formats, progress=progress)
    else:
        rendered = make_report(dirs[0], formats, title=title, progress=progress)
    sizes: dict[str, int] = {}
    try:
        if rendered.html is not None:
            atomic_write_text(paths["html"], rendered.html)
            sizes["html"] = paths["html"].stat().st_size
        if rendered.pdf is not None:
            atomic_write_bytes(paths["pdf"], rendered.pdf)
            sizes["pdf"] = paths["pdf"].stat().st_size
    except OSError as e:
        raise UserError(f"cannot write the report to {e.filename or paths}: {e.strerror or e}; pass another --out") from e
    rep = rendered.report
    result = ReportResult(
        results_dirs=tuple(str(d) for d in dirs), compare=compare, formats=formats,
        outputs={f: str(p) for f, p in paths.items()}, bytes=sizes, pdf_pages=rendered.pdf_pages,
        pdf_main_pages=rendered.pdf_main_pages, findings=tuple(f.line for f in rep.findings),
        sections=tuple({"id": s.id, "title": s.title, "kind": s.kind, "source": s.source, "n_tables": s.n_tables,
                        "n_figures": s.n_figures} for s in rep.sections),
        skipped=rep.skipped, seed=seed)
    write_json(json_path, result)
    return result


def report_json_path(result: ReportResult) -> Path:
    """Where `report()` wrote the command's own results (beside the HTML/PDF)."""
    first = Path(next(iter(result.outputs.values())))
    return first.with_name(first.stem + ".json")
