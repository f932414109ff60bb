"""An exclusive lock on a directory that one process writes (a training run, a results dir).

    with run_lock(run_dir):          # RUN_DIR/.lock, fcntl.flock(LOCK_EX | LOCK_NB), our pid written inside
        ...write run_dir...

A second process (or a second `run_lock` on the same dir) gets a one-line `UserError` naming the pid
that holds it and writes nothing. The OS drops the lock when the holder exits or is killed, so a stale
`.lock` file from a crashed run never blocks anyone. Locks are advisory: only writers that take the lock
are excluded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from interp.errors import UserError

LOCK_NAME = ".lock"


def lock_holder(directory: str | os.PathLike) -> int | None:
    """The pid written in DIR/.lock if another process holds the lock now, else None (a free/absent lock)."""
    path = Path(directory) / LOCK_NAME
    if not path.is_file():
        return None
    try:
        f = open(path, "rb")  # flock works on a read-only descriptor too
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            return _read_pid(path) or -1
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike, what: str = "run dir") -> Iterator[Path]:
    """Hold an exclusive lock on `directory` (which must exist) for the body; yields the lock file path.

    Raises UserError("<what> DIR is in use by process PID ...") when another process holds it.
    """
    d = Path(directory)
    path = d / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot lock {what} {d}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = _read_pid(path)
            holder = f"process {pid}" if pid else "another process"
            raise UserError(f"{what} {d} is in use by {holder} (it holds {path}); wait for it to finish or stop "
                            "it, then retry") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
