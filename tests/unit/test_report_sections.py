"""Verdict rules (one place per kind, never more than the interval supports) and `--compare`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from interp.errors import UserError
from reports.collect import Stage
from reports.sections import REGISTRY, get_section
from reports.sections.base import verdict_vs


def _write(p: Path, obj) -> None:
    """results.json, plus a figure pair beside it for kinds whose command always saves figures (as the CLI does)."""
    import io

    from PIL import Image

    from interp.figures import FIGURES

    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj), encoding="utf-8")
    if obj.get("kind") in FIGURES:
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), "white").save(buf, format="PNG")
        (p.parent / "figure.png").write_bytes(buf.getvalue())
        (p.parent / "figure.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')


def stage(kind: str, data: dict, **kw) -> Stage:
    return Stage(rel="x", source="x/results.json", kind=kind, data={"schema_version": 1, "kind": kind, **data}, **kw)


def acc(k: int, n: int, **extra) -> dict:
    from evals.stats import wilson

    lo, hi = wilson(k, n)
    return {"accuracy": k / n, "k": k, "n": n, "ci_low": lo, "ci_high": hi, "chance": 0.5, **extra}


def coref(held: tuple[int, int], beh: tuple[int, int] = (40, 84), grid=None, sha="abc") -> dict:
    return {"model": "m", "chance": 0.5, "n_examples": 84, "examples_sha256": sha, "probe_set": "builtin-small",
            "head_accuracy": grid or [[0.5, 0.6], [0.4, 0.9]], "head_mean": acc(42, 84),
            "best_head_heldout": acc(*held, head="1.1"), "behaviour": acc(*beh)}


# ----------------------------------------------------------------------------- the shared rule
@pytest.mark.parametrize("lo,hi,verdict", [(0.55, 0.7, "above chance"), (0.3, 0.45, "below chance"),
                                           (0.45, 0.6, "not distinguishable from chance"),
                                           (0.5, 0.6, "not distinguishable from chance")])
def test_verdict_vs(lo, hi, verdict):
    assert verdict_vs(lo, hi, 0.5) == verdict


def test_registry_modules_load_and_match_their_keys():
    for kind in REGISTRY:
        spec = get_section(kind)
        assert spec.kind == kind and spec.title and callable(spec.findings)
    with pytest.raises(UserError, match="no report section for result kind 'nope'"):
        get_section("nope")


# ----------------------------------------------------------------------------- per kind
def test_coref_verdicts_follow_the_wilson_interval():
    (f_head, f_beh) = get_section("coref_probe").findings(stage("coref_probe", coref((42, 42), (44, 84))))
    assert f_head.verdict == "above chance" and "42/42" in f_head.value and "[0.92, 1.00]" in f_head.interval
    assert f_beh.verdict == "not distinguishable from chance"  # 44/84 = 0.52, CI includes 0.5
    (f_head, _) = get_section("coref_probe").findings(stage("coref_probe", coref((12, 42))))
    assert f_head.verdict == "below chance"


def test_trimmed_is_judged_against_the_stronger_baseline():
    gold = [0] * 70 + [1] * 30  # majority 0.7 > chance 0.5
    right = {"accuracy": 0.75, "n": 100, "predictions": gold[:75] + [1 - g for g in gold[75:]]}
    d = {"labels": ["a", "b"], "gold": gold, "dataset": {"name": "t", "n": 100, "majority_rate": 0.7, "chance": 0.5},
         "variants": {"trimmed": right}}
    (f,) = get_section("trimmed_eval").findings(stage("trimmed_eval", d))
    assert "75/100" in f.value and f.verdict == "not distinguishable from the majority baseline"
    d["variants"]["trimmed"] = {"accuracy": 0.95, "n": 100, "predictions": gold[:95] + [1 - g for g in gold[95:]]}
    (f,) = get_section("trimmed_eval").findings(stage("trimmed_eval", d))
    assert f.verdict == "above the majority baseline"


def test_evolution_induction_and_settling():
    def ck(epoch, ind, js):
        return {"epoch": epoch, "induction": [[ind, 0.01]], "prev_token": [[0.1, 0.1]], "js_distance": js}

    d = {"induction_len": 8, "checkpoints": [ck(1, 0.01, None), ck(2, 0.02, [[0.2, 0.2]]), ck(3, 0.02, [[0.1, 0.1]])]}
    ind, change = get_section("attention_evolution").findings(stage("attention_evolution", d))
    assert ind.verdict == "no induction head yet" and "0.02" in ind.value
    assert change.verdict == "attention is settling" and "0.20 (epoch 2) → 0.10 (epoch 3)" in change.value
    d["checkpoints"][-1]["induction"] = [[0.8, 0.0]]
    ind, _ = get_section("attention_evolution").findings(stage("attention_evolution", d))
    assert ind.verdict == "an induction head has formed" and "head 0.0" in ind.value


def test_training_and_leakage_verdicts():
    run = {"config": {"model": {"d_vocab": 512}}}
    (f,) = get_section("training").findings(stage("training", {"best_val_loss": 6.1}, run=run))
    assert "close to chance" in f.verdict and "ln(512) = 6.24" in f.baseline
    (f,) = get_section("training").findings(stage("training", {"best_val_loss": 3.7, "final_val_loss": 3.9}, run=run))
    assert f.verdict.startswith("learned") and "overfitting" in f.verdict
    (f,) = get_section("leakage").findings(stage("leakage", {"ngram_overlap": 0.0013, "n": 13, "threshold": 0.1,
                                                              "flagged": False}))
    assert f.value == "0.13% of eval 13-grams found in train" and f.verdict == "clean split"


def test_perplexity_interval_from_windows():
    d = {"perplexity": math.exp(3.0), "bits_per_byte": 1.2, "source": "split:test",
         "windows": {"nll_sum": [60 * (3 + 0.1 * (i % 3 - 1)) for i in range(30)], "n_scored": [60] * 30}}
    f = get_section("perplexity").findings(stage("perplexity", d))[0]
    lo, hi = (float(x) for x in f.interval.split("[")[1].rstrip("]").split(","))
    assert lo < math.exp(3.0) < hi and f.verdict == "plausible for held-out text"


# ----------------------------------------------------------------------------- --compare
def test_compare_newcombe_and_per_head_delta(tmp_path):
    from reports.compare import build_comparison

    a, b = tmp_path / "before", tmp_path / "after"
    _write(a / "coref" / "results.json", {"schema_version": 1, "kind": "coref_probe", **coref((21, 42))})
    _write(b / "coref" / "results.json", {"schema_version": 1, "kind": "coref_probe",
                                          **coref((42, 42), grid=[[0.5, 0.7], [0.4, 1.0]])})
    rep = build_comparison(a, b)
    (sec,) = rep.sections
    lines = [f.line for f in sec.findings]
    held = next(x for x in lines if "best head (held-out)" in x)
    assert "+0.500" in held and "after better" in held and "Newcombe 95% CI" in held
    mean = next(x for x in lines if "head mean" in x)
    assert "+0.000" in mean and "not distinguishable from 0" in mean
    assert type(sec.blocks[0]).__name__ == "Chart"  # B − A heatmap


@pytest.mark.parametrize("change,needle", [
    ("kind", "kind 'coref_probe'"), ("data", "different eval data"), ("missing", "has none"),
])
def test_compare_refuses_mismatches(tmp_path, change, needle):
    from reports.compare import build_comparison

    a, b = tmp_path / "a", tmp_path / "b"
    _write(a / "coref" / "results.json", {"schema_version": 1, "kind": "coref_probe", **coref((21, 42))})
    other = coref((21, 42), sha="zzz" if change == "data" else "abc")
    if change == "kind":
        _write(b / "coref" / "results.json", {"schema_version": 1, "kind": "generation", "completion": "x"})
    elif change == "missing":
        _write(b / "other" / "results.json", {"schema_version": 1, "kind": "coref_probe", **other})
    else:
        _write(b / "coref" / "results.json", {"schema_version": 1, "kind": "coref_probe", **other})
    with pytest.raises(UserError, match=needle):
        build_comparison(a, b)


def test_compare_through_the_public_api_writes_html_and_pdf(tmp_path):
    from reports.api import report

    a, b = tmp_path / "a", tmp_path / "b"
    _write(a / "results.json", {"schema_version": 1, "kind": "coref_probe", **coref((21, 42))})
    _write(b / "results.json", {"schema_version": 1, "kind": "coref_probe", **coref((40, 42))})
    res = report([a, b], compare=True)
    assert Path(res.outputs["html"]) == a / "compare.html" and Path(res.outputs["pdf"]).exists()
    assert any("Newcombe" in f for f in res.findings)
    with pytest.raises(UserError, match="--compare needs exactly two"):
        report([a], compare=True)
