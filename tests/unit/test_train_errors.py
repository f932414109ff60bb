"""`interp train` bad inputs through the installed console script: exit 2, one line, nothing written."""

from __future__ import annotations

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

CASES = [
    (["--n-ctx", "1"], "n_ctx=1"),
    (["--lr", "inf"], "finite"),
    (["--corpus", "{tmp}/binary.txt"], "NUL"),
    (["--corpus", "{tmp}/latin1.txt"], "not UTF-8"),
    (["--device", "banana"], "banana"),
    (["--device", "cuda"], "cuda"),
    (["--tokenizer", "sentencepiece"], "unknown tokenizer"),
    (["--tokenizer", "char", "--vocab-size", "300"], "--vocab-size"),
    (["--save-at", "lin"], "--save-at"),
    (["--val-frac", "0"], "val-frac"),
    (["--corpus", "induction:5"], "word count"),
    (["--tokenizer", "word", "--vocab-size", "300"], "--vocab-size"),
    (["--save-at", "log:0"], "--save-at"),
    (["--save-at", "9-3:1"], "--save-at"),
]


@pytest.fixture()
def workdir(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 some text" * 100)
    (tmp_path / "latin1.txt").write_bytes("na\xefve caf\xe9 ".encode("latin-1") * 100)
    (tmp_path / "afile").write_text("not a dir")
    return tmp_path


@pytest.mark.parametrize("args,match", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_train_bad_input(workdir, args, match):
    import torch

    if args[-1] == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    before = snapshot_tree(workdir)
    r = run_cli(["train", "runs/x", "--preset", "tiny", *[a.format(tmp=workdir) for a in args]], cwd=workdir)
    assert_user_error(r, match)
    assert snapshot_tree(workdir) == before


def test_run_dir_that_is_a_file(workdir):
    before = snapshot_tree(workdir)
    assert_user_error(run_cli(["train", "afile", "--preset", "tiny"], cwd=workdir), "is a file")
    assert_user_error(run_cli(["train", "--resume", "afile"], cwd=workdir), "not a training run")
    assert snapshot_tree(workdir) == before
