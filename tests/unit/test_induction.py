"""The induction recipe: deterministic corpus, word tokenizer, preset + its training defaults, --save-at log:K,
the ICL score (against a direct per-position loss reference), frequent-token sampling and the phase markers."""

from __future__ import annotations

import math
import random
import re

import pytest
import torch

from interp import data, induction_corpus
from interp.attention import icl, phase
from interp.errors import UserError
from interp.presets import get_preset, preset_train_options
from interp.tokenizer import train_word
from interp.train import TrainConfig, parse_save_at

WORDS = tuple(f"w{i}" for i in range(50))
LINE = re.compile(r"^((?:\S+ )+)\. \1\.$")


def test_parse_spec():
    assert induction_corpus.parse_spec("induction") == (induction_corpus.DEFAULT_WORDS, "mixed")
    assert induction_corpus.parse_spec("induction:150") == (150, "mixed")
    assert induction_corpus.parse_spec("induction-text:150") == (150, "text")
    assert induction_corpus.parse_spec("induction-random:60") == (60, "random")
    assert induction_corpus.parse_spec("shakespeare") is None
    assert induction_corpus.parse_spec("inductionx") is None
    for bad in ("induction:5", "induction:abc", "induction:", "induction-random:999999"):
        with pytest.raises(UserError, match="word count"):
            induction_corpus.parse_spec(bad)


def test_common_words_ranked_with_alphabetical_ties():
    texts = ("b a a c c b d", "A. B!")
    assert induction_corpus.common_words(3, texts) == ("a", "b", "c")  # a: 3, b: 3, c: 2 (ties alphabetical)
    with pytest.raises(UserError, match="distinct words"):
        induction_corpus.common_words(10, texts)


@pytest.mark.parametrize("stream,frac", [(None, 1.0), ([f"s{i}" for i in range(100)], 1.0),
                                         ([f"s{i}" for i in range(100)], 0.5)])
def test_documents_are_deterministic_and_repeated(stream, frac):
    a = induction_corpus.build_documents(WORDS, n_docs=3, lines_per_doc=20, stream=stream, text_frac=frac)
    b = induction_corpus.build_documents(WORDS, n_docs=3, lines_per_doc=20, stream=stream, text_frac=frac)
    assert a == b
    assert a != induction_corpus.build_documents(WORDS, n_docs=3, lines_per_doc=20, seed=7, stream=stream,
                                                 text_frac=frac)
    for _, text in a:
        for line in text.splitlines():
            m = LINE.match(line)
            assert m, line
            n = len(m.group(1).split())
            assert induction_corpus.N_MIN <= n <= induction_corpus.N_MAX
    if frac < 1:  # mixed: both kinds of line
        kinds = {line.split()[0].startswith("s") for _, t in a for line in t.splitlines()}
        assert kinds == {True, False}
    if stream is not None and frac == 1:  # text spans: consecutive words of the stream
        half = a[0][1].splitlines()[0].split(" . ")[0].split()
        i = stream.index(half[0])
        assert half == stream[i:i + len(half)]


def test_make_line_words_from_the_list():
    line = induction_corpus.make_line(random.Random(0), WORDS)
    assert set(line.split()) <= set(WORDS) | {"."}


def test_load_corpus_induction_is_deterministic_with_doc_split():
    docs = data.load_corpus("induction:60")
    again = data.load_corpus("induction:60")
    assert [d.text for d in docs] == [d.text for d in again]
    assert len(docs) == induction_corpus.N_DOCS >= data.MIN_DOCS_FOR_DOC_SPLIT
    words = {w for d in docs[:2] for w in d.text.split()} - {"."}
    assert len(words) <= 60
    splits = data.split_corpus(docs, seed=0)
    assert splits["val"].mode == "documents"
    assert not {d.name for d in splits["val"].documents} & {d.name for d in splits["train"].documents}


def test_word_tokenizer_one_token_per_word():
    tok = train_word(["a b c . a b c .", "d e ."])
    ids = tok("a b c . a b c .")["input_ids"]
    assert len(ids) == 8 and ids[:4] == ids[4:]
    assert tok.decode(ids) == "a b c . a b c ."
    assert tok("zzz")["input_ids"] == [tok.unk_token_id]
    assert len(tok) == 5 + 1 + 2  # a b c d e . + <|endoftext|> + <unk>
    with pytest.raises(UserError, match="empty"):
        train_word(["   "])


