"""interp: train, hook, analyse and evaluate small decoder-only language models.

A notebook reads like the CLI (every function is the one the CLI command calls, same names/defaults)::

    import interp
    run = "runs/tiny"
    interp.train(run, preset="tiny", epochs=1)
    model = interp.load(run)                                   # TransformerBridge
    maps = interp.attention(model, "The king said that he")    # FrozenResult: .to_dict() .plot() .save(dir)
    abl = interp.ablate(model, heads="0.1,1.3", method="mean")
    interp.coref(model, data="builtin-small")

Names are resolved lazily (`interp.api.API`): `import interp` does not import torch. A few public names
coincide with subpackages (`interp.train`, `interp.attention`): those modules are made callable, so
`interp.attention(model, prompt)` calls the analysis and `interp.attention.AttentionConfig` still works.
Unknown keyword arguments raise `TypeError` naming the valid ones; bad input raises `interp.UserError`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import types
from typing import Any

from interp.api import API, checked, target
from interp.versions import __version__  # noqa: F401


class _CallableModule(types.ModuleType):
    """A subpackage whose name is also a public function (`interp.train`): calling it calls the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self.__name__.rpartition(".")[2]
        if name not in API:
            raise TypeError(f"module {self.__name__!r} is not callable (no public function interp.{name})")
        return _function(name)(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:  # inspect.signature(interp.attention) → the function's
        return inspect.signature(_function(self.__name__.rpartition(".")[2]))


class _Interp(types.ModuleType):
    """The `interp` package: its subpackages become callable (calling one calls the public function of the
    same name). Whether that name is public is asked at call time, not here: binding happens while the
    analysis units themselves are being imported, when the API table cannot be read yet."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and value.__name__ == f"interp.{name}"
                and not isinstance(value, _CallableModule)):
            cls = type(value)  # a plain module, or a lazy package (interp.lazy) whose __setattr__ is kept
            value.__class__ = (_CallableModule if cls is types.ModuleType
                               else type(f"_Callable{cls.__name__}", (_CallableModule, cls), {}))
        super().__setattr__(name, value)


_wrapped: dict[tuple[str, str], Any] = {}


def _function(name: str) -> Any:
    key = (name, API[name])  # a unit registered again under the same name may point elsewhere
    if key not in _wrapped:
        obj = target(name)
        _wrapped[key] = checked(name, obj) if inspect.isfunction(obj) else obj
    return _wrapped[key]


def __getattr__(name: str) -> Any:
    if name == "__all__":  # derived from the analysis units on first use
        return sorted(API)
    if not name.startswith("_") and importlib.util.find_spec(f"interp.{name}") is not None:
        # a submodule (`from interp import stats` while the units load) or a subpackage named like a public
        # function: imported without reading the API table; bound (callable) by _Interp.__setattr__
        return importlib.import_module(f"interp.{name}")
    if name not in API:
        raise AttributeError(f"module 'interp' has no attribute {name!r}")
    return _function(name)  # not cached as a module global: a unit unregistered later is gone at once


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))


sys.modules[__name__].__class__ = _Interp
