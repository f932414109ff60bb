"""The demo orchestrator: stage order, skip-when-done (resumable), --force, failures → one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp.demo import STAGES, DemoConfig, run_demo
from interp.errors import UserError


class FakeCLI:
    """Records argv and creates each stage's marker file, as the real command would."""

    def __init__(self, cfg: DemoConfig, fail_at: str | None = None) -> None:
        self.cfg, self.fail_at, self.calls = cfg, fail_at, []

    def __call__(self, argv: list[str]) -> int:
        st = next(s for s in STAGES if s.argv(self.cfg) == argv)
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
    cfg = DemoConfig(out=tmp_path / "demo")
    cli = FakeCLI(cfg)
    rec = run_demo(cfg, cli)
    assert cli.calls == [s.name for s in STAGES]
    assert [s["status"] for s in rec["stages"]] == ["ran"] * len(STAGES)
    import json

    (cfg.out / "demo.json").write_text(json.dumps(rec))
    cli2 = FakeCLI(cfg)
    rec2 = run_demo(cfg, cli2)
    assert cli2.calls == [] and all(s["status"] == "skipped" for s in rec2["stages"])
    assert [s["earlier_seconds"] for s in rec2["stages"]] == [s["seconds"] for s in rec["stages"]]


def test_resume_after_failure_continues_from_failed_stage(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo")
    with pytest.raises(UserError, match="demo stage 'coref' failed.*resume"):
        run_demo(cfg, FakeCLI(cfg, fail_at="coref"))
    cli = FakeCLI(cfg)
    run_demo(cfg, cli)
    names = [s.name for s in STAGES]
    assert cli.calls == names[names.index("coref"):]


def test_interrupted_training_is_resumed_not_restarted(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo")
    (cfg.out / "run").mkdir(parents=True)
    (cfg.out / "run" / "run.json").write_text("{}")  # started, no results.json yet
    assert STAGES[0].argv(cfg)[:2] == ["train", "--resume"]
    forced = DemoConfig(out=tmp_path / "demo", force=True)
    assert "--force" in STAGES[0].argv(forced) and "--resume" not in STAGES[0].argv(forced)


def test_force_reruns_everything(tmp_path):
    cfg = DemoConfig(out=tmp_path / "demo")
    run_demo(cfg, FakeCLI(cfg))
    forced = DemoConfig(out=tmp_path / "demo", force=True)
    cli = FakeCLI(forced)
    run_demo(forced, cli)
    assert cli.calls == [s.name for s in STAGES]


def test_bad_config():
    with pytest.raises(UserError, match="epochs >= 2"):
        DemoConfig(epochs=1)


def test_every_analysis_stage_uses_the_seed(tmp_path):
    cfg = DemoConfig(out=tmp_path / "d", seed=7)
    for st in STAGES:
        argv = st.argv(cfg)
        if argv[:2] != ["train", "--resume"]:
            assert "--seed" in argv and argv[argv.index("--seed") + 1] == "7", st.name