def test_preset_and_its_training_defaults_are_valid():
    m = get_preset("induction")
    assert (m.n_layers, m.n_heads, m.n_ctx) == (2, 4, 32)
    opts = preset_train_options("induction")
    cfg = TrainConfig(model=m, preset="induction", corpus=opts["corpus"], tokenizer=opts["tokenizer"],
                      batch_size=opts["batch_size"], lr=opts["lr"], warmup_steps=opts["warmup_steps"],
                      weight_decay=opts["weight_decay"], min_lr_ratio=opts["min_lr_ratio"],
                      max_epochs=opts["epochs"], max_steps=opts["max_steps"], eval_every=opts["eval_every"],
                      patience=opts["patience"], save_at=opts["save_at"])
    assert cfg.tokenizer == "word"
    assert len(parse_save_at(cfg.save_at, cfg.max_steps)) >= 30  # log-spaced, dense enough to see the onset
    assert preset_train_options("small") == {}
    with pytest.raises(UserError, match="unknown preset"):
        preset_train_options("nope")


def test_parse_save_at_log_k_and_ranges():
    assert parse_save_at("log:2", 16) == (1, 2, 3, 4, 6, 8, 11, 16)
    assert parse_save_at("log:1", 16) == parse_save_at("log", 16) == (1, 2, 4, 8, 16)
    assert parse_save_at("10-30:10,5", 25) == (5, 10, 20)
    for bad in ("log:0", "log:x", "30-10:5", "1-5:0", "lin"):
        with pytest.raises(UserError, match="save-at"):
            parse_save_at(bad, 100)


# ----------------------------------------------------------------------------- ICL score
def test_icl_bands():
    early, late = icl.bands(64)
    assert (early.start, early.stop - 1, late.start, late.stop - 1) == (4, 8, 56, 63)
    with pytest.raises(UserError, match="at least 8"):
        icl.bands(4)


def test_icl_from_losses_matches_direct_means():
    g = torch.Generator().manual_seed(0)
    losses = torch.rand(20, 32, generator=g, dtype=torch.float64) * 3  # (W, T)
    early, late = icl.bands(32)
    direct = losses[:, late.start:].mean(1) - losses[:, early.start:early.stop].mean(1)
    s = icl.icl_from_losses(losses, seed=0)
    assert s.score == pytest.approx(float(direct.mean()), abs=1e-9)
    assert s.low <= s.score <= s.high
    assert s.loss == pytest.approx(float(losses.mean()), abs=1e-9)
    assert icl.icl_from_losses(losses, seed=0) == s  # seeded bootstrap


def test_position_losses_against_a_loop():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 10, 7, generator=g)
    windows = torch.randint(0, 7, (3, 11), generator=g)
    got = icl.position_losses(logits, windows)
    want = torch.tensor([[-torch.log_softmax(logits[w, p], -1)[windows[w, p + 1]] for p in range(10)] for w in range(3)])
    torch.testing.assert_close(got, want)


def test_text_windows_and_frequent_tokens():
    tok = train_word(["a b c . a b c . d"])
    w = icl.text_windows(tok, "a b c . " * 10, n_ctx=8, n_windows=3)
    assert w.shape == (3, 9)
    with pytest.raises(UserError, match="fewer than two windows"):
        icl.text_windows(tok, "a b", n_ctx=8, n_windows=3)
    ids = icl.frequent_token_ids(tok, "a a a b b c . . . . d", n=3, d_vocab=len(tok))
    vocab = tok.get_vocab()
    assert ids.tolist() == [vocab["."], vocab["a"], vocab["b"]]  # counts 4, 3, 2; 'c'/'d' once: excluded


# ----------------------------------------------------------------------------- phase markers
def test_stays_from_and_halfway():
    assert phase.stays_from([0.1, 0.5, 0.2, 0.6, 0.7], lambda v: v >= 0.4) == 3
    assert phase.stays_from([0.5, 0.1], lambda v: v >= 0.4) is None
    assert phase.halfway_index([0.0, -0.1, -0.5, -0.9, -1.0, -1.0]) == 2  # half-way -0.5: index 2 on, every value <= -0.5
    assert phase.halfway_index([0.0, 0.1, 0.2]) is None  # never falls


