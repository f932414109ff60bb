"""Bad input to `interp circuit`, `interp circuit-formation`, `interp lens`, `interp lens-series` through the
installed console script: one `error:` line, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

GOOD = {"clean": "John lost his keys. Sarah said", "corrupt": "Mary lost his keys. Sarah said", "answer": " the",
        "wrong": " cat"}


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gpt2_dir, toy_tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    d = tmp_path_factory.mktemp("circuit_errors")
    (d / "model").symlink_to(tiny_gpt2_dir)
    cfg = GPT2Config(vocab_size=len(toy_tokenizer), n_positions=64, n_embd=32, n_layer=3, n_head=4)
    torch.manual_seed(1)
    GPT2LMHeadModel(cfg).save_pretrained(d / "deeper")
    toy_tokenizer.save_pretrained(d / "deeper")
    (d / "good.jsonl").write_text(json.dumps(GOOD) + "\n")
    (d / "uneven.jsonl").write_text(json.dumps({**GOOD, "corrupt": "Mary Ann lost all of his keys. Sarah said"}) + "\n")
    return d


CASES = [
    (["circuit", "model", "--pairs", "uneven.jsonl"], "same token length"),
    (["circuit", "model", "--clean", GOOD["clean"], "--corrupt", GOOD["corrupt"], "--metric", "logit-diff: his, cat"],
     "single token"),
    (["circuit", "model", "--clean", "John lost his keys", "--corrupt", "Mary lost his keys",
      "--metric", "logprob: Johnathan"], "single token"),
    (["circuit", "model", "--pairs", "good.jsonl", "--method", "eap-ig:0"], "1..1000 steps"),
    (["circuit", "model", "--pairs", "good.jsonl", "--method", "eap-xx"], "unknown method"),
    (["circuit", "model", "--pairs", "good.jsonl", "--size", "100000"], "larger than the graph"),
    (["circuit-formation", "model", "deeper", "--pairs", "good.jsonl"], ""),
    (["circuit-formation", "model", "model", "--pairs", "good.jsonl", "--method", "eap-ig:0"], "1..1000 steps"),
    (["lens", "model", "--prompt", "The cat", "--answer", " Johnathan"], "single token"),
    (["lens", "model", "--prompt", "The cat", "--tuned"], "--train-text"),
    (["lens-series", "model", "deeper", "--prompt", "The cat", "--answer", " the"], ""),
]


def test_bad_input_one_line_exit_2_nothing_written(work):
    before = snapshot_tree(work)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: run_cli(c[0], cwd=work, timeout=240), CASES))
    for (args, needle), r in zip(CASES, results, strict=True):
        line = assert_user_error(r, needle or None)
        if args[0] in ("circuit-formation", "lens-series") and not needle:
            assert "architecture" in line.lower() or "differ" in line.lower() or "shape" in line.lower(), line
    assert snapshot_tree(work) == before
