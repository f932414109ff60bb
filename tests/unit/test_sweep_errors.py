"""`interp sweep` bad inputs through the installed console script: one line, exit 2, nothing written."""

from __future__ import annotations

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

TRAIN = '[train]\npreset = "tiny"\nmax_steps = 2\n'
CASES = [
    ("empty space", TRAIN, [], "is empty"),
    ("empty list", TRAIN + "[space]\nlr = []\n", [], "is empty"),
    ("empty range", TRAIN + "[space]\nlr = {low = 0.01, high = 0.001}\n", [], "range [0.01, 0.001] is empty"),
    ("non-finite range", TRAIN + "[space]\nlr = {low = 1e-4, high = inf}\n", [], "non-finite"),
    ("nan value", TRAIN + "[space]\nlr = [nan, 0.1]\n", [], "non-finite"),
    ("unknown searched", TRAIN + "[space]\nlearning_rate = [0.1]\n", [], "unknown parameter 'learning_rate'"),
    ("unknown fixed", '[train]\nepoch = 2\n[space]\nlr = [0.1]\n', [], "unknown parameter 'epoch'"),
    ("bad toml", "[space\nlr = 1", [], "not valid TOML"),
    ("storage unreachable", TRAIN + "[space]\nlr = [0.1]\n", ["--storage", "postgresql://u@127.0.0.1:1/db"],
     "cannot open the sweep storage"),
    ("storage bad sqlite path", TRAIN + "[space]\nlr = [0.1]\n", ["--storage", "sqlite:////no/such/dir/s.db"],
     "cannot open the sweep storage"),
    ("zero trials", TRAIN + "[space]\nlr = [0.1]\n", ["--trials", "0"], "--trials"),
    ("epochs without retrain", TRAIN + "[space]\nlr = [0.1]\n", ["--epochs", "2"], "--retrain-best"),
    ("nproc zero", TRAIN + "[space]\nlr = [0.1]\n", ["--nproc-per-node", "0"], "--nproc-per-node must be an integer >= 1"),
    ("nproc negative", TRAIN + "[space]\nlr = [0.1]\n", ["--nproc-per-node", "-2"], "--nproc-per-node must be"),
    ("nproc not an integer", TRAIN + "[space]\nlr = [0.1]\n", ["--nproc-per-node", "two"], "--nproc-per-node"),
    ("nproc not an integer float", TRAIN + "[space]\nlr = [0.1]\n", ["--nproc-per-node", "1.5"], "--nproc-per-node"),
    ("batch not divisible by nproc", TRAIN + "batch_size = 3\n[space]\nlr = [0.1]\n", ["--nproc-per-node", "2"],
     "batch_size 3 is not divisible by --nproc-per-node 2"),
    ("searched batch not divisible", TRAIN + "[space]\nbatch_size = [4, 6]\n", ["--nproc-per-node", "4"],
     "batch_size 6 in [space] is not divisible"),
    ("nproc on cuda without gpus", TRAIN + "[space]\nlr = [0.1]\n", ["--nproc-per-node", "2", "--device", "cuda"],
     "cuda"),
    ("missing corpus", '[train]\ncorpus = "nope"\n[space]\nlr = [0.1]\n', [], "does not exist"),
]


@pytest.mark.parametrize("name,toml,extra,match", CASES, ids=[c[0] for c in CASES])
def test_sweep_bad_input(tmp_path, name, toml, extra, match):
    (tmp_path / "space.toml").write_text(toml)
    before = snapshot_tree(tmp_path)
    args = ["sweep", "space.toml", "--out", "sw", *extra]
    if "--trials" not in extra:
        args += ["--trials", "2"]
    assert_user_error(run_cli(args, cwd=tmp_path), match)
    assert snapshot_tree(tmp_path) == before
