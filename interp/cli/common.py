"""Shared CLI plumbing: the common options, and writing/printing a result."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.results import dumps, to_jsonable, write_json

SEED_MAX = 2**64 - 1  # torch.manual_seed's range
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX,
                                      help="Random seed in [0, 2^64-1] (same inputs + seed → identical results JSON).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results JSON to stdout.")]
def check_out_dir(value: Path | None) -> Path | None:
    """An output directory must be a directory (or not exist yet) under a writable parent: checked up front,
    so a bad --out fails in one line before any work, not after it."""
    if value is None:
        return None
    p = Path(value)
    if p.exists() and not p.is_dir():
        raise typer.BadParameter(f"{p} is a file, not a directory; give a directory path")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise typer.BadParameter(f"{probe} is a file, so {p} cannot be created; choose another path")
    try:  # a real probe: os.access() says yes to root even where writes fail (read-only mounts, sysfs)
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".interp-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise typer.BadParameter(f"{probe} is not writable ({e.strerror}); choose another path") from None
    return p


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory for results.json and figures.",
                                      callback=check_out_dir)]
OptionalOutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write results.json (and figures) here.",
                                                     callback=check_out_dir)]
ModelArg = Annotated[str, typer.Argument(
    help="Run dir, checkpoint dir, HF dir, hub id, .gguf file, or 'gemma-3-270m'.")]


def _device_callback(value: str | None) -> str | None:
    """Validate --device before any work (one-line error for 'banana' or CUDA on a CPU-only torch)."""
    if value is None:
        return None
    from interp.devices import check_device
    from interp.errors import UserError

    try:
        return check_device(value)
    except UserError as e:
        raise typer.BadParameter(str(e)) from None


DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, mps.",
                                        callback=_device_callback)]


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


__all__ = ["check_out_dir", "OptionalOutOpt", "ModelArg", "SeedOpt", "JsonOpt", "OutOpt", "DeviceOpt", "emit", "echo_err", "json"]
