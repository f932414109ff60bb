"""Analysis units: one declaration per analysis, from which every registry is derived (lazily).

An analysis package declares ONCE, in its torch-free `unit.py`, what it contributes:

    # interp/lens/unit.py
    from interp.units import Unit

    UNIT = Unit(
        name="lens",                                     # public API name: interp.lens(...)
        function="interp.lens.api:lens",                 # (model, inputs, ..., seed=...) -> FrozenResult
        kinds=("lens",),                                 # result kinds it writes
        figures={"lens": "interp.lens.plots:figures"},   # kind -> builder(result dict) -> [(name, Figure)]
        sections={"lens": "interp.lens.section:SECTION"},  # kind -> interp.kit.section.SectionSpec
        cli="interp.lens.cli",                           # module with a typer `app` (its command(s))
        regress={"lens": "interp.lens.regress:KIND"},    # regress metric kind -> interp.kit.regress.EvalKind
    )

and adds ONE line to `BUILTIN` below ("interp.lens.unit:UNIT"). The CLI app (`interp.cli.app`), the
public API table (`interp.api.API`), the figure registry (`interp.figures`), the report sections
(`reports.sections`) and the regress kinds (`evals.regress.metrics`) are all read from here. Targets are
"module:attribute" strings, imported only when used, so `interp --help` and `interp report` stay
torch-free. Tests (or plugins) add a unit at run time with `register(unit)`, or for every process (the
console script too) with the environment variable `INTERP_UNITS="my_pkg.unit:UNIT,other.unit:UNIT"`
(each a "module:attribute" of a `Unit`; a broken entry fails loudly naming it).

Layers: a unit's `section` module imports only torch-free code below reports (`interp.kit.*`), its `cli`
module is shell code (typer + `interp.cli` helpers), everything else is analysis code. See
docs/architecture.md.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# One line per analysis unit: "module:attribute" of its `Unit` declaration.
BUILTIN: tuple[str, ...] = (
    "interp.train.unit:UNIT",
    "interp.sweep.unit:UNIT",
    "interp.decoding_unit:UNIT",
    "interp.attention.unit:UNIT",
    "interp.ablation.unit:UNIT",
    "interp.patching.unit:UNIT",
    "interp.circuits.unit:UNIT",
    "interp.lens.unit:UNIT",
    "interp.importers.unit:UNIT",
    "evals.unit:UNIT",
    "evals.finetune_unit:UNIT",
    "evals.trimmed.unit:UNIT",
    "evals.regress.unit:UNIT",
    "probes.unit:UNIT",
    "interp.sae.unit:UNIT",
)

CLI_GROUPS: dict[str, str] = {
    "eval": "Evaluate a model: perplexity with a leakage check, prompt sensitivity, trimmed-head classification.",
    "probe": "Probes of what a model has learned (coreference ...).",
    "import": "Import other trainers' checkpoints (nanoGPT ckpt.pt) as Hugging Face dirs.",
}


@dataclass(frozen=True)
class Unit:
    """What one analysis contributes to the CLI, the API, figures, reports and `interp regress`."""

    name: str
    function: str | None = None  # "module:function" of the public function (None: no API function)
    kinds: tuple[str, ...] = ()
    figures: Mapping[str, str] = field(default_factory=dict)
    sections: Mapping[str, str] = field(default_factory=dict)
    cli: str | None = None  # module defining a typer `app`
    cli_group: str | None = None  # None: top-level commands; else a key of CLI_GROUPS (or a new group)
    cli_group_help: str | None = None  # help text when the unit opens a new group
    regress: Mapping[str, str] = field(default_factory=dict)
    api: Mapping[str, str] = field(default_factory=dict)  # further public names -> "module:attribute"

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"unit name {self.name!r} must be a Python identifier")
        targets = [self.function] if self.function else []
        targets += [*self.figures.values(), *self.sections.values(), *self.regress.values(), *self.api.values()]
        for t in targets:
            if not isinstance(t, str) or t.count(":") != 1:
                raise ValueError(f"unit {self.name!r}: target {t!r} is not 'module:attribute'")
        for k in (*self.figures, *self.sections):
            if k not in self.kinds:
                raise ValueError(f"unit {self.name!r}: kind {k!r} is not among its kinds {self.kinds}")
        if self.cli_group is not None and self.cli is None:
            raise ValueError(f"unit {self.name!r}: cli_group without a cli module")


_registered: list[Unit] = []
_builtin: list[Unit] | None = None
_env: tuple[str, list[Unit]] | None = None  # (INTERP_UNITS value, its units)
ENV_VAR = "INTERP_UNITS"


def resolve(target: str) -> Any:
    """The object named by "module:attribute" (imports the module)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def register(unit: Unit) -> Unit:
    """Add a unit at run time (tests, plugins); replaces a registered unit of the same name."""
    if not isinstance(unit, Unit):
        raise TypeError(f"register() takes a Unit, got {type(unit).__name__}")
    unregister(unit.name)
    _registered.append(unit)
    return unit


