"""Issue 19, the cases that need a state first: train --resume after optimizer state was deleted (refused, naming
what is missing; nothing rewritten), a run diverging before its first checkpoint (no run dir left), the plan line
`interp train` prints before training, the load checks on their own, and the causal coreference probe on a
hand-written file of users' sentences (>= 90% of gendered items paired, a reason per dropped item)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree
from tests.conftest import TOY_TEXT

USER_SENTENCES = Path(__file__).resolve().parents[1] / "fixtures" / "coref" / "user_sentences.jsonl"
TRAIN = ["--preset", "tiny", "--n-ctx", "16", "--vocab-size", "300", "--batch-size", "4", "--epochs", "1",
         "--eval-tokens", "256", "--val-frac", "0.1", "--test-frac", "0.1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    (d / "c.txt").write_text(TOY_TEXT * 3)
    return d / "c.txt"


def test_resume_after_optimizer_state_deleted_is_refused(tmp_path, corpus):
    run = tmp_path / "r"
    r = run_cli(["train", str(run), *TRAIN, "--corpus", str(corpus), "--max-steps", "3", "--save-every", "1"],
                cwd=tmp_path, timeout=900)  # ~8 CPU s; wall time only matters on a loaded machine
    assert r.returncode == 0, r.stderr
    assert "training preset 'tiny'" in r.stderr and "steps" in r.stderr and "estimate" in r.stderr  # the plan line
    for p in (run / "checkpoints").glob("*/optimizer.safetensors"):
        p.unlink()
    before = snapshot_tree(tmp_path)
    line = assert_user_error(run_cli(["train", "--resume", str(run)], cwd=tmp_path), "optimizer.safetensors")
    assert "would restart from step 0" in line and "epoch-001" in line
    assert snapshot_tree(tmp_path) == before, "a refused resume must not rewrite the run"


def test_diverging_before_the_first_checkpoint_leaves_no_run(tmp_path, corpus, monkeypatch, capsys):
    import interp.train.loop as loop
    from interp.cli import run

    real = torch.nn.functional
    calls = {"n": 0}

    def cross_entropy(*a, **k):
        loss = real.cross_entropy(*a, **k)
        if k.get("reduction", "mean") == "mean":
            calls["n"] += 1
            if calls["n"] >= 2:  # step 2
                return loss * float("nan")
        return loss

    monkeypatch.setattr(loop, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    rc = run(["train", str(tmp_path / "r"), *TRAIN, "--corpus", str(corpus), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not finite at step 2" in err[0], err
    assert not (tmp_path / "r").exists(), "no run.json may be left to resume from"


def test_memory_estimate_matches_the_built_model():
    from interp.presets import get_preset
    from interp.train.plan import n_params

    for name in ("tiny", "small"):
        cfg = get_preset(name)
        hf = cfg.to_hf_config(vocab_size=cfg.d_vocab, bos_token_id=0, eos_token_id=0)
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel(hf)
        assert n_params(cfg) == sum(p.numel() for p in model.parameters())


def test_generate_bounds_agree():
    from interp.cli.model_cmds import MAX_NEW_TOKENS as cli_max
    from interp.decoding import MAX_NEW_TOKENS

    assert cli_max == MAX_NEW_TOKENS


def test_text_rule_accepts_good_text_and_few_stray_bytes(tmp_path):
    from interp.errors import UserError
    from interp.text_input import check_prompt, read_text_file

    (tmp_path / "ok.txt").write_bytes("héllo\r\nworld ".encode() * 200 + b"\xff")
    assert read_text_file(tmp_path / "ok.txt").startswith("héllo\nworld")
    with pytest.raises(UserError, match="over the"):
        import os

        os.environ["INTERP_MAX_TEXT_BYTES"] = "10"
        try:
            read_text_file(tmp_path / "ok.txt")
        finally:
            del os.environ["INTERP_MAX_TEXT_BYTES"]
    assert check_prompt("plain") == "plain"
    with pytest.raises(UserError, match="NUL"):
        check_prompt("a\0b")


def test_causal_coref_pairs_users_sentences(tmp_path):
    """>= 90% of the gendered items of a hand-written file are paired; every dropped item has a reason."""
    from tests.report_tree import coref_model

    model = coref_model(tmp_path / "m")
    rows = [json.loads(ln) for ln in USER_SENTENCES.read_text().splitlines() if ln.strip()]
    assert len(rows) >= 20
    r = run_cli(["probe", "coref", str(model), "--causal", "--data", str(USER_SENTENCES), "--json"], cwd=tmp_path,
                timeout=900)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_examples"] == len(rows) and d["n_gendered"] >= 20
    assert d["n_pairs"] >= 0.9 * d["n_gendered"], (d["n_pairs"], d["n_gendered"], d["dropped"])
    assert d["paired_fraction_of_gendered"] == pytest.approx(d["n_pairs"] / d["n_gendered"])
    assert d["n_pairs"] + len(d["dropped"]) == d["n_examples"]
    assert all(x["reason"] and x["where"] for x in d["dropped"])
    assert sum(d["n_skipped"].values()) == len(d["dropped"])
    for p in d["pairs"]:  # every twin swaps the antecedent and nothing else changes length-wise in tokens
        assert p["clean"] != p["corrupt"]
