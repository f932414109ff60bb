"""Attention-head ablation: what happens to loss and generations when heads stop contributing.

    values.py  what replaces an ablated head's z (zero / mean / resample) and the hooks on `hook_z`
    inputs.py  model reference or bridge + text → eval windows (`interp.tokens`: the one BOS rule)
    ablate.py  `ablate(model, heads="0.1,1.3", method="mean", ...)`: a set of heads together
    sweep.py   `ablate_sweep(model, ...)`: every head alone, batched from the cached residual
    plots.py   figures from result dicts (`interp.figures.FIGURES` entries)

Public functions: `interp.ablation:ablate` (= `interp ablate`) and `interp.ablation:ablate_sweep`
(= `interp ablate-sweep`); the cores on ready windows are `ablate_windows` and `sweep`.
"""

from __future__ import annotations

from interp.lazy import lazy_exports

_NAMES: dict[str, str] = {
    "AblationResult": "interp.ablation.ablate:AblationResult",
    "Continuation": "interp.ablation.ablate:Continuation",
    "DeltaSummary": "interp.ablation.ablate:DeltaSummary",
    "GenerationComparison": "interp.ablation.ablate:GenerationComparison",
    "PositionBucket": "interp.ablation.ablate:PositionBucket",
    "ablate": "interp.ablation.ablate:ablate",
    "ablate_windows": "interp.ablation.ablate:ablate_windows",
    "compare_generation": "interp.ablation.ablate:compare_generation",
    "parse_heads": "interp.ablation.ablate:parse_heads",
    "position_buckets": "interp.ablation.ablate:position_buckets",
    "prompt_ids": "interp.ablation.ablate:prompt_ids",
    "summarize_delta": "interp.ablation.ablate:summarize_delta",
    "MAX_DEFAULT_CONTEXT": "interp.ablation.inputs:MAX_DEFAULT_CONTEXT",
    "eval_windows": "interp.ablation.inputs:eval_windows",
    "window_bos": "interp.ablation.inputs:window_bos",
    "ablation_figures": "interp.ablation.plots:ablation_figures",
    "plot_ablation": "interp.ablation.plots:plot_ablation",
    "plot_sweep": "interp.ablation.plots:plot_sweep",
    "sweep_figures": "interp.ablation.plots:sweep_figures",
    "SweepResult": "interp.ablation.sweep:SweepResult",
    "ablate_sweep": "interp.ablation.sweep:ablate_sweep",
    "sweep": "interp.ablation.sweep:sweep",
    "DEFAULT_PROMPT": "interp.ablation.values:DEFAULT_PROMPT",
    "METHODS": "interp.ablation.values:METHODS",
    "RESID_PRE_HOOK": "interp.ablation.values:RESID_PRE_HOOK",
    "Z_HOOK": "interp.ablation.values:Z_HOOK",
    "AblationConfig": "interp.ablation.values:AblationConfig",
    "AblationValues": "interp.ablation.values:AblationValues",
    "_Values": "interp.ablation.values:_Values",
    "ablation_hooks": "interp.ablation.values:ablation_hooks",
    "ablation_values": "interp.ablation.values:ablation_values",
    "resample_sources": "interp.ablation.values:resample_sources",
    "token_losses": "interp.ablation.values:token_losses",
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

__all__ = [
    "DEFAULT_PROMPT", "MAX_DEFAULT_CONTEXT", "METHODS", "RESID_PRE_HOOK", "Z_HOOK", "AblationConfig",
    "AblationResult", "AblationValues", "Continuation", "DeltaSummary", "GenerationComparison", "PositionBucket",
    "SweepResult", "_Values", "ablate", "ablate_sweep", "ablate_windows", "ablation_figures", "ablation_hooks",
    "ablation_values", "compare_generation", "eval_windows", "parse_heads", "plot_ablation", "plot_sweep",
    "position_buckets", "prompt_ids", "resample_sources", "summarize_delta", "sweep", "sweep_figures",
    "token_losses", "window_bos",
]
