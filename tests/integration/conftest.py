"""Integration fixtures: a small real corpus (12 Shakespeare excerpts) and ONE tiny trained run per session."""

from __future__ import annotations

import pytest

from interp import data
from interp.presets import get_preset
from interp.train import TrainConfig, train


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """12 documents (first 12k chars of 12 plays) → exercises the document-level split."""
    d = tmp_path_factory.mktemp("corpus")
    docs = data.load_corpus(None)[:12]
    for doc in docs:
        (d / doc.name).write_text(doc.text[:12_000])
    return d


def tiny_config(corpus, **kw) -> TrainConfig:
    base = dict(model=get_preset("tiny", n_ctx=32, d_vocab=384), preset="tiny", corpus=str(corpus), batch_size=8,
                max_epochs=3, warmup_steps=5, lr=3e-3, eval_tokens=2048, val_frac=0.1, test_frac=0.1, seed=0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, small_corpus):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    result = train(tiny_config(small_corpus), run_dir, progress=False)
    return run_dir, result
