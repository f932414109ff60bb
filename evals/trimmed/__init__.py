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

from evals.trimmed.api import trimmed, unescape
from evals.trimmed.evaluate import (
    VARIANTS,
    TrimmedConfig,
    TrimmedEvalResult,
    calibrate,
    check_train,
    evaluate_trimmed,
    parse_fit_head,
    split_for_fit,
)
from evals.trimmed.features import (
    LN_FINAL,
    FeatureCache,
    cached_features,
    full_argmax,
    label_rows,
    last_hidden,
    model_key,
    unembed,
)
from evals.trimmed.fit import WEIGHT_DECAYS, Standardiser, fit_head, lbfgs
from evals.trimmed.plots import figures, plot_confusions, plot_learning_curve, summary_table
from evals.trimmed.prompts import (
    CONTENT_FREE,
    DEFAULT_TEMPLATE,
    SHOT_SEPARATOR,
    cap_text,
    encode,
    label_separator,
    label_token_ids,
    render,
    shots_prefix,
)

_full_argmax = full_argmax  # old private name

__all__ = [
    "CONTENT_FREE", "DEFAULT_TEMPLATE", "LN_FINAL", "SHOT_SEPARATOR", "VARIANTS", "WEIGHT_DECAYS", "FeatureCache",
    "Standardiser", "TrimmedConfig", "TrimmedEvalResult", "calibrate", "cap_text", "check_train", "encode",
    "evaluate_trimmed", "cached_features", "figures", "fit_head", "full_argmax", "label_rows", "label_separator",
    "label_token_ids", "last_hidden", "lbfgs", "model_key", "parse_fit_head", "plot_confusions",
    "plot_learning_curve", "render", "shots_prefix", "split_for_fit", "summary_table", "trimmed", "unembed",
    "unescape",
]
