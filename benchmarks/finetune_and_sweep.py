"""docs/training.md numbers: a fine-tune on one held-out play, and a small lr × n_layers grid with pruning.

Data: /work/shared/data/tinyshakespeare/input.txt (else the embedded Shakespeare). Its first play,
Coriolanus (chars 0 .. the first "GLOUCESTER:" speech of Richard III), is held out; the rest is the
pre-training corpus. Both are cut into documents of ~40 speeches, so train/val/test split by document.

    python benchmarks/finetune_and_sweep.py finetune [--work /tmp/ft] [--steps 1500] [--ft-steps 400]
    python benchmarks/finetune_and_sweep.py sweep    [--work /tmp/sweep] [--steps 300]

`finetune` trains the parent (char tokenizer, tiny preset) on the rest, fine-tunes it on Coriolanus
(all parameters, and with --freeze embeddings,blocks.0), then runs `interp report PARENT CHILD --compare`
and prints its numbers. `sweep` runs `interp sweep` on a 3 lr × 2 n_layers grid with the median pruner
(eval every 25 steps) and prints the best config and trials × steps run against the full grid.
CPU seconds (this process and its children) are printed beside wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SRC = Path("/work/shared/data/tinyshakespeare/input.txt")
INTERP = str(Path(sys.executable).with_name("interp"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + s.ru_utime + s.ru_stime


def _run(args: list[str]) -> None:
    t0, c0 = time.time(), _cpu()
    print("$ interp " + " ".join(args), file=sys.stderr, flush=True)
    subprocess.run([INTERP, *args], check=True, stdout=subprocess.DEVNULL)
    print(f"  wall {time.time() - t0:.1f} s, cpu {_cpu() - c0:.1f} s", file=sys.stderr, flush=True)


def corpora(work: Path) -> tuple[Path, Path]:
    from interp import data

    text = SRC.read_text() if SRC.exists() else "".join(d.text for d in data.load_corpus(None))[:1_115_394]
    cut = text.index("\nGLOUCESTER:\nNow is the winter") if "\nGLOUCESTER:\nNow is the winter" in text else len(text) // 8
    parts = {"pretrain": text[cut:], "coriolanus": text[:cut]}
    out = []
    for name, body in parts.items():
        d = work / name
        d.mkdir(parents=True, exist_ok=True)
        speeches = body.strip().split("\n\n")
        for i in range(0, len(speeches), 40):
            (d / f"doc{i // 40:04d}.txt").write_text("\n\n".join(speeches[i:i + 40]) + "\n")
        out.append(d)
    return out[0], out[1]


def finetune(work: Path, steps: int, ft_steps: int) -> None:
    pre, play = corpora(work)
    common = ["--tokenizer", "char", "--preset", "tiny", "--batch-size", "16", "--eval-every", "100",
              "--eval-tokens", "16384", "--val-frac", "0.1", "--test-frac", "0.1", "--seed", "0", "--force"]
    _run(["train", str(work / "parent"), "--corpus", str(pre), "--max-steps", str(steps), "--epochs", "50",
          "--lr", "3e-3", "--warmup-steps", "50", *common])
    ft = ["--corpus", str(play), "--max-steps", str(ft_steps), "--epochs", "50", "--lr", "1e-3", "--warmup-steps",
          "20", "--init-from", str(work / "parent"), *common[4:]]
    _run(["train", str(work / "child"), *ft])
    _run(["train", str(work / "child-frozen"), *ft, "--freeze", "embeddings,blocks.0"])
    for child in ("child", "child-frozen"):
        _run(["report", str(work / "parent"), str(work / child), "--compare", "--out", str(work / f"compare-{child}"),
              "--format", "html"])
        res = json.loads((work / f"compare-{child}" / "compare" / "results.json").read_text())
        print(json.dumps({k: res[k] for k in ("perplexity", "forgetting", "attention_distance_summary",
                                               "ablation_change_summary") if k in res}, indent=1))


def sweep(work: Path, steps: int) -> None:
    pre, _ = corpora(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "space.toml").write_text(f"""
[sweep]
name = "lr-layers"
prune_startup_trials = 2
prune_warmup_steps = 50
[train]
preset = "tiny"
corpus = "{pre}"
tokenizer = "char"
batch_size = 16
max_steps = {steps}
epochs = 50
eval_every = 25
warmup_steps = 30
eval_tokens = 8192
val_frac = 0.1
test_frac = 0.1
[space]
lr = [3e-4, 1e-3, 3e-3]
n_layers = [1, 2]
""")
    _run(["sweep", str(work / "space.toml"), "--trials", "6", "--out", str(work / "out"), "--seed", "0"])
    res = json.loads((work / "out" / "results.json").read_text())
    for t in res["trials"]:
        print(f"trial {t['number']} {t['params']} {t['state']:8s} value {t['value']} steps {t['steps_run']}")
    print("best", res["best"]["params"], res["best"]["value"])
    print("compute", res["compute"], "importance", res["importance"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("finetune", "sweep"))
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--ft-steps", type=int, default=400)
    a = ap.parse_args()
    t0, c0 = time.time(), _cpu()
    if a.what == "finetune":
        finetune(a.work or Path("/tmp/ft-bench"), a.steps or 1500, a.ft_steps)
    else:
        sweep(a.work or Path("/tmp/sweep-bench"), a.steps or 300)
    print(f"total wall {time.time() - t0:.1f} s, cpu {_cpu() - c0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
