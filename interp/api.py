"""The public Python API: the name → "module:function" table behind `import interp`, and its call wrapper.

`interp/__init__.py` exposes every name of `API` lazily (importing `interp` imports neither torch nor
transformers nor matplotlib; the target module is imported on first use). Each function is the one
the CLI command calls, with the CLI's names and defaults, so a notebook reads like the CLI:

    import interp
    model = interp.load("runs/small")                       # a TransformerBridge
    res = interp.attention(model, "The king said that he")  # a FrozenResult
    res.to_dict(); res.plot(); res.save("out/attention")    # JSON · figures · what the CLI writes

Calls go through `checked`: an unknown keyword argument raises `TypeError` naming the valid ones
(instead of Python's bare "unexpected keyword argument"). User errors raise `interp.UserError` with
the one-line message the CLI prints.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# Shell-level public names; every analysis unit adds its function(s) (`interp.units.api_table`).
BASE_API: dict[str, str] = {
    "load": "interp.api:load",
    "series": "interp.series:as_series",
    "report": "reports.api:report",
    "UserError": "interp.errors:UserError",
    "Unit": "interp.units:Unit",
    "register": "interp.units:register",
}


class _Api(Mapping[str, str]):
    """public name → "module:attribute": BASE_API plus the units' names (`interp.units`), read on each use, so
    a unit added with `interp.register(...)` is public at once."""

    def _table(self) -> dict[str, str]:
        from interp.units import api_table

        return {**BASE_API, **api_table()}

    def __getitem__(self, name: str) -> str:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


API: Mapping[str, str] = _Api()


def target(name: str) -> Any:
    """The object a public name stands for (imports its module)."""
    module, _, attr = API[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _valid_keywords(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [], True
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return [], True
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)], False


def check_keywords(name: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """TypeError naming the valid keyword arguments when `kwargs` has one `fn` does not take."""
    valid, anything = _valid_keywords(fn)
    if anything:
        return
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        raise TypeError(f"interp.{name}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"valid keyword arguments: {', '.join(valid)}")


def checked(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its signature/docstring, raising a TypeError that names the valid keywords on a typo."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        check_keywords(name, fn, kwargs)
        # a model / run reference given as a Path means the same as its string
        if args and isinstance(args[0], os.PathLike):
            args = (os.fspath(args[0]), *args[1:])
        for key in ("model", "run_dir", "run_or_series"):
            if isinstance(kwargs.get(key), os.PathLike):
                kwargs[key] = os.fspath(kwargs[key])
        return fn(*args, **kwargs)

    call.__module__ = "interp"
    call.__qualname__ = name
    return call


def load(ref: str | os.PathLike[str], *, device: str = "cpu") -> Any:
    """Load any model reference as a `transformer_lens.TransformerBridge` (eval mode, raw HF weights).

    `ref`: a training run dir (→ its checkpoints/best), a checkpoint or HF dir (safetensors only), a local
    `.gguf` file (de-quantized and converted once to a cached HF dir), `"gemma-3-270m"` (the packaged
    weights), or a hub id such as `"google/gemma-2b"` (needs network). `device`: cpu, cuda, cuda:N, mps.
    Bad references raise `interp.UserError` with the CLI's one-line message. The model remembers `ref`
    (`interp.model_ref`): every public function given it writes the results JSON the CLI writes for `ref`.
    """
    from interp import hooked
    from interp.devices import check_device

    return hooked.load_model(str(os.fspath(ref)), check_device(device))[0]


__all__ = ["API", "check_keywords", "checked", "load", "target"]
