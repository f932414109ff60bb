"""The root `interp` command: composes the command modules downward (typer's one-file-per-command layout).

Every command module under `interp.cli` defines its own `app = typer.Typer()` and never imports this module.
Here each one is added to the root app — without a name (its commands become top-level commands) or under a
group name (`interp eval ...`, `interp probe ...`). To add a command: write `interp/cli/<x>_cmd.py` with its own
`app`, then add one line to `COMMANDS` or `GROUPS` below. Command modules import torch & co. lazily, inside the
command function, so `interp --help` and `interp report` start without torch.
"""

from __future__ import annotations

import importlib

import typer

# Top-level commands: modules whose `app` commands are merged into the root.
COMMANDS: tuple[str, ...] = (
    "interp.cli.train_cmd",
    "interp.cli.sweep_cmd",
    "interp.cli.model_cmds",
    "interp.cli.attention_cmds",
    "interp.cli.ablation_cmds",
    "interp.cli.patch_cmd",
    "interp.cli.report_cmds",
    "interp.cli.regress_cmds",
    "interp.cli.demo_cmd",
)

# Groups: name → (help, modules whose `app` commands form the group).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "eval": ("Evaluate a model: perplexity with a leakage check, prompt sensitivity, trimmed-head classification.",
             ("interp.cli.eval_cmds", "interp.cli.eval_trimmed_cmd")),
    "probe": ("Probes of what a model has learned (coreference ...).", ("interp.cli.probe_cmds",)),
    "import": ("Import other trainers' checkpoints (nanoGPT ckpt.pt) as Hugging Face dirs.", ("interp.cli.import_cmd",)),
}


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
    for module in COMMANDS:
        root.add_typer(_sub_app(module))
    for name, (help_text, modules) in GROUPS.items():
        group = typer.Typer(name=name, help=help_text, no_args_is_help=True, rich_markup_mode="rich")
        for module in modules:
            group.add_typer(_sub_app(module))
        root.add_typer(group, name=name)
    return root


app = build_app()
