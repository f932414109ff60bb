"""Probe an output location before any work: a failed write after minutes of work (or after progress bars)
is the wrong time to learn that --out is a file or sits on a read-only mount."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from interp.errors import UserError


def check_writable_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """`path` is (or can be created as) a directory we can write in; else UserError. Creates nothing that stays."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {p} is a file, not a directory; give a directory path")
    probe = p
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"{what}: {probe} is a file, so {p} cannot be created; choose another path")
    try:  # a real write: os.access() says yes to root even on read-only mounts and sysfs
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".interp-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise UserError(f"{what}: {probe} is not writable ({e.strerror}); choose another path") from None
    return p
