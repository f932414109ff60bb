"""Trainer runs: char tokenizer, --save-at log, divergence stop, run lock, damaged/partial checkpoints on resume."""

from __future__ import annotations

import json
import os
import shutil
import types

import pytest
import torch

from interp import hooked
from interp.checkpoint import read_state
from interp.cli import run
from interp.run_lock import run_lock
from interp.train import resume, train
from interp.train.hooks import Hooks
from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

from .conftest import tiny_config


@pytest.fixture(scope="module")
def char_run(tmp_path_factory, small_corpus):
    run_dir = tmp_path_factory.mktemp("char") / "run"
    result = train(tiny_config(small_corpus, tokenizer="char", max_epochs=2, save_at="log"), run_dir, progress=False)
    return run_dir, result


def test_char_run_checkpoints_are_standard_hf_dirs(char_run):
    from transformers import AutoTokenizer

    run_dir, result = char_run
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["tokenizer"]["kind"] == "char" and meta["config"]["tokenizer"] == "char"
    ckpt = run_dir / "checkpoints" / "epoch-002"
    tok = AutoTokenizer.from_pretrained(ckpt, local_files_only=True)
    text = "To be, or not to be: that is the question."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tok.decode(ids) == text
    assert meta["tokenizer"]["vocab_size"] == len(tok) < 120
    hf, _ = hooked.load_hf(str(ckpt))
    bridge = hooked.load(str(ckpt))
    x = torch.tensor([ids[:32]])  # n_ctx 32
    with torch.no_grad():
        torch.testing.assert_close(bridge(x), hf(x).logits, atol=1e-4, rtol=0)
    assert result.timing["tokens_per_s"] > 0 and "timing" not in result.to_dict()


def test_save_at_log_writes_ordered_step_checkpoints(char_run):
    run_dir, result = char_run
    ck = run_dir / "checkpoints"
    spe = result.steps // 2
    expected = [2**k for k in range(20) if 2**k <= result.steps and 2**k % spe]
    steps = sorted(int(p.name.split("-")[1]) for p in ck.glob("step-*"))
    assert steps == expected
    for s in steps:
        st = read_state(ck / f"step-{s:06d}")
        assert st["step"] == s and st["kind"] == "step" and st["tokens_seen"] == s * 8 * 32
        assert st["epoch"] == (0 if s < spe else 1) and st["epoch_progress"] == pytest.approx(s / spe)
        assert not (ck / f"step-{s:06d}" / "optimizer.safetensors").exists()  # weights only
    assert read_state(ck / "epoch-001")["kind"] == "epoch" and read_state(ck / "epoch-001")["step"] == spe


def test_non_finite_loss_stops_naming_the_step(tmp_path, small_corpus, monkeypatch, capsys):
    import interp.train.loop as loop

    calls = {"n": 0}
    real = torch.nn.functional

    def cross_entropy(*a, **k):
        loss = real.cross_entropy(*a, **k)
        if k.get("reduction", "mean") == "mean":  # training steps (evaluation sums)
            calls["n"] += 1
            if calls["n"] > 14:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(loop, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    run_dir = tmp_path / "r"
    rc = run(["train", str(run_dir), "--preset", "tiny", "--n-ctx", "32", "--vocab-size", "384", "--corpus",
              str(small_corpus), "--batch-size", "8", "--epochs", "3", "--eval-tokens", "2048", "--val-frac", "0.1",
              "--test-frac", "0.1", "--save-every", "5", "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not finite at step 15" in err[0] and "step-000010" in err[0], err
    assert not (run_dir / "results.json").exists()
    good = run_dir / "checkpoints" / "step-000010"
    model, _ = hooked.load_hf(str(good))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_force_or_resume_on_a_live_run_is_refused(tmp_path, trained_run):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(trained_run[0] / "run.json", live / "run.json")
    (live / "metrics.jsonl").write_text("{}\n")
    with run_lock(live):
        before = snapshot_tree(live)
        r = run_cli(["train", str(live), "--preset", "tiny", "--force"], cwd=tmp_path)
        assert_user_error(r, f"in use by process {os.getpid()}")
        r = run_cli(["train", "--resume", str(live)], cwd=tmp_path)
        assert_user_error(r, f"in use by process {os.getpid()}")
        assert snapshot_tree(live) == before


def test_resume_from_damaged_checkpoint_is_one_line(tmp_path, small_corpus, capsys):
    cfg = tiny_config(small_corpus, max_epochs=1, save_every=3)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "r", progress=False, _hooks=Hooks(interrupt_after_step=4))
    opt = tmp_path / "r" / "checkpoints" / "step-000003" / "optimizer.safetensors"
    opt.write_bytes(opt.read_bytes()[:100])  # truncated (e.g. a disk that filled up outside interp's atomic writes)
    rc = run(["train", "--resume", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "step-000003" in err[0] and "damaged or truncated" in err[0], err


def test_resume_removes_partial_temp_dirs_and_newer_checkpoints(tmp_path, small_corpus):
    cfg = tiny_config(small_corpus, max_epochs=1, save_every=3, save_at="4,5")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "r", progress=False, _hooks=Hooks(interrupt_after_step=5))
    ck = tmp_path / "r" / "checkpoints"
    (ck / ".step-000006.abc123.tmp").mkdir()  # a kill in the middle of atomic_dir
    (ck / ".step-000006.abc123.tmp" / "model.safetensors").write_bytes(b"partial")
    (tmp_path / "r" / ".results.json.x1.tmp").write_text("{")
    assert {p.name for p in ck.glob("step-*")} == {"step-000003", "step-000004", "step-000005"}
    result = resume(tmp_path / "r", progress=False)
    assert not [p for p in ck.iterdir() if p.name.startswith(".")]
    assert not (tmp_path / "r" / ".results.json.x1.tmp").exists()
    assert read_state(ck / "step-000004")["step"] == 4  # re-made after resuming from step 3
    assert result.steps == result.epochs_completed * (result.steps // max(1, result.epochs_completed))
