"""`interp` console script: thin typer front-end.

Each command group lives in its own module and registers itself on `app`; commands only parse flags,
call one pure function, and write results JSON/figures (see `interp.cli.common`). A `UserError`
anywhere becomes `error: <one line>` on stderr and exit code 2 — never a traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from interp.errors import UserError

app = typer.Typer(
    name="interp",
    help="Train, hook, analyse and evaluate small decoder-only language models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command groups (imported for their side effect of registering commands on `app`).
from interp.cli import (  # noqa: E402,F401,I001
    train_cmd,
    model_cmds,
    attention_cmds,
    ablation_cmds,
    probe_cmds,
    eval_cmds,
    report_cmds,
    regress_cmds,
    demo_cmd,
)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv`; return the exit code (used by `main` and the tests)."""
    try:
        rv = app(args=argv, prog_name="interp", standalone_mode=False)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return UserError.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except click.ClickException as e:
        cmd = f" {e.ctx.command_path}" if getattr(e, "ctx", None) else ""
        print(f"error: {e.format_message()} (see 'interp{cmd.replace(' interp', '', 1)} --help')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return rv if isinstance(rv, int) else 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
