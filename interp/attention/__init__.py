"""Attention analyses: maps of one model, attention over a checkpoint series, head formation.

    interp.attention.maps        attention(model, prompt, ...) / attention_maps(bridge, prompt, config)
    interp.attention.evolution   attention_evolution(run_or_series, prompt, ...) (+ torchrun sharding)
    interp.attention.formation   head_formation(run_or_series, ...), emergence of heads over training
    interp.attention.scores      per-head scores from patterns (pure tensor functions)
    interp.attention.plots       figures from result dicts

Every name that used to live in the single module `interp.attention` is importable from here.
"""

from __future__ import annotations

from interp.lazy import lazy_exports

_NAMES: dict[str, str] = {
    "scores": "interp.attention.scores",
    "AttentionEvolutionResult": "interp.attention.evolution:AttentionEvolutionResult",
    "CheckpointAttention": "interp.attention.evolution:CheckpointAttention",
    "Checkpoints": "interp.attention.evolution:Checkpoints",
    "EvolutionConfig": "interp.attention.evolution:EvolutionConfig",
    "attention_evolution": "interp.attention.evolution:attention_evolution",
    "is_main_process": "interp.attention.evolution:is_main_process",
    "iter_run_checkpoints": "interp.attention.evolution:iter_run_checkpoints",
    "run_checkpoints": "interp.attention.evolution:run_checkpoints",
    "DEFAULT_PROMPT": "interp.attention.formation:DEFAULT_PROMPT",
    "HEAD_TYPES": "interp.attention.formation:HEAD_TYPES",
    "THRESHOLDS": "interp.attention.formation:THRESHOLDS",
    "HeadFormationResult": "interp.attention.formation:HeadFormationResult",
    "emergence_index": "interp.attention.formation:emergence_index",
    "head_formation": "interp.attention.formation:head_formation",
    "head_formation_from_evolution": "interp.attention.formation:head_formation_from_evolution",
    "parse_thresholds": "interp.attention.formation:parse_thresholds",
    "plot_head_formation": "interp.attention.formation:plot_head_formation",
    "PATTERN_HOOK": "interp.attention.maps:PATTERN_HOOK",
    "AttentionConfig": "interp.attention.maps:AttentionConfig",
    "AttentionMapsResult": "interp.attention.maps:AttentionMapsResult",
    "_check_indices": "interp.attention.maps:_check_indices",
    "_next_token": "interp.attention.maps:_next_token",
    "_patterns": "interp.attention.maps:_patterns",
    "_tokenize": "interp.attention.maps:_tokenize",
    "attention": "interp.attention.maps:attention",
    "attention_maps": "interp.attention.maps:attention_maps",
    "check_prompt": "interp.attention.maps:check_prompt",
    "parse_int_list": "interp.attention.maps:parse_int_list",
    "parse_selection": "interp.attention.maps:parse_selection",
    "readable": "interp.attention.maps:readable",
    "token_labels": "interp.attention.maps:token_labels",
    "MAX_LABELLED_TOKENS": "interp.attention.plots:MAX_LABELLED_TOKENS",
    "METRICS": "interp.attention.plots:METRICS",
    "attention_evolution_figures": "interp.attention.plots:attention_evolution_figures",
    "attention_maps_figures": "interp.attention.plots:attention_maps_figures",
    "evolution_lines": "interp.attention.plots:evolution_lines",
    "plot_attention_evolution_grid": "interp.attention.plots:plot_attention_evolution_grid",
    "plot_attention_evolution_metrics": "interp.attention.plots:plot_attention_evolution_metrics",
    "plot_attention_maps": "interp.attention.plots:plot_attention_maps",
    "quiet_missing_glyphs": "interp.attention.plots:quiet_missing_glyphs",
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

