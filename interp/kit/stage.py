"""`Stage`: one results.json as a report sees it (its folder's figures; a training run's run.json and
metrics.jsonl). `reports.collect` reads a results tree into stages; section builders read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FigureFile:
    name: str  # file stem, e.g. "attention_L0"
    rel: str  # path relative to RESULTS_DIR (for captions)
    png: bytes | None = None
    svg: bytes | None = None


@dataclass(frozen=True)
class Stage:
    """One results.json (or one training run: run.json + metrics.jsonl + results.json) and its folder's figures."""

    rel: str  # folder relative to RESULTS_DIR ("." for the top level)
    source: str  # the JSON file relative to RESULTS_DIR
    kind: str
    data: dict[str, Any]
    figures: tuple[FigureFile, ...] = ()
    metrics: tuple[dict[str, Any], ...] = ()  # metrics.jsonl records (training runs only)
    run: dict[str, Any] | None = None  # run.json (training runs only)


__all__ = ["FigureFile", "Stage"]
