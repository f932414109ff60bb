"""Where a loaded model came from: one stable model name per reference (torch-free).

A model reference is a string (run dir, checkpoint/HF dir, .gguf file, 'gemma-3-270m', hub id, hub
id@revision) or a model loaded from one. `interp.hooked.load`/`interp.load` remember the reference of
every model they load (`remember`), so a loaded model passed to any public function gives the same results
JSON as the CLI given the reference: `reference_of(model)` finds it again, `model_name(model)` is the one
`model` field every analysis writes. `interp.hooked.load_model(ref_or_model)` is the one loader.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import Any

_refs: dict[int, str] = {}  # id(model) -> reference; entries removed when the model is freed


@dataclass(frozen=True)
class ModelInfo:
    """name: the `model` field of results JSON (the reference as given, else the model's own name);
    ref: the reference to reload or read run metadata from (None: a model built elsewhere)."""

    name: str
    ref: str | None


def as_reference(model: Any) -> str | None:
    """The reference string of a str / os.PathLike (None for anything else)."""
    if isinstance(model, (str, os.PathLike)):
        return str(os.fspath(model))
    return None


def remember(model: Any, ref: str) -> Any:
    """Record that `model` was loaded from `ref` (kept while `model` is alive); returns `model`."""
    key = id(model)
    _refs[key] = ref
    try:
        weakref.finalize(model, _refs.pop, key, None)
    except TypeError:  # not weak-referenceable: kept for the process's life
        pass
    inner = getattr(model, "original_model", None)  # the HF model inside a TransformerBridge knows it too
    if inner is not None and id(inner) not in _refs:
        remember(inner, ref)
    return model


def reference_of(model: Any) -> str | None:
    """The reference `model` stands for: itself when a string/path, else what it was loaded from (or None)."""
    ref = as_reference(model)
    if ref is not None:
        return ref
    return _refs.get(id(model))


def model_name(model: Any) -> str:
    """The stable `model` name results JSON carries for a reference or a loaded model."""
    ref = reference_of(model)
    if ref is not None:
        return ref
    cfg = getattr(model, "cfg", None) or getattr(model, "config", None)
    return str(getattr(cfg, "model_name", None) or getattr(cfg, "name_or_path", None) or type(model).__name__)


def model_info(model: Any) -> ModelInfo:
    return ModelInfo(name=model_name(model), ref=reference_of(model))


__all__ = ["ModelInfo", "as_reference", "model_info", "model_name", "reference_of", "remember"]
