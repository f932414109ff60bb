"""Bad input (the rest of the table is tested at the API level in test_patching.py) to `interp patch` / `interp probe coref --causal` / `ablate-sweep --estimate`: one line, exit 2, nothing
written (through the installed console script)."""

from __future__ import annotations

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

CLEAN = "The cat sat on the mat. The ball sat on"
CORRUPT = "The ball sat on the mat. The cat sat on"
M = "logit-diff: the, cat"

CASES = [
    (["--clean", CLEAN, "--corrupt", "The cat sat on the mat. The cat sat", "--metric", M], "tokens but corrupt is"),
    (["--clean", CLEAN, "--corrupt", CORRUPT, "--metric", "logit-diff: John, cat"], "'John' is not a single token"),
    (["--clean", CLEAN, "--corrupt", CORRUPT, "--metric", "bleu: a"], "unknown metric"),
    (["--clean", CLEAN, "--corrupt", CLEAN, "--metric", M], "gap is 0"),
    (["--clean", CLEAN, "--corrupt", CORRUPT, "--metric", M, "--method", "atp", "--verify-top", "99"],
     "more than the 8 components"),
    (["--pairs", "bad.jsonl", "--metric", M], "bad.jsonl line 1"),
]


@pytest.mark.parametrize("args, contains", CASES, ids=[c[1][:24] for c in CASES])
def test_patch_bad_input(tmp_path, tiny_gpt2_dir, args, contains):
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    before = snapshot_tree(tmp_path)
    r = run_cli(["patch", str(tiny_gpt2_dir), *args, "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert_user_error(r, contains)
    assert snapshot_tree(tmp_path) == before


def test_causal_coref_bad_method(tmp_path, tiny_gpt2_dir):
    before = snapshot_tree(tmp_path)
    r = run_cli(["probe", "coref", str(tiny_gpt2_dir), "--causal", "--method", "magic", "--out", str(tmp_path / "o")],
                cwd=tmp_path)
    assert_user_error(r, "unknown method")
    assert snapshot_tree(tmp_path) == before
