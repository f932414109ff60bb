"""`interp train --preset induction` end to end at a toy size: the preset brings its corpus, word tokenizer and
log-spaced checkpoints; command-line flags still win; head-formation reads the run's train/val splits for the
frequent-token induction sampling and the ICL score."""

from __future__ import annotations

import json

from tests.cli_helpers import assert_user_error, run_cli


def test_induction_preset_smoke_train_and_head_formation(tmp_path):
    r = run_cli(["train", "run", "--preset", "induction", "--d-model", "16", "--n-ctx", "16", "--max-steps", "6",
                 "--eval-every", "3", "--batch-size", "4", "--json"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    cfg = meta["config"]
    assert (cfg["corpus"], cfg["tokenizer"], cfg["save_at"]) == ("induction-text", "word", "log:4,4000-10000:500")
    assert (cfg["batch_size"], cfg["max_steps"], cfg["model"]["d_model"]) == (4, 6, 16)  # flags beat the preset
    assert cfg["patience"] == 1000 and cfg["lr"] == 4e-3 and cfg["model"]["n_heads"] == 4  # the preset's (plain default patience: 2)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert {"step-000001", "step-000002", "step-000003", "step-000004", "step-000005", "epoch-001"} <= set(names)
    assert meta["tokenizer"]["kind"] == "word" and meta["tokenizer"]["vocab_size"] == 200 + 1 + 2  # words + . + specials

    prompt = "the king is my lord and i am his . the king is my lord and i am his ."
    r = run_cli(["head-formation", "run", "--prompt", prompt, "--induction-len", "6", "-o", "hf", "--json"],
                cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    d = json.loads((tmp_path / "hf" / "results.json").read_text())
    assert "most frequent" in d["induction_sampling"] and "train split" in d["induction_sampling"]
    assert d["icl_source"] == "the run's val split"
    assert len(d["icl"]) == len(d["labels"]) and all(c["low"] <= c["score"] <= c["high"] for c in d["icl"])
    assert set(d["markers"]) == {"induction", "prev_token", "icl", "loss_bump", "circuit"}
    assert d["circuit_hook"]["edge"].startswith("L0.H") and d["circuit_hook"]["edge"].endswith(".k")

    bad = run_cli(["head-formation", "run", "--induction-sampling", "often", "-o", "hf2"], cwd=tmp_path)
    assert_user_error(bad, "--induction-sampling")
    assert not (tmp_path / "hf2").exists()
