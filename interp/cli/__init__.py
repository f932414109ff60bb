"""`interp` console script: a thin typer front-end (the root app is composed in `interp.cli.app`).

`run(argv)` is the boundary that turns every failure a user can cause into one line on stderr and exit code 2:
- usage errors (unknown command/option, missing argument, bad type/range) → click's message + the `--help` hint;
- `UserError` from anywhere → `error: <message>`;
- OS errors on the paths a user gave (an `--out` that is a file, a read-only filesystem, a full disk) →
  `error: <what> <path>: <reason>`.
Nothing else is caught: a bug still shows its traceback.

typer ≥ 0.2x vendors click as `typer._click`, so both click's and typer's exception classes are handled here.
"""

from __future__ import annotations

import errno
import math
import sys
from typing import Any

import click
import typer

from interp.errors import UserError

try:  # typer's vendored click (typer ≥ 0.2x); older typer uses click itself
    import typer._click.exceptions as _tclick
except ImportError:  # pragma: no cover
    _tclick = click.exceptions

_CLICK_EXC = tuple({click.exceptions.ClickException, _tclick.ClickException})
_ABORT = tuple({click.exceptions.Abort, getattr(_tclick, "Abort", click.exceptions.Abort), typer.Abort})
_EXIT = tuple({click.exceptions.Exit, typer.Exit})
_NO_ARGS_HELP = tuple(c for c in (getattr(_tclick, "NoArgsIsHelpError", None),
                                  getattr(click.exceptions, "NoArgsIsHelpError", None)) if c is not None)

_OS_HINTS = {
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.EROFS: "the filesystem is read-only; choose a writable path",
    errno.ENOSPC: "the disk is full; free some space or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a directory; choose another path",
    errno.EEXIST: "it already exists; remove it or choose another path",
    errno.EISDIR: "it is a directory; give a file path",
    errno.ENOENT: "it does not exist; check the path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


def _command_path(e: Exception) -> str:
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", "") if ctx is not None else ""
    parts = path.split()
    return " ".join(["interp", *parts[1:]]) if parts else "interp"


def os_error_message(e: OSError) -> str:
    """One line for an OS error on a path: the path, the reason, what to do."""
    path = e.filename if e.filename is not None else ""
    if e.filename2 is not None:
        path = f"{path} -> {e.filename2}"
    reason = e.strerror or str(e)
    hint = _OS_HINTS.get(e.errno or -1, "check the path")
    where = f" {path!s}" if path else ""
    return f"cannot use{where}: {reason}; {hint}"


def _finite(callback: Any) -> Any:
    """Wrap a parameter callback so a non-finite float (nan, inf) is a usage error, for every flag."""

    def check(ctx: Any, param: Any, value: Any) -> Any:
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise _tclick.BadParameter(f"{v} is not a finite number", ctx=ctx, param=param)
        return callback(ctx, param, value) if callback is not None else value

    return check


def command() -> Any:
    """The root click command, with every float parameter of every command guarded against nan/inf."""
    import typer.main

    from interp.cli.app import app

    root = typer.main.get_command(app)
    stack = [root]
    while stack:
        cmd = stack.pop()
        for p in cmd.params:
            p.callback = _finite(p.callback)
        stack.extend(getattr(cmd, "commands", {}).values())
    return root


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv`; return the exit code (used by `main` and the tests)."""
    try:
        from interp.text_input import check_prompt

        for k, arg in enumerate(sys.argv[1:] if argv is None else argv, 1):
            check_prompt(arg, f"argument {k}")
        rv = command().main(args=argv, prog_name="interp", standalone_mode=False)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return UserError.exit_code
    except _EXIT as e:
        return int(getattr(e, "exit_code", 0) or 0)
    except _ABORT:
        print("aborted", file=sys.stderr)
        return 130
    except _NO_ARGS_HELP as e:  # `interp eval` alone: show the group's help, exit 2 like click does
        ctx = getattr(e, "ctx", None)
        print(ctx.get_help() if ctx is not None else e.format_message(), file=sys.stderr)
        return 2
    except _CLICK_EXC as e:
        msg = " ".join(e.format_message().split())
        print(f"error: {msg} (see '{_command_path(e)} --help')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno is None or isinstance(e, (ConnectionError, TimeoutError)):
            raise
        print(f"error: {os_error_message(e)}", file=sys.stderr)
        return UserError.exit_code
    return rv if isinstance(rv, int) else 0


def main() -> None:
    code = run(sys.argv[1:])
    sys.stdout.flush()
    sys.exit(code)
