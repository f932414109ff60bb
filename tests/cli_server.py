"""A warm `interp` process for the console-script tests: it imports the CLI, torch and transformers once, then
for each request forks a child that runs the console script's entry point (`interp.cli:main`, what
`.venv/bin/interp` calls) with the request's argv, cwd and stdin, its stdout/stderr going to files.

Why: the bad-input tables run ~700 `interp` commands; a fresh process spends ~2.5 CPU-s importing torch and
transformers before it reads its arguments, which was over half of the suite's CPU time. A forked child starts
from those imports already done and is otherwise the command-line process: its own pid, cwd, environment,
file descriptors 0/1/2 and exit code. `tests/unit/test_cli_server.py` checks that a sample of commands gives
byte-identical output and exit codes here and through the installed script; `INTERP_TESTS_FORK=0` runs
every command through the installed script instead.

Protocol (JSON lines on stdin/stdout): {"argv", "cwd", "stdin", "timeout"} -> {"rc", "stdout", "stderr"}; rc is
-N when killed by signal N ("timeout": true when it ran past `timeout` seconds and was killed).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time


def _child(req: dict, fin: str, fout: str, ferr: str) -> None:
    code = 1
    try:
        os.chdir(req["cwd"])
        for fd, path, mode in ((0, fin, os.O_RDONLY), (1, fout, os.O_WRONLY), (2, ferr, os.O_WRONLY)):
            f = os.open(path, mode)
            os.dup2(f, fd)
            os.close(f)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = [req["script"], *req["argv"]]
        from interp.cli import main

        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int) and e.code is not None:
                print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 — what the interpreter would print for an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def serve() -> None:
    import interp.cli  # noqa: F401 — the warm imports
    import interp.hooked  # noqa: F401 — torch, transformers
    from interp.cli import command

    command()
    proto_in, proto_out = sys.stdin, sys.stdout
    for line in proto_in:
        req = json.loads(line)
        with tempfile.TemporaryDirectory(prefix="interp-cli-") as tmp:
            fin, fout, ferr = (os.path.join(tmp, n) for n in ("in", "out", "err"))
            with open(fin, "w", encoding="utf-8") as f:
                f.write(req.get("stdin") or "")
            open(fout, "w").close()
            open(ferr, "w").close()
            pid = os.fork()
            if pid == 0:
                _child(req, fin, fout, ferr)
            deadline, timed_out = time.monotonic() + float(req.get("timeout") or 120), False
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    timed_out, status = True, signal.SIGKILL
                    break
                time.sleep(0.005)
            rc = -signal.SIGKILL if timed_out else (
                os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status))
            with open(fout, encoding="utf-8", errors="replace") as f:
                out = f.read()
            with open(ferr, encoding="utf-8", errors="replace") as f:
                err = f.read()
        proto_out.write(json.dumps({"rc": rc, "stdout": out, "stderr": err, "timeout": timed_out}) + "\n")
        proto_out.flush()


if __name__ == "__main__":
    serve()
