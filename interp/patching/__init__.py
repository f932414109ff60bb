"""Causal localization: activation patching (exact, batched) and attribution patching (AtP, AtP*).

Public API: `patch(model, clean=..., corrupt=..., metric=...)` → `PatchResult` (interp.patching.api).
Building blocks: `core.generic_patch` (one general batched patcher + TL-style loop), `atp.attribution`,
`metrics` (logit-diff / logprob / loss), `plots` (figures from the result dict), `interp.ablation.atp` (AtP
estimate of the ablation sweep).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PatchConfig", "PatchResult", "Pair", "load_pairs", "patch"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import torch
    if name in __all__:
        from interp.patching import api

        return getattr(api, name)
    raise AttributeError(name)
