"""The root `interp` command: composes the command modules downward (typer's one-file-per-command layout).

Every command module under `interp.cli` defines its own `app = typer.Typer()` and never imports this module.
Here each one is added to the root app — without a name (its commands become top-level commands) or under a
group name (`interp eval ...`, `interp probe ...`). Which modules: each analysis unit's `cli` (and `cli_group`),
declared in its `unit.py` (`interp.units`), plus the shell's own commands (`SHELL_COMMANDS`). Command modules import torch & co. lazily, inside the
command function, so `interp --help` and `interp report` start without torch.
"""

from __future__ import annotations

import importlib

import typer

# Shell commands (not analyses): added around the units' commands.
SHELL_COMMANDS: tuple[str, ...] = ("interp.cli.report_cmds", "interp.cli.demo_cmd")


def command_modules() -> tuple[tuple[str, ...], dict[str, tuple[str, tuple[str, ...]]]]:
    """(top-level command modules, {group: (help, modules)}): the analysis units' CLI modules + the shell's."""
    from interp.units import cli_modules

    top, groups = cli_modules()
    return (*top, *SHELL_COMMANDS), groups


def __getattr__(name: str):
    """`COMMANDS` / `GROUPS` (old names): derived from the units."""
    if name == "COMMANDS":
        return command_modules()[0]
    if name == "GROUPS":
        return command_modules()[1]
    raise AttributeError(name)


def _sub_app(module: str) -> typer.Typer:
    return importlib.import_module(module).app


def build_app() -> typer.Typer:
    """The root typer app with every command module added."""
    root = typer.Typer(
        name="interp",
        help="Train, hook, analyse and evaluate small decoder-only language models.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    commands, groups = command_modules()
    for module in commands:
        root.add_typer(_sub_app(module))
    for name, (help_text, modules) in groups.items():
        group = typer.Typer(name=name, help=help_text, no_args_is_help=True, rich_markup_mode="rich")
        for module in modules:
            group.add_typer(_sub_app(module))
        root.add_typer(group, name=name)
    return root


app = build_app()
