"""Run the *installed* `interp` console script in a subprocess and check the bad-input contract.

The contract (README): a bad input prints exactly one line `error: ...` on stderr, exits 2, shows no traceback,
and writes nothing. Tests use `run_cli` + `assert_user_error` + `snapshot_tree`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The console script next to the interpreter running the tests (the project's .venv), else the one on PATH.
_BIN = Path(sys.executable).with_name("interp")
INTERP = str(_BIN) if _BIN.exists() else (shutil.which("interp") or "interp")


@dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_cli(args: list[str], cwd: str | os.PathLike, env: dict[str, str] | None = None,
            timeout: float = 120, stdin: str | None = None) -> Completed:
    """`interp ARGS` in `cwd`, offline, single-threaded; returns exit code and output."""
    e = dict(os.environ)
    e.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
              "PYTHONWARNINGS": "ignore", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    if env:
        e.update(env)
    p = subprocess.run([INTERP, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout,
                       input=stdin if stdin is not None else "")
    return Completed(tuple(args), p.returncode, p.stdout, p.stderr)


def stderr_lines(r: Completed) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


def assert_user_error(r: Completed, contains: str | None = None) -> str:
    """Exit 2, exactly one non-empty stderr line starting with 'error:', no traceback. Returns that line."""
    lines = stderr_lines(r)
    ctx = f"interp {' '.join(r.args)}\nrc={r.returncode}\nstderr:\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, ctx
    assert r.returncode == 2, ctx
    assert len(lines) == 1, ctx
    assert lines[0].startswith("error: "), ctx
    if contains is not None:
        assert contains.lower() in lines[0].lower(), ctx
    return lines[0]


def snapshot_tree(root: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of every file and dir under `root` (to assert nothing was written)."""
    root = Path(root)
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, st.st_mtime_ns if p.is_file() else 0)
    return out
