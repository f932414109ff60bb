"""Shared CLI plumbing: the common options, and writing/printing a result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.results import dumps, to_jsonable, write_json

SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same inputs + seed → identical results JSON on CPU).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results JSON to stdout.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory for results.json and figures.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1 ...")]


def emit(result: Any, out_dir: Path | None, as_json: bool, summary: str | None = None,
         name: str = "results.json") -> dict[str, Any]:
    """Write `result` to OUT/results.json atomically; print JSON (--json) or a short human summary."""
    data = to_jsonable(result)
    if out_dir is not None:
        write_json(Path(out_dir) / name, data)
    if as_json:
        sys.stdout.write(dumps(data))
    else:
        if summary:
            typer.echo(summary)
        if out_dir is not None:
            typer.echo(f"results: {Path(out_dir) / name}")
    return data


def echo_err(msg: str) -> None:
    typer.echo(msg, err=True)


__all__ = ["SeedOpt", "JsonOpt", "OutOpt", "DeviceOpt", "emit", "echo_err", "json"]
