"""Lazy package exports (PEP 562): a package re-exports names from its modules without importing them
(and torch) until a name is first used, so importing a package — e.g. for its torch-free `unit.py` — is cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package` exporting each name from its module ("module:attr"; a bare "module" exports the module itself)."""

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = target.partition(":")
        value = importlib.import_module(module) if not attr else getattr(importlib.import_module(module), attr)
        import sys

        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    import sys
    import types

    class _Package(types.ModuleType):
        """Keeps an exported function when the import system binds a submodule of the same name over it
        (`interp.ablation.sweep` stays the function after `interp.ablation.sweep` the module is imported)."""

        def __setattr__(self, name: str, value: Any) -> None:
            module, _, attr = names.get(name, "").partition(":")
            if attr and isinstance(value, types.ModuleType) and value.__name__ == module == f"{package}.{name}":
                value = getattr(value, attr, value)  # the module has run to its end: its attribute exists
            super().__setattr__(name, value)

    mod = sys.modules.get(package)
    if mod is not None and type(mod) is types.ModuleType:
        mod.__class__ = _Package
    return __getattr__, __dir__


__all__ = ["lazy_exports"]
