"""Trainer inputs, fast: config validation, --save-at, text detection, long-line splits, char tokenizer, run lock."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

from interp import data
from interp.errors import UserError
from interp.presets import ModelConfig, get_preset
from interp.run_lock import lock_holder, run_lock
from interp.train import TrainConfig, parse_save_at


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(model=get_preset("tiny"), **kw)


@pytest.mark.parametrize("field", ["lr", "min_lr_ratio", "weight_decay", "beta1", "beta2", "grad_clip", "val_frac",
                                   "test_frac"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_every_float_option_rejects_non_finite(field, value):
    with pytest.raises(UserError, match="finite"):
        _cfg(**{field: value})


@pytest.mark.parametrize("kw,match", [
    ({"lr": 0.0}, "lr"), ({"min_lr_ratio": 1.5}, "min-lr-ratio"), ({"beta2": 1.0}, "beta2"),
    ({"grad_clip": -1.0}, "grad-clip"), ({"val_frac": 0.6, "test_frac": 0.5}, "sum < 1"), ({"val_frac": 0.0}, "val-frac"),
    ({"batch_size": 0}, "batch-size"), ({"grad_accum": True}, "grad-accum"), ({"seed": -1}, "seed"),
    ({"max_steps": 0}, "max-steps"), ({"train_tokens": -5}, "train-tokens"), ({"eval_every": -1}, "eval-every"),
    ({"tokenizer": "sentencepiece"}, "unknown tokenizer"), ({"save_at": "lin"}, "save-at"),
    ({"save_at": "1,-2"}, "save-at"),
])
def test_range_checks(kw, match):
    with pytest.raises(UserError, match=match):
        _cfg(**kw)


def test_model_config_ranges():
    with pytest.raises(UserError, match="n_ctx=1 must be at least 2"):
        ModelConfig(n_layers=1, n_heads=1, d_model=8, n_ctx=1)
    with pytest.raises(UserError, match="dropout"):
        ModelConfig(n_layers=1, n_heads=1, d_model=8, n_ctx=8, dropout=float("nan"))
    small_vocab = ModelConfig(n_layers=1, n_heads=1, d_model=8, n_ctx=8, d_vocab=100)  # fine for char
    TrainConfig(model=small_vocab, tokenizer="char")
    with pytest.raises(UserError, match="too small for byte-level BPE"):
        TrainConfig(model=small_vocab, tokenizer="bpe")


def test_config_roundtrips_through_dict():
    c = _cfg(tokenizer="char", save_at="log", compile=False)
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_parse_save_at():
    assert parse_save_at("log", 100) == (1, 2, 4, 8, 16, 32, 64)
    assert parse_save_at("100, 1,2,4,4", 50) == (1, 2, 4)
    assert parse_save_at("", 10) == ()


# ----------------------------------------------------------------------------- corpora
def test_binary_and_non_utf8_corpora_are_rejected_naming_the_file(tmp_path):
    (tmp_path / "nul.txt").write_bytes(b"hello\x00world" * 10)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 50)
    for name, match in (("nul.txt", "NUL"), ("latin1.txt", "not UTF-8")):
        with pytest.raises(UserError, match=match) as e:
            data.load_corpus(str(tmp_path / name))
        assert name in str(e.value)


def test_a_few_stray_bytes_are_replaced(tmp_path):
    p = tmp_path / "ok.txt"
    p.write_bytes(b"plain text line\n" * 100 + b"\xff")
    (doc,) = data.load_corpus(str(p))
    assert doc.text.endswith("\ufffd")


def test_few_very_long_lines_split_at_sentences_then_words():
    sentence = "The quick brown fox jumps over the lazy dog again and again. "
    docs = [data.Document("long.txt", "\n".join(sentence * 530 for _ in range(6)))]  # ~192 KB, 6 lines
    assert 180_000 < len(docs[0].text) < 200_000 and docs[0].text.count("\n") == 5
    s = data.split_corpus(docs, 0.05, 0.05, 0)
    assert all(s[k].documents for k in ("train", "val", "test"))
    assert s["train"].documents[0].text.endswith(". ") and s["val"].documents[0].text.endswith(". ")
    words = [data.Document("w.txt", "word " * 40_000)]  # no sentence ends: cut at a space
    s = data.split_corpus(words, 0.05, 0.05, 0)
    assert s["train"].documents[0].text.endswith(" ") and s["val"].n_chars > 0
    lines = [data.Document("l.txt", "short line\n" * 5_000)]  # ordinary text: whole lines, as before
    assert data.split_corpus(lines, 0.05, 0.05, 0)["train"].documents[0].text.endswith("\n")


# ----------------------------------------------------------------------------- char tokenizer
def test_char_tokenizer_is_a_real_hf_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from interp.tokenizer import train_char

    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\tAll: Speak, speak."
    tok = train_char([text])
    chars = sorted(set(text))
    assert tok.convert_ids_to_tokens(list(range(len(chars)))) == chars  # ids = nanoGPT's stoi on this text
    assert len(tok) == len(chars) + 2 and tok.eos_token == tok.bos_token == "<|endoftext|>"
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    ids = loaded(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and loaded.decode(ids) == text
    assert loaded("Zebra")["input_ids"][0] == loaded.unk_token_id  # unseen character


# ----------------------------------------------------------------------------- run lock
def test_run_lock_excludes_a_second_writer_and_names_the_pid(tmp_path):
    import os

    with run_lock(tmp_path):
        assert lock_holder(tmp_path) is None or lock_holder(tmp_path) == os.getpid()
        with pytest.raises(UserError, match=f"in use by process {os.getpid()}"):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):  # released: free again
        pass
    assert lock_holder(tmp_path) is None


def test_lock_held_by_another_process(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from interp.run_lock import run_lock
        with run_lock({str(tmp_path)!r}):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        assert lock_holder(tmp_path) == p.pid
        with pytest.raises(UserError, match=f"process {p.pid}"):
            with run_lock(tmp_path):
                pass
    finally:
        p.communicate("\n", timeout=30)
    assert lock_holder(tmp_path) is None


# ----------------------------------------------------------------------------- API = CLI, storage note
def test_cli_flags_map_onto_train_config_with_the_same_defaults():
    import inspect

    from interp.cli.train_cmd import train as cli_train
    from interp.train import train as api_train

    api = inspect.signature(api_train).parameters
    flags = inspect.signature(TrainConfig.from_flags).parameters
    assert list(api)[:2] == ["config", "run_dir"]  # train(config: TrainConfig, run_dir)
    assert not any("interrupt" in n for n in api)  # test seams stay out of the public signature
    for name, p in inspect.signature(cli_train).parameters.items():
        if name in ("run_dir", "as_json", "ctx"):  # ctx: typer's context (refuses flags given with --resume)
            continue
        if name in ("force", "resume"):
            assert ("resume_run" if name == "resume" else name) in api, name
            continue
        assert name in flags, name
        assert flags[name].default == p.default, name


def test_train_config_from_flags_is_the_stored_config(tmp_path):
    cfg = TrainConfig.from_flags(preset="tiny", n_layers=1, epochs=2, freeze="embeddings, blocks.0")
    assert cfg.model.n_layers == 1 and cfg.max_epochs == 2 and cfg.freeze == ("embeddings", "blocks.0")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert "init_from" not in TrainConfig.from_flags(preset="tiny").to_dict()  # plain runs: run.json as before
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]


def test_planned_checkpoint_storage(tmp_path, toy_tokenizer):
    import numpy as np

    from interp.train import Dist, Trainer

    cfg = TrainConfig(model=get_preset("tiny", n_ctx=16, d_vocab=len(toy_tokenizer)), batch_size=4, max_epochs=3,
                      save_at="log", save_every=0)
    ids = np.arange(4 * 17 * 10 + 17, dtype=np.int32) % len(toy_tokenizer)
    t = Trainer(cfg, tmp_path, toy_tokenizer, ids, ids, Dist())
    c = t.planned_checkpoints()
    assert t.steps_per_epoch == 10 and t.total_steps == 30
    assert c == {"epoch": 3, "save_every": 0, "save_at": 5, "best": 1}  # log: 1, 2, 4, 8, 16; epochs end at 10, 20, 30
    assert t.planned_bytes() == t.n_params * (12 * 3 + 4 * (5 + 1))
