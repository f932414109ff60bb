"""Trainer for the reference GPT (GPT-2 architecture via `transformers`).

    corpus ─► split by document ─► tokenizer (BPE or char, fitted on the train split only) ─► token streams
           ─► AdamW + linear warmup + cosine decay, grad clipping, grad accumulation
           ─► RUN_DIR/{run.json, metrics.jsonl, checkpoints/epoch-NNN/, step-NNNNNN/, best/}

Modules: `config` (TrainConfig, TrainResult, --save-at) · `prepare` (data → tokens, run.json) · `loop`
(Trainer) · `dist` (torchrun) · `api` (`train`, `resume`: the public entry points).
"""

from __future__ import annotations

from interp.train.api import resume, train, train_config
from interp.train.config import TrainConfig, TrainResult, parse_save_at
from interp.train.dist import Dist, init_distributed
from interp.train.loop import Trainer, TrainingDiverged, epoch_windows, lr_at, make_optimizer
from interp.train.prepare import encode_split, prepare_data, run_meta
from interp.versions import package_versions

_prepare_data = prepare_data  # old name (benchmarks)

__all__ = [
    "Dist", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "encode_split", "epoch_windows",
    "init_distributed", "lr_at", "make_optimizer", "package_versions", "parse_save_at", "prepare_data", "resume",
    "run_meta", "train", "train_config",
]
