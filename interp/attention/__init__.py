"""Attention analyses: maps of one model, attention over a checkpoint series, head formation.

    interp.attention.maps        attention(model, prompt, ...) / attention_maps(bridge, prompt, config)
    interp.attention.evolution   attention_evolution(run_or_series, prompt, ...) (+ torchrun sharding)
    interp.attention.formation   head_formation(run_or_series, ...), emergence of heads over training
    interp.attention.scores      per-head scores from patterns (pure tensor functions)
    interp.attention.plots       figures from result dicts

Every name that used to live in the single module `interp.attention` is importable from here.
"""

from interp.attention import scores  # noqa: F401
from interp.attention.evolution import (  # noqa: F401
    AttentionEvolutionResult,
    CheckpointAttention,
    Checkpoints,
    EvolutionConfig,
    attention_evolution,
    is_main_process,
    iter_run_checkpoints,
    run_checkpoints,
)
from interp.attention.formation import (  # noqa: F401
    DEFAULT_PROMPT,
    HEAD_TYPES,
    THRESHOLDS,
    HeadFormationResult,
    emergence_index,
    head_formation,
    head_formation_from_evolution,
    parse_thresholds,
    plot_head_formation,
)
from interp.attention.maps import (  # noqa: F401
    PATTERN_HOOK,
    AttentionConfig,
    AttentionMapsResult,
    _check_indices,
    _next_token,
    _patterns,
    _tokenize,
    attention,
    attention_maps,
    check_prompt,
    parse_int_list,
    parse_selection,
    readable,
    token_labels,
)
from interp.attention.plots import (  # noqa: F401
    MAX_LABELLED_TOKENS,
    METRICS,
    attention_evolution_figures,
    attention_maps_figures,
    evolution_lines,
    plot_attention_evolution_grid,
    plot_attention_evolution_metrics,
    plot_attention_maps,
    quiet_missing_glyphs,
)