def unregister(name: str) -> None:
    """Remove a unit added with `register` (no-op for unknown names)."""
    _registered[:] = [u for u in _registered if u.name != name]


def _load_units(targets: tuple[str, ...], where: str) -> list[Unit]:
    out = []
    for t in targets:
        try:
            u = resolve(t)
        except (ImportError, AttributeError, ValueError) as e:
            raise ImportError(f"{where}: cannot import unit {t!r} ({type(e).__name__}: {e})") from e
        if not isinstance(u, Unit):
            raise TypeError(f"{where}: {t} is not a Unit")
        out.append(u)
    return out


def _env_units() -> list[Unit]:
    """The units named in $INTERP_UNITS (re-read when the variable changes)."""
    global _env
    value = os.environ.get(ENV_VAR, "")
    if _env is None or _env[0] != value:
        targets = tuple(t.strip() for t in value.split(",") if t.strip())
        _env = (value, [])  # while importing them (their modules may import interp): none yet, no recursion
        try:
            _env = (value, _load_units(targets, ENV_VAR))
        except BaseException:
            _env = None
            raise
    return _env[1]


def units() -> list[Unit]:
    """Every unit: the built-in declarations (imported once, torch-free), those named in $INTERP_UNITS, then
    the registered ones (a later unit replaces an earlier one of the same name)."""
    global _builtin
    if _builtin is None:
        _builtin = _load_units(BUILTIN, "interp.units.BUILTIN")
    out: dict[str, Unit] = {}
    for u in [*_builtin, *_env_units(), *_registered]:
        out.pop(u.name, None)
        out[u.name] = u
    return list(out.values())


def _table(attr: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for u in units():
        for key, target in getattr(u, attr).items():
            if key in out and out[key] != target:
                raise ValueError(f"{attr} key {key!r} is declared twice ({out[key]} and {target})")
            out[key] = target
    return out


def api_table() -> dict[str, str]:
    """Public name -> "module:attribute" (each unit's function under its name, plus its extra names)."""
    out: dict[str, str] = {}
    for u in units():
        if u.function:
            out[u.name] = u.function
        out.update(u.api)
    return out


def figures_table() -> dict[str, str]:
    """Result kind -> figure builder target."""
    return _table("figures")


def sections_table() -> dict[str, str]:
    """Result kind -> report SectionSpec target."""
    return _table("sections")


def regress_table() -> dict[str, str]:
    """Regress metric kind -> EvalKind target."""
    return _table("regress")


def cli_modules() -> tuple[tuple[str, ...], dict[str, tuple[str, tuple[str, ...]]]]:
    """(top-level command modules, {group: (help, modules)}) in declaration order."""
    top: list[str] = []
    groups: dict[str, tuple[str, list[str]]] = {}
    for u in units():
        if u.cli is None:
            continue
        if u.cli_group is None:
            if u.cli not in top:
                top.append(u.cli)
            continue
        help_text = CLI_GROUPS.get(u.cli_group) or u.cli_group_help or f"{u.cli_group} commands"
        mods = groups.setdefault(u.cli_group, (help_text, []))[1]
        if u.cli not in mods:
            mods.append(u.cli)
    return tuple(top), {g: (h, tuple(m)) for g, (h, m) in groups.items()}


__all__ = ["BUILTIN", "CLI_GROUPS", "ENV_VAR", "Unit", "api_table", "cli_modules", "figures_table", "regress_table",
           "register", "resolve", "sections_table", "unregister", "units"]
