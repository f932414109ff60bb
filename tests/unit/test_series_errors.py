"""Bad inputs of `interp import nanogpt`, `interp attention-evolution` and `interp head-formation` through the
installed console script: one line `error: ...`, exit 2, no traceback, nothing written."""

from __future__ import annotations

import pickle

import pytest
import torch

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree
from tests.unit.series_helpers import char_meta, nano_checkpoint, save_gpt2


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


@pytest.fixture(scope="module")
def ws(tmp_path_factory, toy_tokenizer):
    """A workspace of good and bad inputs."""
    import numpy as np

    w = tmp_path_factory.mktemp("ws")
    nano_checkpoint(w / "ckpt.pt")
    char_meta(w / "meta.pkl")
    torch.save({"model": {}, "iter_num": 3}, w / "nokeys.pt")
    torch.save({"model": {}, "model_args": {}, "best_val_loss": np.float64(1.0)}, w / "numpy.pt")
    (w / "evil.pkl").write_bytes(pickle.dumps({"stoi": {"a": 0}, "x": _Evil()}))
    (w / "empty").mkdir()
    save_gpt2(w / "mixed" / "m-1", toy_tokenizer, 1)
    save_gpt2(w / "mixed" / "m-2", toy_tokenizer, 2, n_layer=3)
    save_gpt2(w / "dup" / "a-5", toy_tokenizer, 1)
    save_gpt2(w / "dup" / "b-5", toy_tokenizer, 2)
    save_gpt2(w / "ok" / "m-1", toy_tokenizer, 1)
    save_gpt2(w / "ok" / "m-2", toy_tokenizer, 2)
    return w


CASES = [
    (["import", "nanogpt", "nokeys.pt", "out", "--meta", "meta.pkl"], "missing key(s) model_args"),
    (["import", "nanogpt", "numpy.pt", "out", "--meta", "meta.pkl"], "weights_only=True"),
    (["import", "nanogpt", "ckpt.pt", "out", "--meta", "evil.pkl"], "tries to import"),
    (["import", "nanogpt", "ckpt.pt", "out"], "no tokenizer"),
    (["import", "nanogpt", "missing.pt", "out", "--meta", "meta.pkl"], "does not exist"),
    (["import", "nanogpt", "ckpt.pt", "out", "--meta", "meta.pkl", "--tokenizer", "ok/m-1"], "not both"),
    (["attention-evolution", "empty", "--prompt", "hi", "--out", "out"], "has no checkpoints"),
    (["attention-evolution", "mixed", "--prompt", "hi", "--out", "out"], "one architecture"),
    (["attention-evolution", "dup", "--prompt", "hi", "--out", "out"], "both step 5"),
    (["attention-evolution", "EleutherAI/pythia-70m@step0,,x", "--prompt", "hi", "--out", "out"], "does not parse"),
    (["attention-evolution", "EleutherAI/pythia-70m@every:q", "--prompt", "hi", "--out", "out"], "does not parse"),
    (["attention-evolution", "EleutherAI/pythia-70m@step0", "--prompt", "hi", "--out", "out"], "no network"),
    (["attention-evolution", "ok", "--prompt", "hi", "--x", "tokens", "--out", "out"], "tokens seen unknown"),
    (["attention-evolution", "ok", "--prompt", "hi", "--x", "banana", "--out", "out"], "x axis"),
    (["attention-evolution", "ok", "--prompt", " ", "--out", "out"], "prompt is empty"),
    (["head-formation", "ok", "--thresholds", "induction=2", "--out", "out"], "(0, 1]"),
    (["head-formation", "ok", "--thresholds", "bogus=0.1", "--out", "out"], "unknown head type"),
    (["head-formation", "ok", "--x", "epoch", "--out", "out"], "epoch unknown"),
]


@pytest.mark.parametrize("args, contains", CASES, ids=[f"{c[0][0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_one_line_exit_2_nothing_written(ws, args, contains):
    before = snapshot_tree(ws)
    r = run_cli(args, cwd=ws)
    assert_user_error(r, contains)
    assert snapshot_tree(ws) == before
    assert not (ws / "PWNED").exists()
