"""Sliding-window perplexity: equals exp(mean CE) from the HF model, scores every token once, rates add up."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from evals.perplexity import PerplexityConfig, perplexity, plan_windows
from interp import hooked
from interp.cli import run
from interp.errors import UserError

TEXT = "John lost his keys. Sarah said she was tired. The cat sat on the mat."
LONG = " ".join([TEXT, "Mary gave her book to Tom and he read it. A dog chased the cat."] * 6)


@pytest.fixture(scope="module")
def hf_tok(tiny_gpt2_dir):
    return hooked.load_hf(str(tiny_gpt2_dir))


def _direct_nll(hf, ids: list[int]) -> torch.Tensor:
    """Per-target NLL of one sequence in one forward (needs len(ids) <= n_ctx)."""
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = hf(x).logits[0]  # (T, d_vocab)
    return F.cross_entropy(logits[:-1], x[0, 1:], reduction="none").double()


def test_equals_exp_mean_ce_of_hf_model(hf_tok):
    hf, tok = hf_tok
    ids = [tok.eos_token_id] + tok(TEXT, add_special_tokens=False)["input_ids"]  # BOS = <|endoftext|>
    assert len(ids) <= 64
    ce = _direct_nll(hf, ids).mean()
    res = perplexity(hf, [TEXT], tokenizer=tok)
    assert res.n_windows == 1 and res.n_tokens == len(ids) - 1 and res.prepend_bos
    torch.testing.assert_close(torch.tensor(res.perplexity, dtype=torch.float64), ce.exp(), atol=0, rtol=1e-5)
    torch.testing.assert_close(torch.tensor(res.nll_per_token, dtype=torch.float64), ce, atol=1e-5, rtol=0)


def test_multi_window_equals_per_window_hf_loop(hf_tok):
    """Strided windows == an explicit loop of HF forwards over the same windows (the HF recipe)."""
    hf, tok = hf_tok
    seq = [tok.eos_token_id] + tok(LONG, add_special_tokens=False)["input_ids"]
    assert len(seq) > 3 * 64
    res = perplexity(hf, [LONG], PerplexityConfig(stride=24), tokenizer=tok)
    total = 0.0
    for w in plan_windows(len(seq), 64, 24):
        nll = _direct_nll(hf, seq[w.start : w.end])
        total += float(nll[-w.n_scored :].sum())
    assert res.n_tokens == len(seq) - 1
    assert res.nll_sum == pytest.approx(total, rel=1e-5)
    assert sum(res.windows["nll_sum"]) == pytest.approx(res.nll_sum, rel=1e-9)


@pytest.mark.parametrize("seq_len,context,stride", [(2, 8, 7), (8, 8, 7), (9, 8, 7), (50, 8, 3), (50, 8, 1), (17, 4, 2)])
def test_windows_score_every_token_exactly_once(seq_len, context, stride):
    seen = []
    ws = plan_windows(seq_len, context, stride)
    for w in ws:
        assert w.end - w.start <= context
        assert 1 <= w.n_scored <= context - 1
        targets = range(w.end - w.n_scored, w.end)
        assert min(targets) - 1 >= w.start  # each target's predicting position is inside the window
        seen.extend(targets)
    assert sorted(seen) == list(range(1, seq_len)), "every position but the first scored exactly once"
    if stride < context - 1 and len(ws) > 1:
        assert all(w.n_scored <= stride for w in ws[1:])


@pytest.mark.parametrize("seq_len,context,stride", [(9, 8, 7), (20, 8, 7), (50, 8, 3), (100, 16, 15)])
def test_final_window_is_right_aligned(seq_len, context, stride):
    """lm-eval convention: the last window ends at the sequence end and has a full context when it can."""
    ws = plan_windows(seq_len, context, stride)
    last = ws[-1]
    assert last.end == seq_len
    assert last.start == max(0, seq_len - context)
    assert all(w.end - w.start == context for w in ws)  # no short tail window


def test_stride_context_validation():
    with pytest.raises(UserError, match="stride"):
        PerplexityConfig(context=8, stride=8)
    with pytest.raises(UserError, match="stride"):
        plan_windows(10, 8, 8)
    with pytest.raises(UserError, match="positive"):
        PerplexityConfig(stride=0)


def test_bits_per_byte_arithmetic_and_counts(hf_tok):
    hf, tok = hf_tok
    texts = ["Café — naïve façade. The cat sat.", TEXT]
    res = perplexity(hf, texts, tokenizer=tok)
    assert res.n_bytes == sum(len(t.encode("utf-8")) for t in texts) > res.n_chars == sum(len(t) for t in texts)
    assert res.bits_per_byte == pytest.approx(res.nll_sum / math.log(2) / res.n_bytes, rel=1e-12)
    assert res.nats_per_char == pytest.approx(res.nll_sum / res.n_chars, rel=1e-12)
    assert res.perplexity == pytest.approx(math.exp(res.nll_sum / res.n_tokens), rel=1e-12)
    # documents are scored separately: the total is the sum of each document alone
    alone = [perplexity(hf, [t], tokenizer=tok) for t in texts]
    assert res.nll_sum == pytest.approx(sum(r.nll_sum for r in alone), rel=1e-5)
    assert [d.n_tokens for d in res.documents] == [r.n_tokens for r in alone]


def test_max_tokens_and_no_bos(hf_tok):
    hf, tok = hf_tok
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    res = perplexity(hf, [TEXT, TEXT], PerplexityConfig(max_tokens=10), tokenizer=tok)
    assert res.n_tokens == 10 and res.n_documents == 1 and res.documents[0].truncated
    assert res.n_chars == len(tok.decode(ids[:10]))
    nb = perplexity(hf, [TEXT], PerplexityConfig(prepend_bos=False), tokenizer=tok)
    assert nb.n_tokens == len(ids) - 1 and not nb.prepend_bos
    assert nb.n_chars == len(TEXT) - len(tok.decode(ids[:1]))  # unscored first token's text excluded


def test_bridge_equals_hf_and_hooks_apply(hf_tok, tiny_bridge):
    hf, tok = hf_tok
    a = perplexity(hf, [LONG], PerplexityConfig(stride=30), tokenizer=tok)
    b = perplexity(tiny_bridge, [LONG], PerplexityConfig(stride=30))
    assert b.nll_sum == pytest.approx(a.nll_sum, rel=1e-5)
    with tiny_bridge.hooks(fwd_hooks=[("blocks.0.attn.hook_z", lambda z, hook: z * 0)]):
        c = perplexity(tiny_bridge, [LONG], PerplexityConfig(stride=30))
    assert abs(c.nll_sum - a.nll_sum) > 1e-3


def test_batching_and_determinism(hf_tok):
    hf, tok = hf_tok
    r1 = perplexity(hf, [LONG, TEXT], PerplexityConfig(stride=20, batch_size=1), tokenizer=tok).to_dict()
    r2 = perplexity(hf, [LONG, TEXT], PerplexityConfig(stride=20), tokenizer=tok).to_dict()
    assert r2 == perplexity(hf, [LONG, TEXT], PerplexityConfig(stride=20), tokenizer=tok).to_dict()
    assert r1["nll_sum"] == pytest.approx(r2["nll_sum"], rel=1e-5)
    json.dumps(r2)  # plain JSON


def test_empty_text_is_user_error(hf_tok):
    hf, tok = hf_tok
    with pytest.raises(UserError, match="empty"):
        perplexity(hf, ["", "  \n"], tokenizer=tok)


# ----------------------------------------------------------------------------- CLI
def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    return err[0]


def test_cli_bad_inputs_exit_2(tiny_gpt2_dir, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n")
    assert run(["eval", "perplexity", str(tiny_gpt2_dir), "--text", str(empty)]) == 2
    assert "empty" in _one_line_error(capsys)
    assert run(["eval", "perplexity", str(tiny_gpt2_dir), "--split", "dev"]) == 2
    assert "unknown split" in _one_line_error(capsys)
    assert run(["eval", "perplexity", str(tiny_gpt2_dir)]) == 2  # foreign model: no split to default to
    assert "--text" in _one_line_error(capsys)
    assert run(["eval", "perplexity", str(tiny_gpt2_dir), "--text", str(tmp_path / "nope.txt")]) == 2
    assert "does not exist" in _one_line_error(capsys)
    good = tmp_path / "t.txt"
    good.write_text(TEXT)
    assert run(["eval", "perplexity", str(tiny_gpt2_dir), "--text", str(good), "--context", "8", "--stride", "8"]) == 2
    assert "stride" in _one_line_error(capsys)
    assert not any(tmp_path.glob("**/results.json"))


def test_cli_run_split_with_leakage_check(tiny_gpt2_dir, tmp_path, capsys):
    """A training run (run.json + checkpoints/best): --split test scores the held-out documents and
    checks them against the run's train split (document split → not flagged)."""
    from interp.data import load_corpus, split_corpus
    from tests.unit.test_leakage import synthetic_docs

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for k, d in enumerate(synthetic_docs(12, 80)):
        (corpus / f"doc{k:02d}.txt").write_text(d)
    splits = split_corpus(load_corpus(str(corpus)), 0.1, 0.1, seed=0)
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_gpt2_dir, run_dir / "checkpoints" / "best")
    (run_dir / "run.json").write_text(json.dumps({"data": {
        "corpus": str(corpus), "val_frac": 0.1, "test_frac": 0.1, "split_seed": 0,
        "splits": {k: s.record() for k, s in splits.items()}}}))
    out = tmp_path / "out"
    assert run(["eval", "perplexity", str(run_dir), "--json", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "split:test" and data["train_text"] == "split:train"
    assert data["leakage"]["n_eval_ngrams"] > 0 and data["leakage"]["flagged"] is False
    assert data["n_documents"] == 1 and data["perplexity"] > 1
    assert json.loads((out / "results.json").read_text()) == data
    assert run(["eval", "perplexity", str(run_dir), "--split", "val", "--no-leakage-check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["leakage"] is None


def test_gemma_equals_exp_mean_ce(tiny_gemma_dir):
    hf, tok = hooked.load_hf(str(tiny_gemma_dir))
    ids = [tok.bos_token_id] + tok(TEXT, add_special_tokens=False)["input_ids"]
    res = perplexity(hf, [TEXT], tokenizer=tok)
    assert res.n_tokens == len(ids) - 1
    assert res.nll_sum == pytest.approx(float(_direct_nll(hf, ids).sum()), rel=1e-5)


def test_read_documents_formats(tmp_path):
    from evals.text_input import eval_text, read_documents

    (tmp_path / "a.txt").write_text("first doc")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "2.txt").write_text("two")
    (folder / "1.txt").write_text("one")
    (folder / "blank.txt").write_text("\n")
    (tmp_path / "d.jsonl").write_text('{"text": "x y"}\n\n{"text": "z"}\n')
    (tmp_path / "bad.jsonl").write_text('{"txt": 1}\n')
    assert read_documents(tmp_path / "a.txt") == ["first doc"]
    assert read_documents(folder) == ["one", "two"]
    assert read_documents(tmp_path / "d.jsonl") == ["x y", "z"]
    with pytest.raises(UserError, match="line 1"):
        read_documents(tmp_path / "bad.jsonl")
    with pytest.raises(UserError, match="not both"):
        eval_text("m", None, tmp_path / "a.txt", "test")
    assert eval_text("m", None, tmp_path / "a.txt", None).source.startswith("file:")
