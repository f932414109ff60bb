"""A sweep's search space (SPACE.toml) → a frozen, validated `SweepSpec`.

    [sweep]                      # optional: name, pruner settings
    name = "lr-layers"
    prune_startup_trials = 2     # MedianPruner: trials finished before pruning starts
    prune_warmup_steps = 0       # ... and steps into a trial before it may be pruned
    order = "shuffled"           # grid order: shuffled by --seed (default) or "given" (first parameter slowest)

    [train]                      # fixed `interp train` flags (TrainConfig.from_flags names) for every trial
    preset = "tiny"
    max_steps = 60
    eval_every = 10              # intermediate val losses: what the pruner compares

    [space]                      # searched flags
    lr = [1e-3, 3e-3]            # a list: these values (all lists → a grid: GridSampler)
    n_layers = [1, 2]
    d_model = {low = 32, high = 128, step = 32}      # an int range
    warmup_steps = {low = 0, high = 50}
    weight_decay = {low = 1e-3, high = 0.3, log = true}  # a float range (TPE)
"""

from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from interp.errors import UserError

_NOT_SEARCHABLE = {"init_from", "corpus", "device", "seed"}  # fixed in [train], never searched


def train_flags() -> list[str]:
    from interp.train.config import TrainConfig

    return [p for p in inspect.signature(TrainConfig.from_flags).parameters if p != "cls"]


def _finite(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise UserError(f"search space: {name} has a non-finite or non-numeric bound {v!r}; give finite numbers")


def _param(name: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, list):
        if not spec:
            raise UserError(f"search space: {name} = [] is empty; give at least one value")
        for v in spec:
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"search space: {name} has a non-finite value {v!r}")
        return {"values": list(spec)}
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(spec):
            raise UserError(f"search space: {name} must be a list of values or {{low, high[, log, step]}}; "
                            f"got keys {sorted(spec)}")
        lo, hi = spec["low"], spec["high"]
        _finite(name, lo)
        _finite(name, hi)
        if not lo < hi:
            raise UserError(f"search space: {name} range [{lo}, {hi}] is empty; low must be < high")
        if spec.get("log") and lo <= 0:
            raise UserError(f"search space: {name} is log-scaled, so low must be > 0 (got {lo})")
        is_int = isinstance(lo, int) and isinstance(hi, int) and isinstance(spec.get("step", 1), int)
        return {"low": lo, "high": hi, "log": bool(spec.get("log", False)), "step": spec.get("step"), "int": is_int}
    raise UserError(f"search space: {name} must be a list of values or a {{low, high}} table, not {spec!r}")


@dataclass(frozen=True)
class SweepSpec:
    """The parsed SPACE.toml. `space`: name → {"values": [...]} or {"low", "high", "log", "step", "int"}."""

    name: str
    base: dict[str, Any] = field(default_factory=dict)
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    prune_startup_trials: int = 2
    prune_warmup_steps: int = 0
    order: str = "shuffled"  # grid order: "shuffled" (seeded, like Optuna's GridSampler) or "given"
    source: str = ""

    def __post_init__(self) -> None:
        flags = train_flags()
        for section, names in (("[train]", self.base), ("[space]", self.space)):
            for n in names:
                if n not in flags:
                    raise UserError(f"unknown parameter {n!r} in {section} of {self.source or 'the search space'}; "
                                    f"valid: {', '.join(flags)}")
        for n in self.space:
            if n in _NOT_SEARCHABLE:
                raise UserError(f"{n} cannot be searched; fix it in [train]")
            if n in self.base:
                raise UserError(f"{n} is both fixed in [train] and searched in [space]; keep one")
        if not self.space:
            raise UserError(f"the search space of {self.source or 'the sweep'} is empty; add a [space] table "
                            "like lr = [1e-3, 3e-3]")
        if self.order not in ("shuffled", "given"):
            raise UserError(f"[sweep] order must be 'shuffled' or 'given', got {self.order!r}")
        for n in ("prune_startup_trials", "prune_warmup_steps"):
            v = getattr(self, n)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise UserError(f"[sweep] {n} must be an integer >= 0, got {v!r}")

    @property
    def is_grid(self) -> bool:
        return all("values" in p for p in self.space.values())

    def grid(self, seed: int = 0) -> list[dict[str, Any]]:
        """Every point of a grid space: first parameter slowest ("given"), or that list shuffled by `seed`."""
        import random

        names = list(self.space)
        pts = [dict(zip(names, vals, strict=True)) for vals in itertools.product(*(self.space[n]["values"]
                                                                                   for n in names))]
        if self.order == "shuffled":
            random.Random(seed).shuffle(pts)
        return pts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "space": self.space, "grid": self.is_grid,
                "prune_startup_trials": self.prune_startup_trials, "prune_warmup_steps": self.prune_warmup_steps,
                "order": self.order}


def load_space(path: str | Path) -> SweepSpec:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"search space {str(path)!r} does not exist; pass a SPACE.toml file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"search space {str(path)!r} is not valid TOML ({str(e).splitlines()[0]})") from None
    unknown = set(doc) - {"sweep", "train", "space"}
    if unknown:
        raise UserError(f"search space {str(path)!r} has unknown table(s) {sorted(unknown)}; use [sweep], [train], "
                        "[space]")
    meta = doc.get("sweep", {})
    bad = set(meta) - {"name", "prune_startup_trials", "prune_warmup_steps", "order"}
    if bad:
        raise UserError(f"unknown parameter(s) {sorted(bad)} in [sweep] of {path}; valid: name, "
                        "prune_startup_trials, prune_warmup_steps, order")
    space = {n: _param(n, v) for n, v in (doc.get("space") or {}).items()}
    return SweepSpec(name=str(meta.get("name", p.stem)), base=dict(doc.get("train") or {}), space=space,
                     prune_startup_trials=meta.get("prune_startup_trials", 2),
                     prune_warmup_steps=meta.get("prune_warmup_steps", 0), order=meta.get("order", "shuffled"),
                     source=str(path))
