"""Bad input for `interp ablate`, `interp ablate-sweep` and `interp regress` through the installed console
script: one stderr line `error: ...`, exit 2, no traceback, nothing written (tests/cli_helpers.py)."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

GOOD_SUITE = """\
model = "model"
seed = 0

[[eval]]
name = "gen"
kind = "generation"
prompts = ["The cat"]
max_new_tokens = 4

[eval.metrics.distinct_1]
tolerance = "absolute"
amount = 0.1
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gpt2_dir):
    """A cwd with a tiny model, a text file, suites (good and broken) and baselines (good and broken)."""
    d = tmp_path_factory.mktemp("abl_regress_errors")
    (d / "model").symlink_to(tiny_gpt2_dir)
    (d / "text.txt").write_text("The cat sat on the mat. Mary gave her book to Tom. " * 20)
    (d / "afile").write_text("not a directory")
    (d / "good.toml").write_text(GOOD_SUITE)
    (d / "good.baseline.json").write_text(json.dumps({"schema_version": 2, "kind": "regress_baseline", "evals": {}}))  # wrong content
    (d / "old.toml").write_text(GOOD_SUITE.replace('model = "model"', 'model = "model"\nbaseline = "old.json"'))
    (d / "old.json").write_text(json.dumps({"schema_version": 1, "kind": "regress_baseline", "evals": {}}))
    (d / "nobase.toml").write_text(GOOD_SUITE.replace('model = "model"', 'model = "model"\nbaseline = "none.json"'))
    (d / "corrupt.toml").write_text(GOOD_SUITE.replace('model = "model"', 'model = "model"\nbaseline = "bad.json"'))
    (d / "bad.json").write_text("{not json")
    (d / "kind.toml").write_text(GOOD_SUITE.replace('kind = "generation"', 'kind = "generatoin"'))
    (d / "syntax.toml").write_text(GOOD_SUITE + "[x\n")
    (d / "inf.toml").write_text(GOOD_SUITE.replace("amount = 0.1", "amount = inf"))
    (d / "conf.toml").write_text(GOOD_SUITE.replace('tolerance = "absolute"\namount = 0.1', "confidence = nan"))
    (d / "key.toml").write_text(GOOD_SUITE.replace("max_new_tokens = 4", "max_new_tokenz = 4"))
    (d / "abl.toml").write_text('model = "model"\n[[eval]]\nname = "a"\nkind = "ablation"\nheads = ""\n'
                                'file = "text.txt"\n[eval.metrics.delta_loss]\ndirection = "higher"\n')
    (d / "abl9.toml").write_text('model = "model"\nbaseline = "abl9.json"\n[[eval]]\nname = "a"\nkind = "ablation"\n'
                                 'heads = "9.0"\nfile = "text.txt"\n[eval.metrics.delta_loss]\ndirection = "higher"\n')
    (d / "nomodel.toml").write_text(GOOD_SUITE.replace('model = "model"\n', ""))
    return d


ABL = ["--text", "text.txt", "--max-tokens", "64", "--context", "16", "-o", "out"]
CASES = [
    # ablate
    (["ablate", "model", "--heads", "", *ABL], "no heads given"),  # once silently "all heads"
    (["ablate", "model", *ABL], "pass --heads"),
    (["ablate", "model", "--heads", "9.0", *ABL], "valid heads are 0.0–1.3"),
    (["ablate", "model", "--heads", "0.1", "--all", *ABL], "either --heads or --all"),
    (["ablate", "model", "--heads", "0.1", "--method", "max", *ABL], "unknown ablation method"),
    (["ablate", "model", "--heads", "0.1", "--text", "text.txt", "--context", "9999", "-o", "out"], "--context 9999 exceeds"),
    (["ablate", "model", "--heads", "0.1", "--text", "nope.txt", "-o", "out"], "does not exist"),
    (["ablate", "model", "--heads", "0.1", "--prompt", " ", *ABL], "--prompt is empty"),
    (["ablate", "model", "--heads", "0.1", "--text", "text.txt", "-o", "afile"], "afile"),
    # ablate-sweep
    (["ablate-sweep", "model", "--heads", "", *ABL], "no heads given"),
    (["ablate-sweep", "model", "--heads", "5.*", *ABL], "valid heads are"),
    # regress
    (["regress", "--out", "out"], "missing --suite"),
    (["regress", "--suite", "nope.toml", "--out", "out"], "does not exist"),
    (["regress", "--suite", "kind.toml", "--out", "out"], "unknown eval kind 'generatoin'; choose one of: ablation, coref"),
    (["regress", "--suite", "syntax.toml", "--out", "out"], "invalid TOML"),
    (["regress", "--suite", "inf.toml", "--out", "out"], "amount must be a finite number"),
    (["regress", "--suite", "conf.toml", "--out", "out"], "confidence must be in"),
    (["regress", "--suite", "key.toml", "--out", "out"], "key.toml:8"),
    (["regress", "--suite", "abl.toml", "--out", "out"], "bad `heads`: no heads given"),
    (["regress", "--suite", "nobase.toml", "--out", "out"], "--update-baseline"),
    (["regress", "--suite", "corrupt.toml", "--out", "out"], "cannot read baseline"),
    (["regress", "--suite", "good.toml", "--out", "out"], "is not in the baseline"),
    (["regress", "--suite", "old.toml", "--out", "out"], "baseline format 1"),
    (["regress", "--suite", "nomodel.toml", "--update-baseline", "--out", "out"], "--model REF"),
    (["regress", "--suite", "good.toml", "--update-baseline", "--out", "afile"], "is a file"),
    (["regress", "--suite", "abl9.toml", "--update-baseline", "--out", "out"], "valid heads are 0.0–1.3"),
]


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(work, args, needle):
    before = snapshot_tree(work)
    r = run_cli(args, cwd=work)
    assert_user_error(r, needle)
    assert snapshot_tree(work) == before