def test_steepest_drop_skips_the_initial_fall():
    xs = [1, 2, 4, 8, 100, 200, 400, 800, 1600]
    loss = [5.3, 4.0, 3.0, 2.9, 2.85, 2.8, 1.5, 1.4, 1.35]
    assert phase.steepest_drop_index(xs, loss, after=0.05) == 6  # 200 -> 400, not the 1 -> 2 fall
    assert phase.steepest_drop_index(xs, loss, after=0.0) == 1
    assert phase.steepest_drop_index([1, 2], [1.0, 0.5]) is None
    assert math.isclose(phase.best_per_checkpoint([[[0.1, 0.2], [0.3, 0.9]]], 1)[0], 0.9)


# ----------------------------------------------------------------------------- in head formation
def test_markers_and_circuit_hook_from_synthetic_evolution():
    from interp.attention.formation import head_formation_from_evolution

    def ck(prev0, ind1, icl_score, loss):
        return {"prev_token": [[prev0, 0.1], [0.1, 0.1]], "induction": [[0.0, 0.0], [0.05, ind1]],
                "duplicate_token": [[0.0, 0.0], [0.0, 0.0]], "sink": [[0.1, 0.1], [0.1, 0.1]], "js_distance": None,
                "icl": {"score": icl_score, "low": icl_score - 0.1, "high": icl_score + 0.1, "loss_early": 4.0,
                        "loss_late": 4.0 + icl_score, "loss": loss}}

    toks = [100, 1_000, 10_000, 20_000, 40_000, 80_000]
    cks = [ck(0.1, 0.0, 0.0, 5.0), ck(0.2, 0.05, 0.0, 4.2), ck(0.6, 0.1, -0.1, 4.1), ck(0.7, 0.5, -1.0, 3.0),
           ck(0.8, 0.6, -1.2, 2.9), ck(0.8, 0.7, -1.3, 2.85)]
    evo = {"n_layers": 2, "n_heads": 2, "labels": [f"c{i}" for i in range(6)], "steps": [t // 10 for t in toks],
           "tokens_seen": toks, "epochs": [None] * 6, "x": "tokens", "x_values": toks, "checkpoints": cks,
           "induction_sampling": "frequent test", "icl_source": "test"}
    r = head_formation_from_evolution(evo).to_dict()
    m = r["markers"]
    assert m["induction"]["label"] == "c3" and m["prev_token"]["label"] == "c2"
    assert m["icl"]["label"] == "c3"  # half-way between 0 and -1.3 = -0.65
    assert m["loss_bump"]["label"] == "c3"  # 10k -> 20k is the steepest fall after 5% of training
    assert m["circuit"] is None
    assert r["circuit_hook"]["edge"] == "L0.H0->L1.H1.k"
    assert r["icl"][3]["score"] == -1.0 and r["induction_sampling"] == "frequent test"


def test_icl_and_frequent_sampling_in_evolution_match_a_direct_reference(tiny_bridge, tiny_gpt2_dir):
    """The ICL score the sweep reports equals one computed from the HF model's own logits."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interp.attention import attention_evolution

    tok = AutoTokenizer.from_pretrained(str(tiny_gpt2_dir))
    text = "The cat sat on the mat and the dog sat on the log. " * 40
    texts = {"sample": text, "icl": text, "icl_source": "test text"}
    r = attention_evolution([(1, tiny_bridge)], "The cat sat on the mat", induction_len=4, induction_batch=2,
                            texts=texts, induction_sampling="frequent", grid=False)
    got = r.checkpoints[0].icl
    model = AutoModelForCausalLM.from_pretrained(str(tiny_gpt2_dir)).eval()
    w = icl.text_windows(tok, text, int(tiny_bridge.cfg.n_ctx), 64)
    with torch.no_grad():
        want = icl.icl_from_losses(icl.position_losses(model(w[:, :-1]).logits, w), seed=0)
    assert got["score"] == pytest.approx(want.score, abs=1e-4)
    assert got["loss"] == pytest.approx(want.loss, abs=1e-4)
    freq = set(icl.frequent_token_ids(tok, text, 512, int(tiny_bridge.cfg.d_vocab)).tolist())
    assert "most frequent" in r.induction_sampling and r.icl_source == "test text"
    with pytest.raises(UserError, match="needs a text"):
        attention_evolution([(1, tiny_bridge)], "The cat sat", induction_sampling="frequent", grid=False)
    assert freq  # the sampled candidates come from this set (checked on the sequences below)
    from interp.attention.evolution import EvolutionConfig, _setup

    s = _setup(tiny_bridge, "The cat sat", EvolutionConfig(induction_len=4, induction_batch=2,
                                                           induction_sampling="frequent"), texts)
    assert set(s.induction_ids[:, 1:].flatten().tolist()) <= freq
