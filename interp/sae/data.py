"""Text for SAEs: the model's training-run split (run.json), else a corpus split, tokenized into windows.

Training reads the `train` split; evaluation and the browser read `val` (or `test`): never the training
tokens. With `--corpus` the corpus is split the same way as `interp train` splits it (interp.data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interp.errors import UserError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Text:
    documents: tuple[str, ...]
    source: str  # "run:train", "corpus:PATH:val", ...


def split_text(model_ref: str, corpus: str | None, split: str) -> Text:
    """Documents of `split` from the run of `model_ref` (when it is a training run and no corpus is given),
    else of the corpus (default: the embedded Shakespeare corpus)."""
    from interp.data import load_corpus, split_corpus, split_texts

    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if corpus is None and isinstance(model_ref, str):
        from interp.hooked import run_metadata

        meta = run_metadata(model_ref)
        if meta and (meta.get("data") or {}).get("splits"):
            docs = tuple(d for d in split_texts(meta, split) if d.strip())
            if docs:
                return Text(docs, f"run:{split}")
    docs_all = load_corpus(corpus)
    docs = tuple(d.text for d in split_corpus(docs_all)[split].documents if d.text.strip())
    if not docs:
        raise UserError(f"the {split!r} split of corpus {corpus or 'shakespeare'!r} is empty; give more text")
    return Text(docs, f"corpus:{corpus or 'shakespeare'}:{split}")


def windows(tokenizer: Any, text: Text, context: int, max_tokens: int) -> Any:
    """(N, T) token windows (BOS + T−1 tokens) over the documents, N·T ≤ max_tokens (interp.tokens)."""
    from interp.tokens import eval_windows

    return eval_windows(tokenizer, text.documents, context, max_tokens)


def model_and_name(model: Any, device: str) -> tuple[str, Any]:
    """(name, bridge) for a model reference (loaded here) or an already loaded TransformerBridge."""
    if isinstance(model, str):
        from interp import hooked

        return model, hooked.load(model, device=device)
    return str(getattr(model.cfg, "model_name", "model")), model
