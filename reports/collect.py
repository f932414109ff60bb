"""Reading a results tree: every stage's results.json, a training run's run.json + metrics.jsonl, figures.

    RESULTS_DIR/
      run.json, metrics.jsonl        (optional: a training run; also found in any subfolder)
      attention/results.json         {"kind": "attention_maps", ...}
      attention/pattern_L0.png, .svg figures of that stage (files directly in the stage's folder)
      ablation/results.json          {"kind": "ablation", ...}
      ...

Only JSON and image files are read — never a model, never a pickle. Hidden folders (atomic-write
temp dirs `.name.tmp`) and symlinked folders are skipped; the walk is sorted, so the same tree always
gives the same stages in the same order.

Strict: a results.json that is not a JSON object, a figure saved as .png without its .svg twin (or
the reverse: `FrozenResult.save` writes both), or a figure that is not a valid PNG/SVG is a
`UserError` — the report is built completely or not at all. Only images over MAX_FIGURE_BYTES are
left out (listed in `Collection.skipped`, and the report says so).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.kit.stage import FigureFile, Stage

RESULTS_NAME = "results.json"
RUN_NAME = "run.json"
METRICS_NAME = "metrics.jsonl"
REPORT_KINDS = ("report",)  # our own output: never a section of the next report
TRAINING_KINDS = ("training",)  # results.json that `interp train` writes beside run.json
FIGURE_SUFFIXES = (".png", ".svg")
MAX_FIGURE_BYTES = 8 * 1024 * 1024  # larger images are listed as skipped, not embedded
MAX_JSON_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Collection:
    root: Path
    stages: tuple[Stage, ...]
    skipped: tuple[str, ...] = field(default=())


def _read_json_object(path: Path, rel: str, skipped: list[str]) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise UserError(f"{rel} is larger than {MAX_JSON_BYTES // 2**20} MiB; not a results file of interp")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{rel} is not readable JSON ({type(e).__name__}: {str(e)[:120]}); "
                        "rerun the command that wrote it, or remove it") from e
    if not isinstance(data, dict):
        raise UserError(f"{rel}: top-level JSON is a {type(data).__name__}, expected an object; "
                        "rerun the command that wrote it, or remove it")
    return data


def _read_metrics(path: Path, rel: str, skipped: list[str]) -> tuple[dict[str, Any], ...]:
    out, bad = [], 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        skipped.append(f"{rel}: not readable ({type(e).__name__})")
        return ()
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(rec, dict):
            out.append(rec)
        else:
            bad += 1
    if bad:
        skipped.append(f"{rel}: {bad} line(s) were not JSON objects and were ignored")
    return tuple(out)


def _figures(folder: Path, root: Path, skipped: list[str]) -> tuple[FigureFile, ...]:
    """PNG/SVG files directly in `folder`, grouped by stem (a.png + a.svg → one figure)."""
    by_stem: dict[str, dict[str, bytes]] = {}
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.name.startswith(".") or p.suffix.lower() not in FIGURE_SUFFIXES or not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        size = p.stat().st_size
        if size > MAX_FIGURE_BYTES:
            skipped.append(f"{rel}: image of {size / 2**20:.1f} MiB is larger than {MAX_FIGURE_BYTES // 2**20} MiB, not embedded")
            continue
        by_stem.setdefault(p.stem, {})[p.suffix.lower()[1:]] = p.read_bytes()
    for stem, f in by_stem.items():
        rel = (folder / stem).relative_to(root).as_posix()
        for have, want in (("png", "svg"), ("svg", "png")):
            if have in f and want not in f:
                raise UserError(f"figure {rel}.{want} is missing (its .{have} is there; every figure is saved as "
                                "PNG + SVG): rerun the command that wrote the folder")
        if "png" in f and not f["png"].startswith(b"\x89PNG\r\n\x1a\n"):
            raise UserError(f"figure {rel}.png is not a valid PNG file; rerun the command that wrote it")
        if "svg" in f and b"<svg" not in f["svg"][:4096]:
            raise UserError(f"figure {rel}.svg is not a valid SVG file; rerun the command that wrote it")
    return tuple(
        FigureFile(name=stem, rel=(folder / stem).relative_to(root).as_posix(), png=f.get("png"), svg=f.get("svg"))
        for stem, f in sorted(by_stem.items())
    )


def collect(results_dir: str | os.PathLike) -> Collection:
    """All stages under RESULTS_DIR (sorted walk). UserError if there is nothing to report on."""
    root = Path(results_dir).expanduser()
    if not root.exists():
        raise UserError(f"results directory {str(results_dir)!r} does not exist; pass the --out folder of an analysis")
    if not root.is_dir():
        raise UserError(f"{str(results_dir)!r} is a file; pass the folder that holds the analyses' results.json files")
    stages: list[Stage] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        folder = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (folder / d).is_symlink())
        files = set(filenames)
        if RUN_NAME in files and "checkpoints" in dirnames:
            dirnames.remove("checkpoints")  # model weights: nothing for a report in there
        rel_dir = folder.relative_to(root).as_posix()
        results = None
        if RESULTS_NAME in files:
            results = _read_json_object(folder / RESULTS_NAME, (folder / RESULTS_NAME).relative_to(root).as_posix(), skipped)
            if results is not None and results.get("kind") in REPORT_KINDS:
                results = None
        run = None
        if RUN_NAME in files:
            run = _read_json_object(folder / RUN_NAME, (folder / RUN_NAME).relative_to(root).as_posix(), skipped)
        if run is None and results is None:
            continue
        figures = _figures(folder, root, skipped)
        if run is not None:  # a training run: run.json + metrics.jsonl (+ its results.json of kind "training")
            metrics: tuple[dict[str, Any], ...] = ()
            if METRICS_NAME in files:
                metrics = _read_metrics(folder / METRICS_NAME, (folder / METRICS_NAME).relative_to(root).as_posix(), skipped)
            own = results is not None and results.get("kind") in TRAINING_KINDS
            stages.append(Stage(rel=rel_dir, source=(folder / RUN_NAME).relative_to(root).as_posix(),
                                kind="training", data=results if own else {}, figures=figures, metrics=metrics,
                                run=run))
            if own:
                results = None
            figures = ()  # shown once, with the training run
        if results is not None:
            kind = results.get("kind")
            kind = kind if isinstance(kind, str) and kind.strip() else "unknown"
            stages.append(Stage(rel=rel_dir, source=(folder / RESULTS_NAME).relative_to(root).as_posix(),
                                kind=kind, data=results, figures=figures))
    if not stages:
        raise UserError(
            f"no results.json or run.json found under {str(results_dir)!r}; "
            "run an analysis with --out there first"
        )
    return Collection(root=root, stages=tuple(stages), skipped=tuple(skipped))
