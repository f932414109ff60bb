"""Trainer for the reference GPT (GPT-2 architecture via `transformers`).

    corpus ─► split by document ─► tokenizer (BPE or char, fitted on the train split only) ─► token streams
           ─► AdamW + linear warmup + cosine decay, grad clipping, grad accumulation
           ─► RUN_DIR/{run.json, metrics.jsonl, checkpoints/epoch-NNN/, step-NNNNNN/, best/}

Modules: `config` (TrainConfig, TrainResult, --save-at) · `prepare` (data → tokens, run.json) · `loop`
(Trainer) · `dist` (torchrun) · `api` (`train`, `resume`: the public entry points).
"""

from __future__ import annotations

from interp.lazy import lazy_exports

_NAMES: dict[str, str] = {
    "resume": "interp.train.api:resume",
    "train": "interp.train.api:train",
    "train_config": "interp.train.api:train_config",
    "TrainConfig": "interp.train.config:TrainConfig",
    "TrainResult": "interp.train.config:TrainResult",
    "parse_save_at": "interp.train.config:parse_save_at",
    "Dist": "interp.train.dist:Dist",
    "init_distributed": "interp.train.dist:init_distributed",
    "Trainer": "interp.train.loop:Trainer",
    "TrainingDiverged": "interp.train.loop:TrainingDiverged",
    "epoch_windows": "interp.train.loop:epoch_windows",
    "lr_at": "interp.train.loop:lr_at",
    "make_optimizer": "interp.train.loop:make_optimizer",
    "encode_split": "interp.train.prepare:encode_split",
    "prepare_data": "interp.train.prepare:prepare_data",
    "run_meta": "interp.train.prepare:run_meta",
    "package_versions": "interp.versions:package_versions",
    "_prepare_data": "interp.train.prepare:prepare_data",
}
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

__all__ = [
    "Dist", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "encode_split", "epoch_windows",
    "init_distributed", "lr_at", "make_optimizer", "package_versions", "parse_save_at", "prepare_data", "resume",
    "run_meta", "train", "train_config",
]
