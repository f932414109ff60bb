"""Head formation: emergence rule, table from a synthetic evolution dict, duplicate-token score, the
TransformerLens head-detector cross-check on a 4.x bridge, and 2-process torchrun == 1 process (byte-identical)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interp import attention as A
from interp.attention import scores as S
from interp.errors import UserError
from tests.unit.series_helpers import interp_run

PROMPT = "The cat sat on the mat. The cat sat on the"


def test_emergence_index_needs_crossing_and_staying_above():
    assert A.emergence_index([0.1, 0.5, 0.6, 0.7], 0.5) == 1
    assert A.emergence_index([0.1, 0.6, 0.2, 0.6, 0.7], 0.5) == 3  # fell back after the first crossing
    assert A.emergence_index([0.6, 0.7, 0.3], 0.5) is None  # below at the end: not formed
    assert A.emergence_index([None, 0.9], 0.5) == 1


def test_formation_table_from_synthetic_evolution():
    def ck(i, prev, ind):
        return {"prev_token": prev, "induction": ind, "duplicate_token": [[0.0, 0.0]], "sink": [[0.1, 0.1]],
                "js_distance": None if i == 0 else [[0.2, 0.4]]}

    evo = {"n_layers": 1, "n_heads": 2, "labels": ["a", "b", "c"], "steps": [1, 10, 100], "tokens_seen": [8, 80, 800],
           "epochs": [None] * 3, "x": "tokens", "x_values": [8, 80, 800], "induction_len": 8,
           "checkpoints": [ck(0, [[0.1, 0.0]], [[0.0, 0.1]]), ck(1, [[0.6, 0.0]], [[0.0, 0.2]]),
                           ck(2, [[0.7, 0.1]], [[0.0, 0.5]])],
           "loss_curve": [{"step": 1, "tokens": 8, "epoch": None, "train_loss": 5.0, "val_loss": None}]}
    r = A.head_formation_from_evolution(evo).to_dict()
    formed = {(f["type"], f["head_name"]): f for f in r["formed"]}
    assert set(formed) == {("prev_token", "L0.H0"), ("induction", "L0.H1")}
    assert formed[("prev_token", "L0.H0")]["tokens_seen"] == 80 and formed[("prev_token", "L0.H0")]["label"] == "b"
    assert formed[("induction", "L0.H1")]["step"] == 100 and formed[("induction", "L0.H1")]["final_score"] == 0.5
    summ = {s["type"]: s for s in r["summary"]}
    assert summ["duplicate_token"]["n_formed"] == 0 and summ["duplicate_token"]["first"] is None
    assert r["js_distance_mean"] == [None, pytest.approx(0.3), pytest.approx(0.3)]
    import matplotlib.pyplot as plt

    plt.close(A.plot_head_formation(r)[0][1])
    with pytest.raises(UserError, match="unknown head type"):
        A.parse_thresholds("bogus=0.3")
    with pytest.raises(UserError, match=r"in \(0, 1\]"):
        A.parse_thresholds("induction=1.5")


def test_duplicate_token_scores_hand_made():
    Sq = 3
    T = 1 + 2 * Sq
    p = torch.zeros(T, T)
    p[:, 0] = 1.0
    for i in range(1 + Sq, T):  # perfect duplicate-token head: attend to the earlier copy
        p[i] = 0
        p[i, i - Sq] = 1
    assert S.duplicate_token_score(p, Sq, offset=1).item() == 1.0
    toks = torch.tensor([0, 5, 6, 7, 5, 6, 7])
    assert S.duplicate_token_score_on(p, toks).item() == 1.0
    assert torch.isnan(S.duplicate_token_score_on(p, torch.arange(T)))


def test_scores_agree_with_transformer_lens_head_detector(tiny_bridge):
    """TransformerLens's `detect_head` runs on a 4.x TransformerBridge: its "mul" scores equal ours in its
    convention (`detection_score`), and our previous-token score is its score × T/(T-1) (its row 0 term)."""
    from transformer_lens.head_detector import detect_head

    from interp import tokens

    ids = tokens.encode(tiny_bridge.tokenizer, PROMPT)
    assert tiny_bridge.to_tokens(PROMPT)[0].tolist() == ids  # the bridge tokenizes our way (BOS once)
    r = A.attention_maps(tiny_bridge, PROMPT)
    pats = torch.tensor(r.patterns, dtype=torch.float64)  # (L, H, T, T)
    T = pats.shape[-1]
    tl_prev = detect_head(tiny_bridge, PROMPT, "previous_token_head").double()
    ours = S.detection_score(pats, S.previous_token_detection_pattern(T))
    torch.testing.assert_close(ours, tl_prev, atol=1e-5, rtol=0)
    torch.testing.assert_close(S.prev_token_score(pats) * (T - 1) / T, tl_prev, atol=1e-5, rtol=0)
    t = torch.tensor(ids)
    for name, D in (("duplicate_token_head", S.duplicate_token_detection_pattern(t)),
                    ("induction_head", S.induction_detection_pattern(t))):
        torch.testing.assert_close(S.detection_score(pats, D), detect_head(tiny_bridge, PROMPT, name).double(),
                                   atol=1e-5, rtol=0)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_byte_identical(tmp_path, toy_tokenizer):
    run = interp_run(tmp_path / "run", toy_tokenizer, step_ckpts=(1, 2, 4), epochs=(1, 2))  # 5 checkpoints
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = ["attention-evolution", str(run), "--prompt", PROMPT, "--induction-len", "8", "--induction-batch", "2",
            "--heads", "1.*", "--seed", "3"]
    one = subprocess.run([str(Path(sys.executable).parent / "interp"), *args, "--out", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          f"--master_port={_free_port()}",
                          "-m", "interp.cli", *args, "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (tmp_path / "one" / "results.json").read_bytes(), (tmp_path / "two" / "results.json").read_bytes()
    assert a == b
