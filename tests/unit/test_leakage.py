"""Leakage detector: exact n-gram fractions, overlapping-window splits flagged, document splits not."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from evals.leakage import (
    NgramIndex,
    auto_n,
    leakage_check,
    ngram_hashes,
    plausibility_warning,
)
from interp.errors import UserError

WORDS = (
    "the a cat dog student university keys book paper tree mat ball house river king queen lord lady "
    "said gave read wrote lost chased ran sat rolled stopped took found saw heard loved left kept "
    "tired happy old young small great red green quiet loud early late good bad strange gentle "
    "John Mary Sarah Tom Anna Paul with to from of in on under over and but so then because when"
).split()


def synthetic_docs(n_docs: int, n_sentences: int, seed: int = 0) -> list[str]:
    """Seeded random 'natural-ish' documents: sentences of 5-12 random words."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(n_sentences):
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 12))]
            sents.append(" ".join(words).capitalize() + ".")
        docs.append(" ".join(sents))
    return docs


def test_ngram_fraction_exact_on_hand_example():
    # eval 3-grams: (2,3,4)+ (3,4,9)- (4,9,3)- (9,3,4)- (3,4,5)+ → 2 of 5; tokens 0-2 and 4-6 covered → 6 of 7
    r = leakage_check([[2, 3, 4, 9, 3, 4, 5]], [[1, 2, 3, 4, 5]], n=3)
    assert (r.n_eval_ngrams, r.n_leaked_ngrams, r.documents_with_overlap) == (5, 2, 1)
    assert r.ngram_overlap == pytest.approx(2 / 5) and r.token_coverage == pytest.approx(6 / 7)
    assert r.n_train_ngrams == 3 and r.n_train_tokens == 5 and r.flagged  # 40% >= 10%
    # n-grams never cross document boundaries (train side or eval side)
    r = leakage_check([[1, 2, 3], [4, 5]], [[1, 2], [3, 4, 5]], n=3)
    assert (r.n_eval_ngrams, r.n_leaked_ngrams) == (1, 0) and not r.flagged
    # no eval n-grams at all: overlap undefined, not flagged
    r = leakage_check([[1, 2]], [[1, 2, 3]], n=3)
    assert r.n_eval_ngrams == 0 and math.isnan(r.ngram_overlap) and not r.flagged


def test_ngram_hashes_equal_iff_ngrams_equal():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=5000)
    h = ngram_hashes(ids, 4)
    grams = [tuple(ids[i : i + 4]) for i in range(len(ids) - 3)]
    assert h.dtype == np.uint64 and h.shape == (len(grams),)
    assert len(set(h.tolist())) == len(set(grams))  # no collisions, duplicates hash equal
    assert ngram_hashes([1, 2], 3).shape == (0,)
    idx = NgramIndex([ids[:100]], 4)
    assert idx.contains(h[:97]).all() and len(idx) == len(set(grams[:97]))


def _ids(tok, texts):
    return tok(list(texts), add_special_tokens=False)["input_ids"]


def test_overlapping_window_split_is_flagged(toy_tokenizer):
    """The seed projects' split: random overlapping windows of one text, assigned to train/test."""
    text = " ".join(synthetic_docs(1, 150, seed=1))
    rng = random.Random(0)
    win = 400  # characters
    windows = [text[s : s + win] for s in (rng.randrange(0, len(text) - win) for _ in range(2 * len(text) // win))]
    train, test = [], []
    for w in windows:
        (test if rng.random() < 0.15 else train).append(w)
    assert test and train
    r = leakage_check(_ids(toy_tokenizer, test), _ids(toy_tokenizer, train))
    assert r.flagged and r.ngram_overlap > 0.5, r


def test_document_split_is_not_flagged(toy_tokenizer):
    from interp.data import Document, split_corpus

    docs = [Document(f"d{k:02d}", t) for k, t in enumerate(synthetic_docs(12, 40, seed=2))]
    sp = split_corpus(docs, 0.1, 0.1, seed=0)
    assert sp["test"].mode == "documents"
    r = leakage_check(_ids(toy_tokenizer, [d.text for d in sp["test"].documents]),
                      _ids(toy_tokenizer, [d.text for d in sp["train"].documents]))
    assert r.n_eval_ngrams > 100 and not r.flagged and r.ngram_overlap < 0.02, r


def test_perplexity_reports_leakage(tiny_gpt2_dir):
    from evals.perplexity import perplexity
    from interp import hooked

    hf, tok = hooked.load_hf(str(tiny_gpt2_dir))
    docs = synthetic_docs(3, 12, seed=3)
    leaked = perplexity(hf, docs[:1], tokenizer=tok, train_texts=docs)
    assert leaked.leakage.flagged and leaked.leakage.ngram_overlap == 1.0
    assert any(w.startswith("LEAKAGE") for w in leaked.warnings)
    clean = perplexity(hf, docs[:1], tokenizer=tok, train_texts=docs[1:])
    assert not clean.leakage.flagged and not any(w.startswith("LEAKAGE") for w in clean.warnings)
    assert perplexity(hf, docs[:1], tokenizer=tok).leakage is None


def test_plausibility_warning():
    # the seed projects: token ppl 1.17 / 1.29 at ~4 bytes per token
    for ppl in (1.17, 1.29):
        bpb = math.log2(ppl) / 4.0
        assert bpb < 0.1 and plausibility_warning(bpb).startswith("IMPLAUSIBLE")
    assert plausibility_warning(1.8) is None  # a small model on Shakespeare
    assert plausibility_warning(float("nan")) is None


def test_auto_n_keeps_ngrams_about_26_bytes_long():
    assert auto_n(4.2) == 13 and auto_n(2.0) == 13 and auto_n(1.95) == 14 and auto_n(1.0) == 26
    assert auto_n(float("nan")) == 13 and auto_n(0.0) == 13


def test_bad_parameters():
    with pytest.raises(UserError):
        leakage_check([[1, 2, 3]], [[1, 2, 3]], n=3, threshold=0)
    with pytest.raises(UserError):
        NgramIndex([[1, 2, 3]], n=0)
