"""Corpus → splits → tokenizer (trained on the train split only) → token streams; and run.json metadata."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from interp import data
from interp.errors import UserError
from interp.tokenizer import TOKENIZERS
from interp.train.config import TrainConfig
from interp.versions import git_commit, package_versions


def encode_split(tokenizer, split: data.Split) -> np.ndarray:
    """Documents → one int32 stream, each document followed by <|endoftext|>."""
    eot = tokenizer.eos_token_id
    out: list[int] = []
    for doc in split.documents:
        out.extend(tokenizer(doc.text, verbose=False)["input_ids"])
        out.append(eot)
    return np.asarray(out, dtype=np.int32)


def build_tokenizer(cfg: TrainConfig, train_texts: list[str]):
    """The run's tokenizer, fitted on the train split: byte-level BPE of d_vocab tokens, or characters."""
    from interp.tokenizer import train_bpe, train_char, train_word

    if cfg.tokenizer == "char":
        return train_char(train_texts)
    if cfg.tokenizer == "word":
        return train_word(train_texts)
    return train_bpe(train_texts, vocab_size=cfg.model.d_vocab)


def prepare_data(cfg: TrainConfig, tokenizer=None):
    """Load + split the corpus, fit the tokenizer on train (or keep `tokenizer`: a fine-tune's parent's),
    encode; validate sizes. Writes nothing.

    Returns (tokenizer, splits: {name: data.Split}, ids: {name: int32 array}).
    """
    docs = data.load_corpus(cfg.corpus)
    splits = data.split_corpus(docs, cfg.val_frac, cfg.test_frac, cfg.seed)
    if not splits["train"].documents or not splits["val"].documents:
        raise UserError("corpus too small to split into train and validation; add text or documents")
    tok = tokenizer if tokenizer is not None else build_tokenizer(cfg, [d.text for d in splits["train"].documents])
    ids = {k: encode_split(tok, s) for k, s in splits.items()}
    n_ctx = cfg.model.n_ctx
    for k in ("train", "val"):
        if len(ids[k]) < n_ctx + 2:
            raise UserError(
                f"corpus is smaller than one context window: the {k} split has {len(ids[k])} tokens but "
                f"n_ctx={n_ctx} needs at least {n_ctx + 2}; use a larger corpus or a smaller --n-ctx"
            )
    if cfg.train_tokens is not None:
        ids["train"] = ids["train"][: cfg.train_tokens]
        if len(ids["train"]) < n_ctx + 2:
            raise UserError(f"--train-tokens {cfg.train_tokens} is less than one context window ({n_ctx + 2})")
    return tok, splits, ids


def run_meta(cfg: TrainConfig, splits, ids, tok) -> dict[str, Any]:
    """run.json: config, data splits (documents, chars, tokens, sha256), tokenizer, versions, commit."""
    return {
        "schema_version": 1,
        "kind": "run",
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "data": {
            "corpus": cfg.corpus or data.DEFAULT_CORPUS,
            "val_frac": cfg.val_frac, "test_frac": cfg.test_frac, "split_seed": cfg.seed,
            "train_tokens_limit": cfg.train_tokens,
            "splits": {k: {**s.record(), "n_tokens": int(len(ids[k]))} for k, s in splits.items()},
        },
        "tokenizer": {"type": TOKENIZERS[cfg.tokenizer], "kind": cfg.tokenizer, "vocab_size": len(tok),
                      "trained_on": "train split"},
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
