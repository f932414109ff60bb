"""`interp regress` on a really trained tiny run: the run's val split resolves from run.json, an
unchanged model passes, and the same model with attention heads ablated through a hook fails the
statistical perplexity bound (a real mechanism loss, not noise)."""

from __future__ import annotations

import json

import torch

from evals import regress
from interp import hooked
from interp.cli import run

SUITE = """\
seed = 0

[[eval]]
name = "val-ppl"
kind = "perplexity"
split = "val"
max_tokens = 2048

[eval.metrics.perplexity]
tolerance = "statistical"
n_boot = 500
"""


def test_regress_on_trained_run(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    assert run(["regress", "--suite", str(suite), "--model", str(run_dir), "--update-baseline"]) == 0
    assert run(["regress", "--suite", str(suite), "--model", str(run_dir), "--out", str(tmp_path / "o")]) == 0
    d = json.loads((tmp_path / "o" / "results.json").read_text())
    (check,) = d["checks"]
    assert check["passed"] and check["current"] == check["baseline"]
    # same windows in both runs: a paired bound; identical per-window NLL → zero-width paired interval
    assert check["pairing"] == "paired" and check["bound"] >= check["baseline"]
    assert check["n_current"] > 20  # windows of the val split


def test_head_ablation_through_hook_is_a_regression(trained_run, tmp_path):
    run_dir, _ = trained_run
    suite_file = tmp_path / "suite.toml"
    suite_file.write_text(SUITE)
    s = regress.load_suite(suite_file)
    bridge = hooked.load(str(run_dir))
    ctx = regress.EvalContext(model_ref=str(run_dir), base_dir=tmp_path, seed=0)
    clean = regress.evaluate(s, bridge, ctx)
    baseline = regress.make_baseline(s, clean, str(run_dir))

    def zero_heads(z, hook):  # (B, T, H, d_head): remove every head's output in this layer
        return torch.zeros_like(z)

    hooks = [(f"blocks.{layer}.attn.hook_z", zero_heads) for layer in range(bridge.cfg.n_layers)]
    with bridge.hooks(fwd_hooks=hooks):
        ablated = regress.evaluate(s, bridge, ctx)
    res = regress.build_result(s, ablated, baseline, str(run_dir), "b.json")
    (check,) = res.checks
    assert not res.passed and not check.passed
    assert check.current > check.bound > check.baseline
    assert "val-ppl/perplexity regressed" in check.message
    # hooks removed → back to the baseline exactly
    again = regress.build_result(s, regress.evaluate(s, bridge, ctx), baseline, str(run_dir), "b.json")
    assert again.passed and again.checks[0].current == check.baseline
