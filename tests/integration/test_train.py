"""Trainer: HF checkpoints per epoch, metadata, resume == uninterrupted, atomic checkpoints, DDP, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from interp import hooked
from interp.cli import run
from interp.train import resume, train
from interp.train.hooks import Hooks

from .conftest import tiny_config


def test_run_layout_and_metadata(trained_run):
    run_dir, result = trained_run
    meta = json.loads((run_dir / "run.json").read_text())
    splits = meta["data"]["splits"]
    assert set(splits) == {"train", "val", "test"}
    assert all(s["mode"] == "documents" and s["n_tokens"] > 0 and len(s["sha256"]) == 64 for s in splits.values())
    names = [set(s["documents"]) for s in splits.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2]), "a document in two splits"
    assert [p.name for p in hooked.checkpoint_dirs(run_dir)] == ["epoch-001", "epoch-002", "epoch-003"]
    assert result.epochs_completed == 3 and (run_dir / "checkpoints" / "best" / "model.safetensors").exists()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "lr", "train_loss", "grad_norm", "tokens_per_s"} <= set(rows[-1])
    evals = [r for r in rows if "val_loss" in r]
    assert len(evals) == 3 and all("val_ppl" in r for r in evals)
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] + 0.5  # learning, not diverging
    lrs = [r["lr"] for r in rows]
    assert max(lrs) <= 3e-3 + 1e-12 and lrs[-1] < max(lrs)  # warmup then cosine decay


def test_checkpoint_loads_with_plain_transformers(trained_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ckpt = trained_run[0] / "checkpoints" / "epoch-002"
    tok = AutoTokenizer.from_pretrained(ckpt, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(ckpt, local_files_only=True)
    ids = tok("To be, or not to be", return_tensors="pt").input_ids
    assert tok.decode(ids[0]) == "To be, or not to be"
    assert model(ids).logits.shape == (1, ids.shape[1], len(tok))


def test_split_texts_rebuilds_val(trained_run):
    from interp.data import split_texts

    meta = json.loads((trained_run[0] / "run.json").read_text())
    val = split_texts(meta, "val")
    assert len(val) == len(meta["data"]["splits"]["val"]["documents"]) and all(val)


def test_resume_equals_uninterrupted(tmp_path, small_corpus):
    cfg = tiny_config(small_corpus, max_epochs=2, save_every=7)
    full = train(cfg, tmp_path / "full", progress=False)
    steps_per_epoch = full.steps // 2
    with pytest.raises(KeyboardInterrupt):  # killed mid-epoch 2, after a --save-every checkpoint
        train(cfg, tmp_path / "cut", progress=False, _hooks=Hooks(interrupt_after_step=steps_per_epoch + 9))
    resumed = resume(tmp_path / "cut", progress=False)
    assert resumed.steps == full.steps
    a = load_file(str(tmp_path / "full" / "checkpoints" / "epoch-002" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "checkpoints" / "epoch-002" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=0, rtol=0)
    # same inputs + seed → identical results JSON (timing lives in timing.json)
    res = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("cut", "full")]
    assert res[0].pop("run_dir") != res[1].pop("run_dir") and res[0] == res[1]
    assert json.loads((tmp_path / "cut" / "timing.json").read_text())["tokens_per_s"] > 0
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), "metrics.jsonl has duplicated steps after resume"


def test_checkpoint_write_is_atomic(tmp_path, small_corpus, monkeypatch):
    """A crash while writing epoch 2's checkpoint leaves epoch 1 complete and no partial dir visible."""
    import interp.checkpoint as ck

    real = ck.save_file
    calls = {"n": 0}

    def flaky(tensors, path, *a, **k):
        calls["n"] += 1
        if "optimizer" in str(path) and calls["n"] > 2:
            raise OSError("disk full (simulated)")
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(ck, "save_file", flaky)
    with pytest.raises(OSError):
        train(tiny_config(small_corpus, max_epochs=2), tmp_path / "r", progress=False)
    visible = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir() if not p.name.startswith("."))
    assert "epoch-001" in visible and "epoch-002" not in visible
    assert not any(p.name.startswith(".") for p in (tmp_path / "r" / "checkpoints").iterdir())
    hooked.load_hf(str(tmp_path / "r" / "checkpoints" / "epoch-001"))  # loadable


