"""Where eval text comes from: a file the user names, or a split of the model's training run.

    --text FILE      a .txt file (one document), a folder of .txt files (one document per file, sorted
                     by path), or a .jsonl file with a "text" field per line (one document per line)
    --split val|test the run's held-out split, rebuilt from run.json (`interp.data.split_texts`, which
                     checks the recorded sha256), one document per corpus document (or block)
    (neither)        --split test when the model has run metadata, else an error asking for --text

Training text for the leakage check comes from the same two places: `--train-text FILE` (same
formats) or the run's train split. Everything here validates and raises `UserError` before any model
is loaded or anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.text_input import read_documents

EVAL_SPLITS = ("val", "test")


@dataclass(frozen=True)
class EvalText:
    documents: tuple[str, ...]
    source: str  # "file:PATH" | "split:test" ...


def split_documents(run_meta: dict[str, Any] | None, split: str, model: str) -> list[str]:
    """Documents of a split of the model's training run."""
    from interp.data import split_texts

    if run_meta is None or not (run_meta.get("data") or {}).get("splits"):
        raise UserError(f"{model!r} has no training-run metadata (run.json with data splits); pass --text FILE")
    docs = [d for d in split_texts(run_meta, split) if d.strip()]
    if not docs:
        raise UserError(f"the {split!r} split of {model!r} is empty; pass --text FILE")
    return docs


def eval_text(model: str, run_meta: dict[str, Any] | None, text: Path | None, split: str | None) -> EvalText:
    """Resolve --text / --split (mutually exclusive) into documents."""
    if text is not None and split is not None:
        raise UserError("pass either --text FILE or --split val|test, not both")
    if split is not None and split not in EVAL_SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of: {', '.join(EVAL_SPLITS)}")
    if text is not None:
        return EvalText(tuple(read_documents(text)), f"file:{text}")
    if split is None:
        if run_meta is None:
            raise UserError(f"{model!r} is not a training run (no run.json), so it has no test split; pass --text FILE")
        split = "test"
    return EvalText(tuple(split_documents(run_meta, split, model)), f"split:{split}")


def train_text(model: str, run_meta: dict[str, Any] | None, path: Path | None) -> tuple[list[str] | None, str]:
    """Training documents for the leakage check: (--train-text FILE | run's train split | None, source)."""
    if path is not None:
        return read_documents(path, "--train-text"), f"file:{path}"
    if run_meta is not None and "train" in ((run_meta.get("data") or {}).get("splits") or {}):
        return split_documents(run_meta, "train", model), "split:train"
    return None, "none (no run metadata; pass --train-text FILE)"
