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

from interp.ablation.ablate import (
    AblationResult,
    Continuation,
    DeltaSummary,
    GenerationComparison,
    PositionBucket,
    ablate,
    ablate_windows,
    compare_generation,
    parse_heads,
    position_buckets,
    prompt_ids,
    summarize_delta,
)
from interp.ablation.inputs import MAX_DEFAULT_CONTEXT, eval_windows, window_bos
from interp.ablation.plots import ablation_figures, plot_ablation, plot_sweep, sweep_figures
from interp.ablation.sweep import SweepResult, ablate_sweep, sweep
from interp.ablation.values import (
    DEFAULT_PROMPT,
    METHODS,
    RESID_PRE_HOOK,
    Z_HOOK,
    AblationConfig,
    AblationValues,
    _Values,
    ablation_hooks,
    ablation_values,
    resample_sources,
    token_losses,
)

__all__ = [
    "DEFAULT_PROMPT", "MAX_DEFAULT_CONTEXT", "METHODS", "RESID_PRE_HOOK", "Z_HOOK", "AblationConfig",
    "AblationResult", "AblationValues", "Continuation", "DeltaSummary", "GenerationComparison", "PositionBucket",
    "SweepResult", "_Values", "ablate", "ablate_sweep", "ablate_windows", "ablation_figures", "ablation_hooks",
    "ablation_values", "compare_generation", "eval_windows", "parse_heads", "plot_ablation", "plot_sweep",
    "position_buckets", "prompt_ids", "resample_sources", "summarize_delta", "sweep", "sweep_figures",
    "token_losses", "window_bos",
]
