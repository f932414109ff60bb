"""`make_report(RESULTS_DIR, formats)`: results tree → Report → HTML text and/or PDF bytes (pure: no writes).

    collect (reports.collect)  →  sections (reports.sections registry)  →  render (reports.html / reports.pdf)

Every stage is checked against the registry BEFORE anything is drawn (unknown kind / newer schema →
UserError), and a section that cannot be built is an error too: a report is complete or not written.

The run metadata at the top of the report comes from the first training run's run.json (model shape,
seed, corpus + split hashes, package versions, git commit) and from what the analyses recorded
(`model`, `seed`, `run_dir`). No timestamps are added: the same tree gives byte-identical output.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.versions import __version__
from reports.collect import Collection, Stage, collect
from reports.document import Report, fmt
from reports.sections import build_section, check_stage, order_key

FORMATS = ("html", "pdf")


def parse_formats(spec: str) -> tuple[str, ...]:
    """'html,pdf' → ('html', 'pdf'); unknown or empty → UserError."""
    out: list[str] = []
    for part in spec.split(","):
        f = part.strip().lower()
        if not f:
            continue
        if f not in FORMATS:
            raise UserError(f"unknown report format {part.strip()!r}; use one or more of: {', '.join(FORMATS)} (e.g. --format html,pdf)")
        if f not in out:
            out.append(f)
    if not out:
        raise UserError(f"no report format given; use --format with one or more of: {', '.join(FORMATS)}")
    return tuple(out)


def _model_line(cfg: dict[str, Any]) -> str:
    m = cfg.get("model") or {}
    shape = " ".join(f"{k}={m[k]}" for k in ("n_layers", "n_heads", "d_model", "d_mlp", "n_ctx", "d_vocab")
                     if m.get(k) is not None)
    preset = cfg.get("preset")
    return f"{preset}: {shape}" if preset else shape


def metadata(coll: Collection, stages: list[Stage]) -> tuple[tuple[str, str], ...]:
    """(key, value) lines for the report header / title page."""
    meta: list[tuple[str, str]] = [("results directory", str(coll.root))]
    runs = [s for s in stages if s.run]
    if runs:
        run = runs[0].run or {}
        cfg = run.get("config") or {}
        if len(runs) > 1:
            meta.append(("training runs", ", ".join(s.rel for s in runs) + " (first one shown below)"))
        else:
            meta.append(("training run", runs[0].rel))
        meta.append(("model", _model_line(cfg)))
        data = run.get("data") or {}
        if data.get("corpus"):
            meta.append(("corpus", str(data["corpus"])))
        splits = data.get("splits") or {}
        if splits:
            meta.append(("data (sha256)", ", ".join(
                f"{k} {str(v.get('sha256', '?'))[:12]} ({fmt(v.get('n_tokens'))} tokens)"
                for k, v in splits.items() if isinstance(v, dict))))
        if run.get("seed") is not None:
            meta.append(("training seed", str(run["seed"])))
        if run.get("git_commit"):
            meta.append(("git commit", str(run["git_commit"])))
        versions = run.get("versions") or {}
        if versions:
            meta.append(("package versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
        if run.get("created"):
            meta.append(("run created", str(run["created"])))
    models = sorted({str(s.data[k]) for s in stages for k in ("model", "run_dir")
                     if isinstance(s.data.get(k), str) and s.data.get(k)})
    if models:
        meta.append(("models analysed", ", ".join(models)))
    seeds = sorted({s.data["seed"] for s in stages if isinstance(s.data.get("seed"), int)})
    if seeds:
        meta.append(("analysis seeds", ", ".join(str(x) for x in seeds)))
    if not runs:
        for s in stages:  # provenance recorded by an analysis itself, if any
            for key in ("git_commit", "versions"):
                if s.data.get(key) and all(k != key.replace("_", " ") for k, _ in meta):
                    meta.append((key.replace("_", " "), fmt(s.data[key], 400)))
    kinds = sorted({s.kind for s in stages})
    meta.append(("result kinds", ", ".join(kinds)))
    meta.append(("report", f"interp {__version__}; self-contained (no network access needed)"))
    return tuple(meta)


def build_report(results_dir: str | os.PathLike, title: str | None = None, progress: bool = False) -> Report:
    """Read RESULTS_DIR and build the format-neutral Report (UserError if there is nothing to report)."""
    from interp.progress import progress_bar

    coll = collect(results_dir)
    for s in coll.stages:
        check_stage(s)
    stages = sorted(coll.stages, key=order_key)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        sections = tuple(build_section(s, i + 1) for i, s in enumerate(
            progress_bar(stages, desc="report sections", unit="section", disable=not progress, file=sys.stderr)))
    name = Path(coll.root).resolve().name or str(coll.root)
    return Report(title=title or f"interp report — {name}", results_dir=str(coll.root),
                  metadata=metadata(coll, stages), sections=sections, skipped=coll.skipped)


@dataclass(frozen=True)
class RenderedReport:
    report: Report
    html: str | None = None
    pdf: bytes | None = None
    pdf_pages: int = 0
    pdf_main_pages: int = 0  # pages before the appendix


def render(report: Report, formats: tuple[str, ...] = FORMATS, progress: bool = False) -> RenderedReport:
    """Render a built Report in every requested format (in memory)."""
    html = pdf = None
    pages = main = 0
    if "html" in formats:
        from reports.html import render_html

        html = render_html(report)
    if "pdf" in formats:
        from reports.pdf import render_pdf

        pdf, pages, main = render_pdf(report, progress=progress)
    return RenderedReport(report=report, html=html, pdf=pdf, pdf_pages=pages, pdf_main_pages=main)


def make_report(results_dir: str | os.PathLike, formats: tuple[str, ...] = FORMATS,
                title: str | None = None, progress: bool = False) -> RenderedReport:
    """The one pure entry point: build the report and render it in every requested format (in memory).

    `progress` shows tqdm bars on stderr (sections built, PDF pages written); nothing else is printed."""
    for f in formats:
        if f not in FORMATS:
            raise UserError(f"unknown report format {f!r}; use one or more of: {', '.join(FORMATS)}")
    return render(build_report(results_dir, title, progress=progress), formats, progress=progress)
