"""The demo orchestrator: stage order, skip-when-done (resumable), --force, failures → one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp.demo import STAGES, DemoConfig, run_demo, stages_for
from interp.errors import UserError


class FakeCLI:
    """Records argv and creates each stage's marker file, as the real command would."""

    def __init__(self, cfg: DemoConfig, fail_at: str | None = None) -> None:
        self.cfg, self.fail_at, self.calls = cfg, fail_at, []

    def __call__(self, argv: list[str]) -> int:
        st = next(s for s in stages_for(self.cfg) if s.argv(self.cfg) == argv)
        self.calls.append(st.name)
        if st.name == self.fail_at:
            return 2
        marker: Path = st.marker(self.cfg)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("{}")
        if st.name == "train":
            (self.cfg.out / "run" / "run.json").write_text("{}")
        return 0


def test_runs_every_stage_in_order_then_skips_when_done(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo", gemma=False)
    cli = FakeCLI(cfg)
    rec = run_demo(cfg, cli)
    names = [s.name for s in STAGES if not s.gemma]
    assert cli.calls == names and not any(n.startswith("gemma") for n in names)
    assert [s["status"] for s in rec["stages"]] == ["ran"] * len(names)
    assert abs(sum(rec["share"].values()) - 1) < 1e-3
    import json

    (cfg.out / "demo.json").write_text(json.dumps(rec))
    cli2 = FakeCLI(cfg)
    rec2 = run_demo(cfg, cli2)
    assert cli2.calls == [] and all(s["status"] == "skipped" for s in rec2["stages"])
    assert [s["earlier_seconds"] for s in rec2["stages"]] == [s["seconds"] for s in rec["stages"]]


def test_resume_after_failure_continues_from_failed_stage(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo", gemma=False)
    with pytest.raises(UserError, match="demo stage 'coref' failed.*resume"):
        run_demo(cfg, FakeCLI(cfg, fail_at="coref"))
    cli = FakeCLI(cfg)
    run_demo(cfg, cli)
    names = [s.name for s in STAGES if not s.gemma]
    assert cli.calls == names[names.index("coref"):]


def test_interrupted_training_is_resumed_not_restarted(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo")
    (cfg.out / "run").mkdir(parents=True)
    (cfg.out / "run" / "run.json").write_text("{}")  # started, no results.json yet
    assert STAGES[0].argv(cfg)[:2] == ["train", "--resume"]
    forced = DemoConfig(out=tmp_path / "demo", force=True)
    assert "--force" in STAGES[0].argv(forced) and "--resume" not in STAGES[0].argv(forced)


def test_force_reruns_everything(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo", gemma=False)
    run_demo(cfg, FakeCLI(cfg))
    forced = DemoConfig(out=tmp_path / "demo", force=True, gemma=False)
    cli = FakeCLI(forced)
    run_demo(forced, cli)
    assert cli.calls == [s.name for s in STAGES if not s.gemma]


def test_bad_config():
    with pytest.raises(UserError, match="epochs >= 2"):
        DemoConfig(epochs=1)


def test_every_analysis_stage_uses_the_seed(tmp_path):
    cfg = DemoConfig(out=tmp_path / "d", seed=7)
    for st in STAGES:
        argv = st.argv(cfg)
        if argv[:2] != ["train", "--resume"]:
            assert "--seed" in argv and argv[argv.index("--seed") + 1] == "7", st.name


@pytest.mark.skipif(not __import__("interp.demo", fromlist=["gemma_installed"]).gemma_installed(),
                    reason="the gemma extra is not installed")
def test_gemma_part_runs_before_the_report_on_the_demo_test_split(tmp_path):
    """The real stage list (nothing patched): the Gemma stages after the tiny model's, before the report,
    the sweep and perplexity reading the demo run's test split."""
    from interp.demo import stages_for, test_split_file, write_test_split

    cfg = DemoConfig(out=tmp_path / "demo", gemma=True)
    names = [s.name for s in stages_for(cfg)]
    gem = [n for n in names if n.startswith("gemma")]
    assert gem == ["gemma-weights", "gemma/coref", "gemma/coref-causal", "gemma/trimmed", "gemma/ablation-sweep",
                   "gemma/perplexity"]
    assert names[-1] == "report" and names.index("gemma-weights") > names.index("trimmed")
    readers = [s for s in stages_for(cfg) if s.prepare is not None]
    assert [s.name for s in readers] == ["gemma/ablation-sweep", "gemma/perplexity"]
    assert all(s.prepare is write_test_split and str(test_split_file(cfg)) in s.argv(cfg) for s in readers)
    argv = next(s for s in stages_for(cfg) if s.name == "gemma/perplexity").argv(cfg)
    assert argv[:3] == ["eval", "perplexity", "gemma-3-270m"]


@pytest.mark.slow
def test_the_real_stages_on_a_tiny_model(tmp_path):
    """Every stage of `interp demo --preset tiny --no-gemma` through the real CLI on a tiny corpus: each writes
    its results, the report is built, and a rerun skips every stage. (slow: 42 CPU-s, 4.5 min wall on the shared
    2-core machine)"""
    import json
    import random

    from interp.demo import stages_for
    from tests.conftest import TOY_TEXT

    rng = random.Random(0)  # enough distinct words for the tiny preset's 512-token BPE vocabulary
    words = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(1, 3)))
             for _ in range(400)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TOY_TEXT + "\n".join(" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(2500)))
    cfg = DemoConfig(out=tmp_path / "demo", preset="tiny", epochs=2, corpus=str(corpus), gemma=False)
    rec = run_demo(cfg)
    names = [s.name for s in stages_for(cfg)]
    assert [s["name"] for s in rec["stages"]] == names and all(s["status"] == "ran" for s in rec["stages"])
    for st in stages_for(cfg):
        assert st.marker(cfg).exists(), st.name
    kinds = {json.loads((cfg.out / n / "results.json").read_text())["kind"]
             for n in names if n not in ("train", "report")}
    assert {"attention_maps", "ablation", "ablation_sweep", "coref_probe", "perplexity", "trimmed_eval"} <= kinds
    assert "Findings" in (cfg.out / "report.html").read_text(encoding="utf-8")
    again = run_demo(cfg)
    assert all(s["status"] == "skipped" for s in again["stages"])


def test_no_gemma_and_missing_extra(monkeypatch, tmp_path):
    import interp.demo as demo

    monkeypatch.setattr(demo, "gemma_installed", lambda: False)
    assert not DemoConfig(out=tmp_path).with_gemma
    with pytest.raises(UserError, match="gemma extra"):
        DemoConfig(out=tmp_path, gemma=True)


def test_train_stage_saves_log_spaced_checkpoints(tmp_path):
    assert STAGES[0].argv(DemoConfig(out=tmp_path / "d"))[-2:] == ["--save-at", "log"]
