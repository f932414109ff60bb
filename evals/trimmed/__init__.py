"""Trimmed-head ("decoder trimming") classification with a decoder-only LM, from zero-shot to fitted heads.

A template turns each text into a prompt that a label word should follow; the unembedding is trimmed to
the k label tokens and applied to the final-LN hidden state at the last position only:

    h      = ln_final.hook_out[:, last]                  # (N, d_model)   features.py (cached on disk)
    logits = h @ W_U[:, label_ids] + b_U[label_ids]      # (N, k)         the trimmed head

Modules (one concept each):
    prompts    templates, label tokens, shots, text caps, prompt ids (interp.tokens: one BOS rule)
    features   the forward up to ln_final, the full/trimmed unembedding, the on-disk feature cache
    fit        the fitted trimmed head and the linear probe (standardised L-BFGS, λ grid, early stopping)
    evaluate   TrimmedConfig → evaluate_trimmed → TrimmedEvalResult (variants, learning curve)
    plots      summary table, confusion matrices, learning curve (from the result dict)
    api        trimmed(model, dataset=..., ...): the public function behind `interp eval trimmed`
"""

from __future__ import annotations

from interp.lazy import lazy_exports

_NAMES: dict[str, str] = {
    "trimmed": "evals.trimmed.api:trimmed",
    "unescape": "evals.trimmed.api:unescape",
    "VARIANTS": "evals.trimmed.evaluate:VARIANTS",
    "TrimmedConfig": "evals.trimmed.evaluate:TrimmedConfig",
    "TrimmedEvalResult": "evals.trimmed.evaluate:TrimmedEvalResult",
    "calibrate": "evals.trimmed.evaluate:calibrate",
    "check_train": "evals.trimmed.evaluate:check_train",
    "evaluate_trimmed": "evals.trimmed.evaluate:evaluate_trimmed",
    "parse_fit_head": "evals.trimmed.evaluate:parse_fit_head",
    "split_for_fit": "evals.trimmed.evaluate:split_for_fit",
    "LN_FINAL": "evals.trimmed.features:LN_FINAL",
    "FeatureCache": "evals.trimmed.features:FeatureCache",
    "cached_features": "evals.trimmed.features:cached_features",
    "full_argmax": "evals.trimmed.features:full_argmax",
    "label_rows": "evals.trimmed.features:label_rows",
    "last_hidden": "evals.trimmed.features:last_hidden",
    "model_key": "evals.trimmed.features:model_key",
    "unembed": "evals.trimmed.features:unembed",
    "WEIGHT_DECAYS": "evals.trimmed.fit:WEIGHT_DECAYS",
    "Standardiser": "evals.trimmed.fit:Standardiser",
    "fit_head": "evals.trimmed.fit:fit_head",
    "lbfgs": "evals.trimmed.fit:lbfgs",
    "figures": "evals.trimmed.plots:figures",
    "plot_confusions": "evals.trimmed.plots:plot_confusions",
    "plot_learning_curve": "evals.trimmed.plots:plot_learning_curve",
    "summary_table": "evals.trimmed.plots:summary_table",
    "CONTENT_FREE": "evals.trimmed.prompts:CONTENT_FREE",
    "DEFAULT_TEMPLATE": "evals.trimmed.prompts:DEFAULT_TEMPLATE",
    "SHOT_SEPARATOR": "evals.trimmed.prompts:SHOT_SEPARATOR",
    "cap_text": "evals.trimmed.prompts:cap_text",
    "encode": "evals.trimmed.prompts:encode",
    "label_separator": "evals.trimmed.prompts:label_separator",
    "label_token_ids": "evals.trimmed.prompts:label_token_ids",
    "render": "evals.trimmed.prompts:render",
    "shots_prefix": "evals.trimmed.prompts:shots_prefix",
    "_full_argmax": "evals.trimmed.features:full_argmax",
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

__all__ = [
    "CONTENT_FREE", "DEFAULT_TEMPLATE", "LN_FINAL", "SHOT_SEPARATOR", "VARIANTS", "WEIGHT_DECAYS", "FeatureCache",
    "Standardiser", "TrimmedConfig", "TrimmedEvalResult", "calibrate", "cap_text", "check_train", "encode",
    "evaluate_trimmed", "cached_features", "figures", "fit_head", "full_argmax", "label_rows", "label_separator",
    "label_token_ids", "last_hidden", "lbfgs", "model_key", "parse_fit_head", "plot_confusions",
    "plot_learning_curve", "render", "shots_prefix", "split_for_fit", "summary_table", "trimmed", "unembed",
    "unescape",
]
