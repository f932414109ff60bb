"""`interp regress`: Wilson/Newcombe/bootstrap numbers, suite validation, bounds, outputs and the CLI.

The CLI tests run a tiny suite (perplexity on a toy text + seeded generation) on the random fixture
model: an unchanged model passes, a copy with noised weights fails naming the metric (exit 1), bad
input exits 2 before anything is written.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from evals import regress, stats
from evals.junit import to_junit_xml
from evals.regress import (
    MetricCheck,
    MetricValue,
    Tolerance,
    compare_metric,
    mean_of,
    parse_suite,
    proportion,
)
from interp.cli import run
from interp.errors import UserError

# ============================================================================ statistics


def test_wilson_known_values():
    lo, hi = stats.wilson(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)
    assert stats.wilson(0, 10)[0] == 0.0 and round(stats.wilson(0, 10)[1], 4) == 0.2775
    assert stats.wilson(10, 10)[1] == 1.0 and round(stats.wilson(10, 10)[0], 4) == 0.7225
    assert stats.wilson(0, 0) == (0.0, 1.0)
    # interval shrinks ~ 1/sqrt(n)
    w50 = np.subtract(*stats.wilson(40, 50)[::-1])
    w5000 = np.subtract(*stats.wilson(4000, 5000)[::-1])
    assert 8 < w50 / w5000 < 11


def test_newcombe_known_values():
    # Newcombe (1998), Table II example: 56/70 vs 48/80 → (0.0524, 0.3339)
    lo, hi = stats.newcombe_diff(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    lo, hi = stats.newcombe_diff(30, 50, 30, 50)
    assert lo < 0 < hi and math.isclose(lo, -hi)


def test_bootstrap_is_seeded_and_weighted():
    rng = np.random.default_rng(0)
    x, w = rng.normal(3.0, 1.0, 200), rng.integers(1, 64, 200)
    a = stats.bootstrap(x, w, "exp_mean", n_boot=500, seed=7)
    assert a == stats.bootstrap(x, w, "exp_mean", n_boot=500, seed=7)
    assert a != stats.bootstrap(x, w, "exp_mean", n_boot=500, seed=8)
    point = stats.statistic(x, w, "exp_mean")
    assert math.isclose(point, math.exp((x * w).sum() / w.sum()))
    assert a[0] < point < a[1]
    r1 = stats.bootstrap_replicates(x, w, "mean", n_boot=300, seed=1)
    r2 = stats.bootstrap_replicates(x, w, "mean", n_boot=300, seed=1)
    assert np.array_equal(r1, r2) and r1.shape == (300,)


# ============================================================================ suite parsing

GOOD = """\
model = "some/model"
seed = 3

[[eval]]
name = "gen"
kind = "generation"
prompts = ["a b", "c d"]

