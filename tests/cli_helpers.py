"""Run the `interp` console script and check the bad-input contract.

`run_cli` runs the command's entry point (`interp.cli:main`) in a child forked from a warm process that has
imported torch/transformers once (tests/cli_server.py: ~0.3 s instead of ~3 s per command, the same output and
exit code, checked in tests/unit/test_cli_server.py); with `env=` (a variable that may be read at import time)
or `INTERP_TESTS_FORK=0` it runs the installed script in a fresh subprocess.

The contract (README): a bad input prints exactly one line `error: ...` on stderr, exits 2, shows no traceback,
and writes nothing. Tests use `run_cli` + `assert_user_error` + `snapshot_tree`.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
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


BASE_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


class _Server:
    """One warm process (tests/cli_server.py); one request at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py"))],
                                     env={**os.environ, **BASE_ENV}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def run(self, args: list[str], cwd: str, timeout: float, stdin: str) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": args, "cwd": cwd, "timeout": timeout, "stdin": stdin,
                                          "script": INTERP}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm interp process died (rc {self.proc.poll()})")
        return json.loads(line)


_idle: queue.Queue[_Server] = queue.Queue()
_made, _made_lock = [0], threading.Lock()


def _server() -> _Server:
    try:
        return _idle.get_nowait()
    except queue.Empty:
        pass
    with _made_lock:
        if _made[0] < max(1, min(4, os.cpu_count() or 1)):
            _made[0] += 1
            return _Server()
    return _idle.get()


def run_cli(args: list[str], cwd: str | os.PathLike, env: dict[str, str] | None = None,
            timeout: float = 120, stdin: str | None = None) -> Completed:
    """`interp ARGS` in `cwd`, offline, single-threaded; returns exit code and output."""
    if env is None and os.environ.get("INTERP_TESTS_FORK", "1") != "0":
        srv = _server()
        try:
            r = srv.run([str(a) for a in args], str(Path(cwd).resolve()), timeout, stdin or "")
        finally:
            _idle.put(srv)
        if r["timeout"]:
            raise subprocess.TimeoutExpired([INTERP, *args], timeout, r["stdout"], r["stderr"])
        return Completed(tuple(args), r["rc"], r["stdout"], r["stderr"])
    return run_script(args, cwd, env, timeout, stdin)


def run_script(args: list[str], cwd: str | os.PathLike, env: dict[str, str] | None = None,
               timeout: float = 120, stdin: str | None = None) -> Completed:
    """`interp ARGS` through the installed console script in a fresh subprocess."""
    e = {**os.environ, **BASE_ENV, **(env or {})}
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