def test_ddp_two_processes_matches_single(tmp_path, small_corpus):
    """torchrun --nproc_per_node=2 (gloo, CPU): batch 4 per rank == one process with batch 8, to float error.

    Compared after 4 steps: over many steps Adam amplifies float-level differences in near-zero coordinates.
    """
    single = train(tiny_config(small_corpus, max_epochs=1, batch_size=8, max_steps=4), tmp_path / "single",
                   progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
           "-m", "interp.cli", "train", str(tmp_path / "ddp"), "--preset", "tiny", "--n-ctx", "32",
           "--vocab-size", "384", "--corpus", str(small_corpus), "--batch-size", "4", "--epochs", "1",
           "--warmup-steps", "5", "--lr", "3e-3", "--eval-tokens", "2048", "--val-frac", "0.1", "--test-frac", "0.1",
           "--max-steps", "4", "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    a = load_file(str(tmp_path / "single" / "checkpoints" / "epoch-001" / "model.safetensors"))
    b = load_file(str(tmp_path / "ddp" / "checkpoints" / "epoch-001" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-4, rtol=0)
    assert json.loads((tmp_path / "ddp" / "results.json").read_text())["steps"] == single.steps == 4
    la = [json.loads(x)["train_loss"] for x in (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["train_loss"] for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    torch.testing.assert_close(torch.tensor(lb), torch.tensor(la), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- bad input → exit 2, one line
def _train_cli(args, capsys):
    rc = run(["train", *args])
    err = capsys.readouterr().err.strip()
    return rc, err


@pytest.mark.parametrize(
    "setup,args,match",
    [
        ("missing", ["--corpus", "{tmp}/nope.txt"], "does not exist"),
        ("empty", ["--corpus", "{tmp}/empty.txt"], "empty"),
        ("short", ["--corpus", "{tmp}/short.txt", "--vocab-size", "260"], "smaller than one context window"),
        ("corpus", ["--corpus", "{corpus}", "--vocab-size", "60000"], "larger than this corpus supports"),
        ("none", ["--preset", "huge"], "unknown preset"),
        ("none", ["--n-layers", "-1"], "n_layers"),
        ("none", ["--n-heads", "3"], "does not divide"),
    ],
)
def test_bad_input(tmp_path, small_corpus, capsys, setup, args, match):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "short.txt").write_text("A tiny corpus. " * 20)
    args = [a.format(tmp=tmp_path, corpus=small_corpus) for a in args]
    run_dir = tmp_path / "run"
    rc, err = _train_cli([str(run_dir), "--preset", "tiny", *args] if "--preset" not in args else [str(run_dir), *args],
                         capsys)
    assert rc == 2 and match in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not run_dir.exists(), "bad input must not leave a half-written run dir"


def test_existing_run_dir_needs_resume_or_force(trained_run, capsys):
    rc, err = _train_cli([str(trained_run[0]), "--preset", "tiny"], capsys)
    assert rc == 2 and "--resume" in err and "--force" in err


def test_resume_nonrun_dir(tmp_path, capsys):
    rc, err = _train_cli(["--resume", str(tmp_path)], capsys)
    assert rc == 2 and "not a training run" in err


def test_cli_info_and_generate_on_trained_run(trained_run, capsys):
    run_dir = str(trained_run[0])
    assert run(["info", run_dir, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_layers"] == 2 and info["run"]["data"]["corpus"]
    assert run(["generate", run_dir, "To be", "-n", "8", "-t", "0.8", "-k", "20", "--seed", "3", "--json"]) == 0
    g1 = json.loads(capsys.readouterr().out)
    assert run(["generate", run_dir, "To be", "-n", "8", "-t", "0.8", "-k", "20", "--seed", "3", "--json"]) == 0
    g2 = json.loads(capsys.readouterr().out)
    assert g1 == g2 and len(g1["completion_tokens"]) == 8 and g1["decoding"] == "k20t0.8"


def test_bridge_matches_hf_on_trained_checkpoint(trained_run):
    ref = str(trained_run[0] / "checkpoints" / "epoch-003")
    hf, tok = hooked.load_hf(ref)
    bridge = hooked.load(ref)
    ids = torch.tensor([tok("Now is the winter of our discontent")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), hf(ids).logits, atol=1e-4, rtol=0)
    _, cache = bridge.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
    assert cache["blocks.1.attn.hook_pattern"].shape == (1, 4, ids.shape[1], ids.shape[1])


def test_run_dir_reference_resolves_to_best(trained_run):
    kind, path = hooked.resolve(str(trained_run[0]))
    assert kind == "local" and Path(path).name == "best"
