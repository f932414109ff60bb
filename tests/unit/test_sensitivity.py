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


# ----------------------------------------------------------------------------- independent seeds, sampling baseline
def test_sample_seeds_independent_and_derived_from_seed():
    from evals.sensitivity import sample_seed

    seeds = {sample_seed(0, d, p, s) for d in range(3) for p in range(8) for s in range(4)}
    assert len(seeds) == 96  # every (decoding, prompt, sample) has its own generator seed
    assert sample_seed(0, 1, 2, 3) == sample_seed(0, 1, 2, 3) != sample_seed(1, 1, 2, 3)


def test_unrelated_samples_score_near_the_unrelated_text_baseline(hf_tok):
    """A model with uniform next-token probabilities: its samples are unrelated random text whatever the prompt.
    With one shared seed every prompt drew the same text (BLEU 100, "insensitive"); with independent seeds the
    between-prompt BLEU sits at the BLEU of independently drawn random token strings, and so does the
    within-prompt BLEU (the difference between the two is a few BLEU points at most)."""
    import torch

    hf, tok = hf_tok
    v = int(hf.config.vocab_size)

    def uniform(ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(ids.shape[0], ids.shape[1], v)

    cfg = SensitivityConfig(prompts=("The university student", "A college student", "The cat", "A dog"),
                            decodings=("t1.0",), max_new_tokens=12, samples=3, seed=0)
    (row,) = sensitivity(hf, cfg, tokenizer=tok, logits_fn=uniform).decodings
    flat = [t for ts in row.samples for t in ts]
    assert len(set(flat)) == len(flat)  # no two (prompt, sample) draws share their text
    g = torch.Generator().manual_seed(123)  # the reference: independent random token strings of the same length
    ref = [tok.decode(torch.randint(0, v, (12,), generator=g).tolist()) for _ in range(12)]
    m = pairwise_bleu(ref)
    baseline = float(m[np.triu_indices(12, 1)].mean())
    assert baseline < 15
    assert abs(row.bleu_mean - baseline) < 5 and abs(row.bleu_within_mean - baseline) < 5
    assert abs(row.within_minus_between) < 5


def test_within_prompt_baseline_shape_and_report(hf_tok):
    from reports.collect import Stage
    from reports.sections import get_section

    hf, tok = hf_tok
    cfg = SensitivityConfig(prompts=("The university student", "A college student", "The cat"),
                            decodings=("greedy", "t0.7"), max_new_tokens=6, samples=2, seed=1)
    d = sensitivity(hf, cfg, tokenizer=tok).to_dict()
    greedy, t07 = d["decodings"]
    assert greedy["n_samples"] == 1 and greedy["bleu_within"] is None and greedy["sample_seeds"] == []
    assert t07["n_samples"] == 2 and len(t07["samples"]) == 3 and all(len(s) == 2 for s in t07["samples"])
    assert len(t07["bleu_within"]) == 3 and t07["diff_ci_low"] <= t07["within_minus_between"] <= t07["diff_ci_high"]
    w = np.array(t07["bleu_within"], dtype=float)
    b = np.nanmean(np.array([[np.nan if x is None else x for x in r] for r in t07["bleu"]], dtype=float), axis=1)
    assert t07["within_minus_between"] == pytest.approx(float((w - b).mean()), abs=1e-3)
    st = Stage(rel="s", source="s/results.json", kind="prompt_sensitivity", data=d)
    f = get_section("prompt_sensitivity").findings(st)
    assert any("between- vs within-prompt" in x.label and x.interval.startswith("95% bootstrap") for x in f)
    assert any("no sampling baseline" in x.verdict for x in f)
