"""The metric-kind registry of `interp regress` (lazy, lm-eval-harness style).

`KINDS` maps a suite's `kind = "..."` to "module:object", the `EvalKind` that implements it. Nothing is
imported until a suite names the kind (`get_kind`), so `interp regress --help` stays light and a broken
optional kind cannot break the others. Unknown kinds are rejected with one line listing the valid ones.

Adding a metric kind = one module + its line in the analysis unit's `regress` (`interp.units.Unit`):

    # evals/regress/metrics/mykind.py
    from interp.kit.regress import EvalKind, MetricSpec, Param, mean_of, proportion

    def _adapter(model, params, ctx):          # model: a loaded TransformerBridge
        res = my_eval(model, ..., seed=ctx.seed)   # call the eval's ONE public function (no re-implementation)
        return {"score": proportion(res.k, res.n),            # accuracy-like: Wilson/Newcombe bound
                "loss": mean_of(res.per_item_losses)}         # per-item samples: seeded bootstrap bound

    KIND = EvalKind(
        name="mykind",
        doc="one line for --list-kinds",
        params={"heads": Param("str", doc="...", check=lambda v: None if v else "must not be empty"),
                "file": Param("path", None, "input file, relative to the suite; hashed into the config")},
        metrics={"score": MetricSpec("score", "higher", "proportion", "..."),
                 "loss": MetricSpec("loss", "lower", "mean", "...", default=False)},
        adapter=_adapter,
        validate=lambda params, metrics: None,   # optional: combination checks → error text or None
        seeded=False,                            # or a predicate on params: the seed enters the config hash
    )

The protocol (types in `evals.regress.protocol`):
- `params`: every key a suite may set, typed (str | int | float | bool | str_list | path) with a default
  (`REQUIRED` when it has none) and an optional `check(value) -> error | None`. The suite parser fills
  defaults, resolves "path" params against the suite's folder and rejects unknown keys, all before any model
  is loaded. Error texts name the suite key, never a CLI flag.
- `metrics`: `MetricSpec(name, direction, stat)`; direction "higher" | "lower" | None (the suite must say);
  stat "proportion" (k/n) | "mean" | "exp_mean" (of per-item samples) picks the statistical bound.
- `adapter(model, params, ctx) -> {metric: MetricValue}` returns at least the metrics the suite checks;
  `ctx` (`EvalContext`) carries the model reference, the suite folder, the seed and the device.
  Raise `UserError` for bad input found only with the model (e.g. a head out of range).
"""

from __future__ import annotations

import importlib
from typing import Any

from interp.errors import UserError


def __getattr__(name: str) -> Any:
    """`KINDS`: kind name → "module:object" (an `EvalKind`), derived from the analysis units' `regress`."""
    if name == "KINDS":
        return _kinds()
    raise AttributeError(name)


def _kinds() -> dict[str, str]:
    from interp.units import regress_table

    return regress_table()

_loaded: dict[str, Any] = {}


def kind_names() -> list[str]:
    """The registered kind names, sorted."""
    return sorted(_kinds())


def get_kind(name: Any) -> Any:
    """The `EvalKind` registered as `name` (imported on first use); UserError listing the valid kinds."""
    kinds = _kinds()
    if not isinstance(name, str) or name not in kinds:
        raise UserError(f"unknown eval kind {name!r}; choose one of: {', '.join(kind_names())}")
    if kinds[name] not in _loaded:
        module, _, obj = kinds[name].partition(":")
        kind = getattr(importlib.import_module(module), obj)
        if getattr(kind, "name", None) != name:
            raise RuntimeError(f"{kinds[name]} is registered as {name!r} but is named {getattr(kind, 'name', None)!r}")
        _loaded[kinds[name]] = kind
    return _loaded[kinds[name]]


def describe_kinds() -> dict[str, Any]:
    """Every kind with its parameters and metrics (for `interp regress --list-kinds` and docs)."""
    out = {}
    for name in kind_names():
        k = get_kind(name)
        out[name] = {
            "doc": k.doc,
            "params": {p: {"type": s.type, "required": s.required, "default": None if s.required else s.default,
                           "doc": s.doc} for p, s in k.params.items()},
            "metrics": {m: {"direction": s.direction, "stat": s.stat, "doc": s.doc} for m, s in k.metrics.items()},
        }
    return out


__all__ = ["KINDS", "describe_kinds", "get_kind", "kind_names"]
