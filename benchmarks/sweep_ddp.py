"""docs/training.md numbers: a 2-trial `interp sweep` with trials in-process vs torchrun (1 and 2 processes).

    python benchmarks/sweep_ddp.py [--work /tmp/sweep-ddp] [--steps 150] [--modes inproc,1,2]

Data: the pre-training part of /work/shared/data/tinyshakespeare/input.txt (Coriolanus held out, as in
benchmarks/finetune_and_sweep.py), char tokenizer, tiny preset (2 layers, d_model 64), n_ctx 64, global
batch 16, lr ∈ {1e-3, 3e-3}, eval every 25 steps (no pruning: 2 startup trials). For each mode it prints
wall and CPU seconds (this process + all its reaped descendants: the sweep, torchrun, its workers), and the
largest |difference| of any intermediate val loss from the in-process sweep.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from finetune_and_sweep import corpora  # noqa: E402

INTERP = str(Path(sys.executable).with_name("interp"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/sweep-ddp"))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--modes", default="inproc,1,2")
    a = ap.parse_args()
    pre, _ = corpora(a.work)
    space = a.work / "space.toml"
    space.write_text(f"""[sweep]
name = "ddp-bench"
order = "given"
prune_startup_trials = 2
[train]
preset = "tiny"
corpus = "{pre}"
tokenizer = "char"
n_ctx = 64
batch_size = 16
max_steps = {a.steps}
eval_every = 25
warmup_steps = 20
eval_tokens = 8192
[space]
lr = [1e-3, 3e-3]
""")
    results = {}
    for mode in a.modes.split(","):
        out = a.work / f"sweep-{mode}"
        extra = [] if mode == "inproc" else ["--nproc-per-node", mode]
        args = ["sweep", str(space), "--trials", "2", "--out", str(out), "--json", *extra]
        if out.exists():
            import shutil

            shutil.rmtree(out)
        t0, c0 = time.time(), _cpu()
        r = subprocess.run([INTERP, *args], check=True, capture_output=True, text=True)
        wall, cpu = time.time() - t0, _cpu() - c0
        results[mode] = res = json.loads(r.stdout)
        vals = [list(t["intermediate"].values()) for t in res["trials"]]
        line = f"{mode:>6}: wall {wall:6.1f} s, cpu {cpu:6.1f} s; best val per trial " + \
            ", ".join(f"{t['value']:.5f}" for t in res["trials"])
        if "inproc" in results and mode != "inproc":
            ref = [list(t["intermediate"].values()) for t in results["inproc"]["trials"]]
            diff = max(abs(x - y) for va, vb in zip(vals, ref, strict=True) for x, y in zip(va, vb, strict=True))
            line += f"; max |Δ intermediate val loss| vs in-process {diff:.2e}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