[eval.metrics.distinct_1]
tolerance = "relative"
amount = 0.1
"""


def test_parse_good_suite_fills_defaults(tmp_path):
    s = parse_suite(GOOD, "s.toml", tmp_path)
    (ev,) = s.evals
    assert (s.model, s.seed, ev.name, ev.kind) == ("some/model", 3, "gen", "generation")
    assert ev.param_dict == {"prompts": ["a b", "c d"], "max_new_tokens": 32, "decoding": "greedy"}
    (m,) = ev.metrics
    assert (m.metric, m.direction, m.tolerance) == ("distinct_1", "higher", Tolerance("relative", 0.1))
    assert s.baseline_path() == tmp_path.resolve() / "s.baseline.json"
    # metrics omitted → all of the kind's default metrics, statistical
    s2 = parse_suite(GOOD.split("[eval.metrics")[0], "s.toml", tmp_path)
    assert [(m.metric, m.tolerance.kind) for m in s2.evals[0].metrics] == [
        ("distinct_1", "statistical"), ("distinct_2", "statistical")]
    # the seed is part of a sampling eval's config hash
    assert parse_suite(GOOD, "s.toml", tmp_path, seed_override=4).evals[0].config_sha256 != ev.config_sha256


@pytest.mark.parametrize("edit, needles", [
    (("seed = 3", "seed = 3\nmodle = 1"), ["s.toml:3", "'modle'"]),
    (('kind = "generation"', 'kind = "generatoin"'), ["s.toml:6", "unknown eval kind 'generatoin'"]),
    (('prompts = ["a b", "c d"]', 'prompts = ["a b"]\nmax_new_token = 3'), ["s.toml:8", "'max_new_token'", "gen"]),
    (('tolerance = "relative"', 'tolerance = "fuzzy"'), ["s.toml:10", "bad tolerance 'fuzzy'", "distinct_1"]),
    (("amount = 0.1", ""), ["s.toml:10", "needs `amount"]),
    (("amount = 0.1", "amount = -1"), ["s.toml:11", "amount must be"]),
    (("amount = 0.1", "amount = 0.1\ndirektion = 'up'"), ["s.toml:12", "'direktion'"]),
    (("amount = 0.1", "amount = 0.1\ndirection = 'up'"), ["s.toml:12", "bad direction"]),
    (("amount = 0.1", "amount = 0.1\nconfidence = 0.9"), ["s.toml:12", "`confidence` applies only"]),
    (("[eval.metrics.distinct_1]", "[eval.metrics.distinct_3]"), ["s.toml:9", "unknown metric 'distinct_3'"]),
    (('prompts = ["a b", "c d"]', 'prompts = ["a b", "c d"]\ndecoding = "t-1"'), ["s.toml:8", "bad `decoding`"]),
    (('prompts = ["a b", "c d"]', 'prompts = "a b"'), ["s.toml:7", "`prompts` must be of type str_list"]),
    (('name = "gen"', 'name = "g en"'), ["s.toml:5", "name"]),
    (("amount = 0.1", "amount = 0.1\n[[eval]]\nname = \"gen\"\nkind = \"generation\"\nprompts = [\"x\"]"),
     ["s.toml:13", "duplicate eval name 'gen'"]),
    (("seed = 3", "seed = -1"), ["s.toml:2", "`seed`"]),
    (('model = "some/model"', 'model = "some/model"\n[x'), ["invalid TOML"]),
])
def test_bad_suites_name_key_and_line(tmp_path, edit, needles):
    text = GOOD.replace(*edit)
    with pytest.raises(UserError) as e:
        parse_suite(text, "s.toml", tmp_path)
    for n in needles:
        assert n in str(e.value), str(e.value)


def test_kind_specific_validation(tmp_path):
    base = 'model = "m"\n[[eval]]\nname = "p"\nkind = "perplexity"\n'
    with pytest.raises(UserError, match="exactly one of `split"):
        parse_suite(base, "s.toml", tmp_path)
    with pytest.raises(UserError, match="s.toml:5.*does not exist"):
        parse_suite(base + 'file = "nope.txt"\n', "s.toml", tmp_path)
    with pytest.raises(UserError, match="s.toml:5.*use one of train, val, test"):
        parse_suite(base + 'split = "dev"\n', "s.toml", tmp_path)
    (tmp_path / "t.txt").write_text("hello there")
    s = parse_suite(base + 'file = "t.txt"\n[eval.metrics.perplexity]\ntolerance = "statistical"\nn_boot = 200\n',
                    "s.toml", tmp_path)
    assert s.evals[0].param_dict["file"] == str((tmp_path / "t.txt").resolve())
    assert s.evals[0].metrics[0].tolerance == Tolerance("statistical", n_boot=200)
    # proportions take no n_boot; head_accuracy needs a head
    coref = 'model = "m"\n[[eval]]\nname = "c"\nkind = "coref"\n'
    with pytest.raises(UserError, match="s.toml:6.*n_boot"):
        parse_suite(coref + "[eval.metrics.head_mean_accuracy]\nn_boot = 200\n", "s.toml", tmp_path)
    with pytest.raises(UserError, match="s.toml:5.*unknown probe set 'x.jsonl'.*file ="):
        parse_suite(coref + 'probe_set = "x.jsonl"\n', "s.toml", tmp_path)
    with pytest.raises(UserError, match="head_accuracy needs `head"):
        parse_suite(coref + "[eval.metrics.head_accuracy]\n", "s.toml", tmp_path)
    with pytest.raises(UserError, match="no evals"):
        parse_suite('model = "m"\n', "s.toml", tmp_path)


def test_config_hash_tracks_input_file_content(tmp_path):
    (tmp_path / "t.txt").write_text("hello there")
    text = 'model = "m"\n[[eval]]\nname = "p"\nkind = "perplexity"\nfile = "t.txt"\n'
    h1 = parse_suite(text, "s.toml", tmp_path).evals[0].config_sha256
    (tmp_path / "t.txt").write_text("hello there!")
    assert parse_suite(text, "s.toml", tmp_path).evals[0].config_sha256 != h1


# ============================================================================ bounds


def _check(tol: Tolerance, direction: str = "lower", stat: str = "exp_mean") -> MetricCheck:
    return MetricCheck("m", direction, stat, tol)


def test_fixed_tolerances():
    base = MetricValue(10.0, 100)
    c = compare_metric("e", _check(Tolerance("absolute", 0.5)), base, MetricValue(10.5, 100))
    assert c.passed and c.bound == 10.5
    c = compare_metric("e", _check(Tolerance("absolute", 0.5)), base, MetricValue(10.51, 100))
    assert not c.passed and "e/m regressed" in c.message and "10.51" in c.message and "10.5" in c.message
    c = compare_metric("e", _check(Tolerance("relative", 0.1), "higher"), base, MetricValue(8.9, 100))
    assert not c.passed and math.isclose(c.bound, 9.0)
    c = compare_metric("e", _check(Tolerance("relative", 0.1), "higher"), base, MetricValue(50.0, 100))
    assert c.passed  # improvements never fail
    c = compare_metric("e", _check(Tolerance("relative", 0.1)), base, MetricValue(float("nan"), 100))
    assert not c.passed and "not finite" in c.message
    c = compare_metric("e", _check(Tolerance("absolute", 0.1)), proportion(0, 0), proportion(0, 0))
    assert not c.passed and "baseline value is undefined" in c.message


def test_statistical_proportion_scales_with_n():
    tol = Tolerance("statistical")
    chk = _check(tol, "higher", "proportion")
    # the same 5-point drop: noise at n = 100, a regression at n = 10,000
    assert compare_metric("e", chk, proportion(80, 100), proportion(75, 100)).passed
    c = compare_metric("e", chk, proportion(8000, 10000), proportion(7500, 10000))
    assert not c.passed and c.interval[1] < 0
    # bound = the lowest passing proportion, consistent with the test
    c = compare_metric("e", chk, proportion(80, 100), proportion(80, 100))
    assert c.passed and c.interval[0] < 0 < c.interval[1]
    k = round(c.bound * 100)
    assert compare_metric("e", chk, proportion(80, 100), proportion(k, 100)).passed
    assert not compare_metric("e", chk, proportion(80, 100), proportion(k - 1, 100)).passed


def test_statistical_bootstrap_bound_is_consistent():
    rng = np.random.default_rng(1)
    nll = rng.normal(4.0, 0.3, 80)
    w = rng.integers(20, 64, 80)
    base = mean_of(nll, w, "exp_mean")
    chk = _check(Tolerance("statistical", n_boot=400))
    same = compare_metric("e", chk, base, base.normalized(), seed=5)
    assert same.passed and same.bound > base.value
    assert same == compare_metric("e", chk, base, base.normalized(), seed=5)  # seeded
    worse = mean_of(nll + 0.2, w, "exp_mean")  # +0.2 nats/token: exp(0.2) = 22% higher perplexity
    c = compare_metric("e", chk, base, worse, seed=5)
    assert not c.passed and c.interval[0] > 0 and c.current > c.bound
    better = mean_of(nll - 0.2, w, "exp_mean")
    assert compare_metric("e", chk, base, better, seed=5).passed


def test_fingerprint_mismatch_fails():
    a = proportion(5, 10, fingerprint="aaa")
    b = proportion(5, 10, fingerprint="bbb")
    c = compare_metric("e", _check(Tolerance("statistical"), "higher", "proportion"), a, b)
    assert not c.passed and "not comparable" in c.message


# ============================================================================ outputs


def _result(tmp_path) -> dict:
    s = parse_suite(GOOD.replace("[eval.metrics.distinct_1]", "[eval.metrics.distinct_2]\n"
                                 "[eval.metrics.distinct_1]"), "s.toml", tmp_path)
    base = {"gen": {"distinct_1": mean_of([0.9, 0.8]), "distinct_2": mean_of([1.0, 0.9])}}
    cur = {"gen": {"distinct_1": mean_of([0.5, 0.4]), "distinct_2": mean_of([1.0, 0.9])}}
    doc = regress.make_baseline(s, base, "some/model")
    from interp.results import to_jsonable

    return to_jsonable(regress.build_result(s, cur, doc, "some/model", "b.json"))


def test_junit_and_markdown(tmp_path):
    d = _result(tmp_path)
    assert (d["passed"], d["n_checks"], d["n_failed"]) == (False, 2, 1)
    root = ET.fromstring(to_junit_xml(d, {"gen": 1.5}))
    assert root.tag == "testsuites" and root.get("failures") == "1" and root.get("tests") == "2"
    cases = root.findall("./testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("regress.gen", "distinct_2"),
                                                                   ("regress.gen", "distinct_1")]
    fails = root.findall(".//failure")
    assert len(fails) == 1
    msg = fails[0].get("message")
    assert "gen/distinct_1" in msg and "0.45" in msg and "0.85" in msg and "bound" in msg
    md = regress.to_markdown(d)
    assert "| eval | metric | better | baseline | current | bound | p (adj.) | MDE | pairing | tolerance | result |" in md
    assert "| gen | distinct_1 | ↑ | 0.85 | 0.45 |" in md and "**FAIL**" in md and "### Regressions" in md


def test_baseline_checks(tmp_path):
    s = parse_suite(GOOD, "s.toml", tmp_path)
    doc = regress.make_baseline(s, {"gen": {"distinct_1": mean_of([0.9])}}, "m")
    assert regress.check_baseline(s, json.loads(json.dumps(doc)))["gen"]["distinct_1"].value == 0.9
    with pytest.raises(UserError, match="not a regress baseline"):
        regress.check_baseline(s, {"kind": "other"})
    changed = parse_suite(GOOD.replace('"c d"', '"c e"'), "s.toml", tmp_path)
    with pytest.raises(UserError, match="changed since the baseline.*`update_baseline`"):
        regress.check_baseline(changed, doc)
    more = parse_suite(GOOD + "[eval.metrics.distinct_2]\n", "s.toml", tmp_path)
    with pytest.raises(UserError, match="gen/distinct_2 is not in the baseline"):
        regress.check_baseline(more, doc)


# ============================================================================ CLI

SUITE = """\
model = "{model}"
seed = 0

