"""Checkpoint integrity of a series: the same weights served under different checkpoint names.

Hub revisions have served the wrong weights (EleutherAI/pythia#205: several `stepN` branches held one
checkpoint), and a copy-paste in a local folder does the same. Each local checkpoint's weights are hashed
by CONTENT — sha256 over every safetensors tensor's name, dtype, shape and raw bytes, in name order,
streamed in 1 MiB reads (no tensors built, no model loaded; the file's JSON header metadata and tensor
order do not matter) — and checkpoints with equal hashes are named. Hub checkpoints are not downloaded for
this (`n_unhashed` counts them).

`check_integrity(series)` → {"n_hashed", "n_unhashed", "duplicates": [[label, ...], ...], "warning"}.
Analyses store it in their results; `strict=True` turns a duplicate into a UserError.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from interp.errors import UserError

CHUNK = 1 << 20


def safetensors_content_sha256(files: list[Path]) -> str:
    """sha256 of the tensors in `files` (name, dtype, shape, bytes; name order across all files)."""
    entries = []
    for f in files:
        with open(f, "rb") as fh:
            (hlen,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(hlen))
        for name, meta in header.items():
            if name != "__metadata__":
                entries.append((name, f, 8 + hlen, meta))
    h = hashlib.sha256()
    for name, f, base, meta in sorted(entries, key=lambda e: e[0]):
        start, end = meta["data_offsets"]
        h.update(json.dumps([name, meta["dtype"], meta["shape"]]).encode() + b"\0")
        with open(f, "rb") as fh:
            fh.seek(base + start)
            left = end - start
            while left > 0:
                buf = fh.read(min(CHUNK, left))
                if not buf:
                    raise UserError(f"{f}: truncated safetensors file (tensor {name!r})")
                h.update(buf)
                left -= len(buf)
    return h.hexdigest()


def checkpoint_hash(ref: str) -> str | None:
    """Content hash of a local checkpoint dir's safetensors weights; None when not local or no safetensors."""
    d = Path(ref)
    files = sorted(d.glob("*.safetensors")) if d.is_dir() else []
    return safetensors_content_sha256(files) if files else None


def check_integrity(series: Any, strict: bool = False) -> dict[str, Any]:
    """Duplicate weights across differently named checkpoints of `series` (an `interp.series.CheckpointSeries`)."""
    by_hash: dict[str, list[str]] = {}
    n_unhashed = 0
    for c in series.checkpoints:
        h = checkpoint_hash(c.ref) if c.revision is None else None
        if h is None:
            n_unhashed += 1
            continue
        by_hash.setdefault(h, []).append(c.label)
    dups = [labels for labels in by_hash.values() if len(labels) > 1]
    warning = None
    if dups:
        groups = "; ".join(" = ".join(g) for g in dups)
        warning = (f"checkpoints with identical weights under different names: {groups} — a mislabelled or "
                   "re-served checkpoint; their results are the same model's")
        if strict:
            raise UserError(f"--strict: {warning}")
    return {"n_hashed": sum(len(v) for v in by_hash.values()), "n_unhashed": n_unhashed, "duplicates": dups,
            "warning": warning}
