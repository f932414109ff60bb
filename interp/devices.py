"""Turning a `--device` string into a usable torch device, or a one-line error."""

from __future__ import annotations

import re
from typing import Any

from interp.errors import UserError

_FORM = re.compile(r"^(cpu|cuda|mps)(:\d+)?$")


def resolve_device(spec: str) -> Any:
    """'cpu' | 'cuda' | 'cuda:N' | 'mps' → `torch.device`, checked against this machine's torch build.

    UserError (one line: what was wrong, what to do) for an unknown name, a CUDA device on a CPU-only torch or
    a machine without a GPU, or a CUDA index past the device count.
    """
    s = str(spec).strip().lower()
    if not _FORM.match(s):
        raise UserError(f"unknown device {spec!r}; use cpu, cuda, cuda:N or mps")
    import torch

    kind = s.split(":")[0]
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise UserError(f"device {spec!r} is not available: {why}; use --device cpu")
        idx = int(s.split(":")[1]) if ":" in s else 0
        n = torch.cuda.device_count()
        if idx >= n:
            raise UserError(f"device {spec!r} does not exist: this machine has {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device {spec!r} is not available on this machine; use --device cpu")
    return torch.device(s)


def check_device(spec: str) -> str:
    """`resolve_device` for CLI callbacks: returns the normalised string ('cpu' needs no torch import)."""
    if str(spec).strip().lower() == "cpu":
        return "cpu"
    return str(resolve_device(spec))