[[eval]]
name = "ppl"
kind = "perplexity"
file = "toy.txt"
max_tokens = 640

[eval.metrics.perplexity]
tolerance = "statistical"
n_boot = 300

[eval.metrics.nll]
tolerance = "relative"
amount = 0.02

[[eval]]
name = "gen"
kind = "generation"
prompts = ["The cat", "Mary gave"]
max_new_tokens = 8
decoding = "k10"
"""


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory, tiny_gpt2_dir):
    """A suite + toy text + a recorded baseline for the tiny random model."""
    from tests.conftest import TOY_TEXT

    d = tmp_path_factory.mktemp("regress")
    (d / "toy.txt").write_text(TOY_TEXT)
    (d / "suite.toml").write_text(SUITE.format(model=tiny_gpt2_dir))
    rc = run(["regress", "--suite", str(d / "suite.toml"), "--update-baseline", "--out", str(d / "first"), "--json"])
    assert rc == 0
    return d


@pytest.fixture(scope="module")
def noised_dir(tmp_path_factory, tiny_gpt2_dir):
    """A degraded copy of the tiny model: every weight matrix + N(0, 0.3²) noise."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    d = tmp_path_factory.mktemp("noised")
    m = GPT2LMHeadModel.from_pretrained(str(tiny_gpt2_dir), use_safetensors=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            if p.ndim == 2:
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
    m.save_pretrained(d)
    AutoTokenizer.from_pretrained(str(tiny_gpt2_dir)).save_pretrained(d)
    return d


def test_baseline_file_contents(suite_dir, tiny_gpt2_dir):
    b = json.loads((suite_dir / "suite.baseline.json").read_text())
    assert b["kind"] == "regress_baseline" and b["model"] == str(tiny_gpt2_dir)
    assert len(b["model_sha256"]) == 64 and len(b["suite_sha256"]) == 64
    assert {"torch", "transformers", "interp", "python"} <= set(b["versions"])
    ppl = b["evals"]["ppl"]["metrics"]["perplexity"]
    assert ppl["stat"] == "exp_mean" and ppl["n"] == len(ppl["samples"]) == len(ppl["weights"]) > 5
    assert math.isclose(ppl["value"], stats.statistic(ppl["samples"], ppl["weights"], "exp_mean"), rel_tol=1e-6)
    assert len(b["evals"]["gen"]["metrics"]["distinct_1"]["samples"]) == 2
    res = json.loads((suite_dir / "first" / "results.json").read_text())
    assert res["mode"] == "update-baseline" and res["passed"]


def test_unchanged_model_passes_and_is_deterministic(suite_dir, capsys):
    out1, out2 = suite_dir / "o1", suite_dir / "o2"
    assert run(["regress", "--suite", str(suite_dir / "suite.toml"), "--out", str(out1)]) == 0
    text = capsys.readouterr().out
    assert "all 4 metrics within bounds" in text and "perplexity" in text
    assert run(["regress", "-s", str(suite_dir / "suite.toml"), "-o", str(out2), "--json"]) == 0
    assert (out1 / "results.json").read_bytes() == (out2 / "results.json").read_bytes()
    d = json.loads((out1 / "results.json").read_text())
    assert d["passed"] and all(c["current"] == c["baseline"] for c in d["checks"])
    root = ET.parse(out1 / "junit.xml").getroot()
    assert root.get("failures") == "0" and len(root.findall(".//testcase")) == 4
    assert "✅ all 4 metrics within bounds" in (out1 / "summary.md").read_text()


def test_degraded_model_fails_naming_metric(suite_dir, noised_dir, capsys):
    out = suite_dir / "degraded"
    rc = run(["regress", "--suite", str(suite_dir / "suite.toml"), "--model", str(noised_dir), "--out", str(out)])
    assert rc == 1
    text = capsys.readouterr().out
    assert "ppl/perplexity regressed" in text and "ppl/nll regressed" in text
    d = json.loads((out / "results.json").read_text())
    failed = {(c["eval"], c["metric"]) for c in d["checks"] if not c["passed"]}
    assert {("ppl", "perplexity"), ("ppl", "nll")} <= failed
    assert d["model"] == str(noised_dir) and d["model_sha256"] != d["baseline_model_sha256"]
    root = ET.parse(out / "junit.xml").getroot()
    assert int(root.get("failures")) == len(failed) == len(root.findall(".//failure"))
    assert "ppl/perplexity" in (out / "summary.md").read_text()


def test_missing_baseline_and_bad_input_exit_2(suite_dir, tmp_path, capsys):
    s = suite_dir / "suite.toml"
    assert run(["regress", "--suite", str(s), "--baseline", str(tmp_path / "none.json"),
                "--out", str(tmp_path / "o")]) == 2
    assert "--update-baseline" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written on bad input
    bad = tmp_path / "bad.toml"
    bad.write_text(s.read_text().replace("max_tokens = 640", "max_tokenz = 640"))
    (tmp_path / "toy.txt").write_text("x")
    assert run(["regress", "--suite", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.toml:8" in err and "'max_tokenz'" in err
    changed = tmp_path / "changed.toml"
    changed.write_text(s.read_text().replace("max_tokens = 640", "max_tokens = 600"))
    assert run(["regress", "--suite", str(changed), "--baseline", str(suite_dir / "suite.baseline.json")]) == 2
    assert "'ppl' changed since the baseline" in capsys.readouterr().err
    assert run(["regress", "--suite", str(tmp_path / "nope.toml")]) == 2
    nomodel = tmp_path / "nomodel.toml"
    nomodel.write_text("\n".join(s.read_text().splitlines()[1:]))
    assert run(["regress", "--suite", str(nomodel), "--update-baseline"]) == 2
    assert "--model" in capsys.readouterr().err


def test_example_suites_parse(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for p in (root / "examples" / "regress-suite.toml", root / ".ci" / "regress-suite.toml"):
        s = regress.load_suite(p)
        assert s.evals and all(ev.metrics for ev in s.evals)


def test_classification_and_coref_adapters(tiny_bridge, tiny_gpt2_dir, tmp_path):
    rows = [("The cat sat on the mat.", "cat"), ("John lost his keys.", "dog"), ("The ball rolled.", "cat"),
            ("Sarah said she was tired.", "dog")] * 3
    (tmp_path / "cls.jsonl").write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    s = parse_suite(
        'model = "m"\n'
        '[[eval]]\nname = "cls"\nkind = "trimmed"\nfile = "cls.jsonl"\ncalibrate = true\n'
        '[eval.metrics.accuracy]\n[eval.metrics.calibrated_accuracy]\n'
        '[[eval]]\nname = "coref"\nkind = "coref"\nprobe_set = "builtin-small"\nhead = "1.2"\n'
        '[eval.metrics.head_mean_accuracy]\n[eval.metrics.head_accuracy]\n', "s.toml", tmp_path)
    ctx = regress.EvalContext(model_ref=str(tiny_gpt2_dir), base_dir=tmp_path)
    got = regress.evaluate(s, tiny_bridge, ctx)
    for ev, metric, n in (("cls", "accuracy", 12), ("cls", "calibrated_accuracy", 12),
                          ("coref", "head_mean_accuracy", None), ("coref", "head_accuracy", None)):
        mv = got[ev][metric]
        assert mv.stat == "proportion" and 0 <= mv.value <= 1 and mv.fingerprint
        assert (mv.n == n) if n is not None else (mv.n > 0)
        assert math.isclose(mv.value * mv.n, round(mv.value * mv.n), abs_tol=1e-4)  # k/n
    assert got == regress.evaluate(s, tiny_bridge, ctx)  # deterministic


ABL_SUITE = ('model = "m"\n[[eval]]\nname = "abl"\nkind = "ablation"\nheads = "0.1,1.*"\nmethod = "{method}"\n'
             'file = "toy.txt"\nmax_tokens = 512\ncontext = 32\n[eval.metrics.delta_loss]\ndirection = "higher"\n'
             '[eval.metrics.clean_loss]\n[eval.metrics.ablated_loss]\n')


@pytest.mark.parametrize("fixture", ["tiny_gpt2_dir", "tiny_gemma_dir"])
@pytest.mark.parametrize("method", ["zero", "mean", "resample"])
def test_ablation_metric_equals_interp_ablate(fixture, method, tmp_path, request):
    """The regress `ablation` metric and `interp ablate` (same model, text, heads, method, seed) give the same
    Δloss, clean and ablated loss — both call interp.ablation.ablate; windows follow interp.tokens."""
    from interp import hooked
    from tests.conftest import TOY_TEXT

    model_dir = request.getfixturevalue(fixture)
    (tmp_path / "toy.txt").write_text(TOY_TEXT)
    s = parse_suite(ABL_SUITE.format(method=method), "s.toml", tmp_path)
    bridge = hooked.load(str(model_dir))
    got = regress.evaluate(s, bridge, regress.EvalContext(model_ref=str(model_dir), base_dir=tmp_path))["abl"]
    out = tmp_path / "cli"
    assert run(["ablate", str(model_dir), "--heads", "0.1,1.*", "--method", method, "--text", str(tmp_path / "toy.txt"),
                "--max-tokens", "512", "--context", "32", "--max-new-tokens", "0", "-o", str(out), "--json"]) == 0
    cli = json.loads((out / "results.json").read_text())
    assert cli["bos"] and cli["n_windows"] == got["delta_loss"].n == len(got["delta_loss"].samples)
    for metric, key in (("delta_loss", "delta_loss"), ("clean_loss", "clean_loss"), ("ablated_loss", "ablated_loss")):
        assert math.isclose(got[metric].value, cli[key], abs_tol=2e-6), (metric, got[metric].value, cli[key])


def test_ablation_metric_validation(tmp_path):
    (tmp_path / "toy.txt").write_text("some text")
    with pytest.raises(UserError, match="no natural direction"):
        parse_suite('model = "m"\n[[eval]]\nname = "a"\nkind = "ablation"\nheads = "0.1"\n'
                    'file = "toy.txt"\n', "s.toml", tmp_path)
    with pytest.raises(UserError, match="s.toml:5.*bad `heads`"):
        parse_suite('model = "m"\n[[eval]]\nname = "a"\nkind = "ablation"\nheads = "0-1"\nfile = "toy.txt"\n'
                    '[eval.metrics.delta_loss]\ndirection = "higher"\n', "s.toml", tmp_path)
    with pytest.raises(UserError, match="s.toml:5.*bad `heads`: no heads given"):
        parse_suite('model = "m"\n[[eval]]\nname = "a"\nkind = "ablation"\nheads = ""\nfile = "toy.txt"\n'
                    '[eval.metrics.delta_loss]\ndirection = "higher"\n', "s.toml", tmp_path)


def test_list_kinds(capsys):
    assert run(["regress", "--list-kinds", "--json"]) == 0
    kinds = json.loads(capsys.readouterr().out)
    assert {"perplexity", "trimmed", "coref", "ablation", "generation"} <= set(kinds)
    assert kinds["perplexity"]["metrics"]["perplexity"] == {"direction": "lower", "stat": "exp_mean",
                                                            "doc": "exp(NLL per token)"}
    assert run(["regress"]) == 2 and "--suite" in capsys.readouterr().err


def test_line_numbers_survive_multiline_strings(tmp_path):
    text = ('model = "m"\n[[eval]]\nname = "cls"\nkind = "trimmed"\ndataset = "bbcnews"\n'
            'template = """Review: {text}\n[not.a.table]\nSentiment:"""\nlimt = 3\n')
    with pytest.raises(UserError, match=r"s\.toml:9: .*'limt'"):
        parse_suite(text, "s.toml", tmp_path)


def test_public_regress_function_with_a_loaded_model(tiny_bridge, tmp_path):
    """`evals.regress.regress` (what the CLI calls): update mode returns the baseline to store, compare passes."""
    from tests.conftest import TOY_TEXT

    (tmp_path / "toy.txt").write_text(TOY_TEXT)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE.format(model="unused"))
    first = regress.regress(suite, update_baseline=True, model=tiny_bridge)
    assert first.mode == "update-baseline" and first.passed and first.new_baseline["kind"] == "regress_baseline"
    assert "new_baseline" not in first.to_dict() and set(first.eval_seconds) == {"ppl", "gen"}
    assert first.write_baseline() == tmp_path / "s.baseline.json"
    again = regress.regress(suite, model=tiny_bridge)
    assert again.passed and again.new_baseline is None and again.n_checks == 4
    paths = again.save(tmp_path / "out")
    assert sorted(p.name for p in paths) == ["junit.xml", "results.json", "summary.md"]
    with pytest.raises(UserError, match="no baseline at .*`update_baseline`"):
        regress.regress(suite, tmp_path / "missing.json", model=tiny_bridge)


def test_registry_is_lazy_and_rejects_unknown_kinds():
    from evals.regress import metrics

    assert {"perplexity", "trimmed", "coref", "ablation", "generation"} <= set(metrics.KINDS)
    assert all(":" in target for target in metrics.KINDS.values())
    with pytest.raises(UserError, match=r"^unknown eval kind 'nope'; choose one of: ablation, coref, generation, "):
        metrics.get_kind("nope")
    k = metrics.get_kind("ablation")
    assert k.name == "ablation" and k is metrics.get_kind("ablation")


@pytest.mark.slow
def test_ablation_metric_equals_interp_ablate_on_gemma_3_270m(tmp_path):
    """Real Gemma-3-270M (dedicated <bos>): the regress metric and `interp ablate` score the same BOS windows and
    agree exactly (the bug this guards: regress built Gemma windows without BOS while `interp ablate` added it)."""
    pytest.importorskip("gguf")
    from interp import hooked
    from tests.conftest import TOY_TEXT

    (tmp_path / "toy.txt").write_text(TOY_TEXT)
    suite = ABL_SUITE.format(method="mean").replace('heads = "0.1,1.*"', 'heads = "3.*"').replace(
        "max_tokens = 512", "max_tokens = 256").replace("context = 32", "context = 64")
    s = parse_suite(suite, "s.toml", tmp_path)
    bridge = hooked.load("gemma-3-270m")
    got = regress.evaluate(s, bridge, regress.EvalContext(model_ref="gemma-3-270m", base_dir=tmp_path))["abl"]
    out = tmp_path / "cli"
    assert run(["ablate", "gemma-3-270m", "--heads", "3.*", "--method", "mean", "--text", str(tmp_path / "toy.txt"),
                "--max-tokens", "256", "--context", "64", "--max-new-tokens", "0", "-o", str(out)]) == 0
    cli = json.loads((out / "results.json").read_text())
    assert cli["bos"] and cli["delta_loss"] != 0
    assert got["delta_loss"].value == pytest.approx(cli["delta_loss"], abs=2e-6)
    assert got["clean_loss"].value == pytest.approx(cli["clean_loss"], abs=2e-6)
