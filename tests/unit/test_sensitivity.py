"""Prompt sensitivity: symmetric BLEU with the diagonal excluded, identical prompts agree, seeded."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evals.sensitivity import (
    SensitivityConfig,
    figures,
    off_diagonal_stats,
    pairwise_bleu,
    parse_decodings,
    read_prompts,
    sensitivity,
)
from interp import hooked
from interp.cli import run
from interp.errors import UserError


@pytest.fixture(scope="module")
def hf_tok(tiny_gpt2_dir):
    return hooked.load_hf(str(tiny_gpt2_dir))


def test_pairwise_bleu_symmetric_diag_excluded():
    texts = ["the cat sat on the mat today", "the cat sat on the mat today", "a dog ran far away", "the cat sat"]
    m = pairwise_bleu(texts)
    assert np.isnan(np.diag(m)).all()
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(m[off], m.T[off])
    assert m[0, 1] == pytest.approx(100.0)
    assert m[0, 2] == pytest.approx(0.0, abs=1e-9)
    mean, lo, hi = off_diagonal_stats(m)
    iu = np.triu_indices(4, 1)
    assert mean == pytest.approx(m[iu].mean()) and lo == pytest.approx(m[iu].min()) and hi == pytest.approx(100.0)
    # asymmetric raw BLEU ("the cat sat" vs the long one: brevity penalty one way only) is averaged
    import sacrebleu

    a = sacrebleu.sentence_bleu(texts[3], [texts[0]]).score
    b = sacrebleu.sentence_bleu(texts[0], [texts[3]]).score
    assert a != b and m[0, 3] == pytest.approx((a + b) / 2)


def test_identical_prompts_greedy_give_bleu_100(hf_tok):
    hf, tok = hf_tok
    cfg = SensitivityConfig(prompts=("The university student",) * 3, decodings=("greedy",), max_new_tokens=8)
    res = sensitivity(hf, cfg, tokenizer=tok)
    (row,) = res.decodings
    assert len(set(row.continuations)) == 1 and row.continuations[0].strip()
    assert row.bleu_mean == pytest.approx(100.0) and row.bleu_min == pytest.approx(100.0)
    d = res.to_dict()
    assert all(d["decodings"][0]["bleu"][i][i] is None for i in range(3))  # diagonal → null in JSON


def test_seeded_and_bridge_matches_hf(hf_tok, tiny_bridge):
    hf, tok = hf_tok
    cfg = SensitivityConfig(prompts=("The university student", "A college student"), decodings=("greedy", "t0.7"),
                            max_new_tokens=6, seed=3)
    a = sensitivity(hf, cfg, tokenizer=tok).to_dict()
    assert a == sensitivity(hf, cfg, tokenizer=tok).to_dict()
    other = SensitivityConfig(prompts=cfg.prompts, decodings=("t0.7",), max_new_tokens=6, seed=4)
    assert sensitivity(hf, other, tokenizer=tok).decodings[0].continuation_tokens != \
        tuple(tuple(t) for t in a["decodings"][1]["continuation_tokens"])
    b = sensitivity(tiny_bridge, cfg).to_dict()
    assert b["decodings"][0]["continuation_tokens"] == a["decodings"][0]["continuation_tokens"]
    row = a["decodings"][0]
    assert len(row["distinct_1"]) == 2 and all(0 < x <= 1 for x in row["distinct_1"])
    assert row["distinct_1_mean"] == pytest.approx(sum(row["distinct_1"]) / 2, rel=1e-6)
    figs = figures(json.loads(json.dumps(a)))
    assert set(figs) == {"bleu_greedy", "bleu_t0p7"}
    import matplotlib.pyplot as plt

    for f in figs.values():
        plt.close(f)


def test_input_validation():
    with pytest.raises(UserError, match="no prompts"):
        read_prompts("\n  \n")
    assert read_prompts(" a \n\nb\n") == ("a", "b")
    with pytest.raises(UserError, match="bad decoding"):
        parse_decodings("greedy,beam5")
    assert parse_decodings("greedy, t0.7,k50,greedy") == ("greedy", "t0.7", "k50")
    with pytest.raises(UserError, match="at least 2"):
        SensitivityConfig(prompts=("only one",))
    with pytest.raises(UserError, match="max-new-tokens"):
        SensitivityConfig(max_new_tokens=0)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_cli(tiny_gpt2_dir, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n   \n")
    out = tmp_path / "out"
    assert run(["eval", "sensitivity", str(tiny_gpt2_dir), "--prompts", str(empty), "--out", str(out)]) == 2
    assert "no prompts" in _one_line_error(capsys)
    assert run(["eval", "sensitivity", str(tiny_gpt2_dir), "--decoding", "nucleus"]) == 2
    assert "bad decoding" in _one_line_error(capsys)
    assert not out.exists()
    prompts = tmp_path / "p.txt"
    prompts.write_text("The cat\nA cat\n")
    assert run(["eval", "sensitivity", str(tiny_gpt2_dir), "--prompts", str(prompts), "--decoding", "greedy",
                "-n", "4", "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prompts"] == ["The cat", "A cat"] and data["decodings"][0]["decoding"] == "greedy"
    assert not math.isnan(data["decodings"][0]["bleu_mean"])
    assert (out / "results.json").exists() and (out / "bleu_greedy.png").exists() and (out / "bleu_greedy.svg").exists()
