"""Benchmark: SAE targets of issue 20 on a `small`-preset checkpoint (resid of layer 2, expansion 8, k 32).

    .venv/bin/python benchmarks/sae.py quality   --model runs/small [--tokens 1000000] [--lr 0.002]
    .venv/bin/python benchmarks/sae.py streaming --model runs/small [--tokens 65536] [--repeats 3]
    .venv/bin/python benchmarks/sae.py memory    --model runs/small [--tokens 100000,400000]
    .venv/bin/python benchmarks/sae.py library   --model runs/small [--tokens 50000] [--repeats 3]
    .venv/bin/python benchmarks/sae.py levers    --model runs/small --arms base,resample50 [--seeds 1] --lr 0.002

quality   train (CPU seconds via getrusage) then `evaluate_sae` on the val split: FVU, dead, loss recovered.
streaming tokens/s of `capture` (activations at the hook; the forward stops there) vs a plain full forward
          over the same windows, medians of interleaved repeats.
memory    peak RSS (ru_maxrss of a child process) of `train_sae` at two token counts.
library   tokens/s of our loop (`train_sae`) vs `sparsify.Trainer.fit` on the same token windows, same
          SAE shape, batch, optimizer (signum) and no AuxK (the Trainer's default), medians of repeats.
levers    dead-latent levers (ARMS: AuxK weight/threshold, lr, resampling) in one run, arms interleaved.
Every result prints one JSON line; --out FILE appends it. Threads: torch.set_num_threads(--threads, 1).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOOK = "blocks.2.hook_resid_post"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def quality(a) -> dict:
    from interp.sae.evaluate import SAEEvalConfig, evaluate_sae
    from interp.sae.train import SAETrainConfig, train_sae

    out = Path(a.workdir) / "quality"
    cfg = SAETrainConfig(hook=HOOK, expansion=8, k=32, tokens=a.tokens, lr=a.lr, seed=0)
    t0, c0 = time.perf_counter(), cpu()
    r = train_sae(a.model, cfg, out_dir=out)
    wall, cs = time.perf_counter() - t0, cpu() - c0
    e = evaluate_sae(a.model, r.sae, config=SAEEvalConfig(max_tokens=a.eval_tokens)).to_dict()["metrics"]
    return {"bench": "quality", "model": a.model, "hook": HOOK, "tokens": r.n_tokens, "lr": a.lr,
            "train_wall_s": wall, "train_cpu_s": cs, "train_fvu": r.final_fvu,
            **{k: e[k] for k in ("fvu", "loss_recovered", "dead_fraction", "dense_fraction", "l0", "loss_clean",
                                 "loss_sae", "loss_zero")},
            "targets": {"fvu<=0.15": e["fvu"]["value"] <= 0.15, "dead<=0.01": e["dead_fraction"]["value"] <= 0.01,
                        "recovered>=0.90": e["loss_recovered"]["value"] >= 0.90, "cpu<=300s": cs <= 300}}


SIGNUM = {"optimizer": "signum", "resample_every": 0}  # the 36.3%-dead configuration (with --lr 0.002)
ARMS = {  # SAETrainConfig overrides per lever arm (benchmarks/sae.py levers --arms a,b,...)
    "base": SIGNUM,
    "auxk1": {**SIGNUM, "auxk_alpha": 1.0},
    "auxk_t1k": {**SIGNUM, "dead_tokens": 1000},
    "lr1e-3": {**SIGNUM, "lr": 0.001},
    "resample50": {**SIGNUM, "resample_every": 50},
    "resample100": {**SIGNUM, "resample_every": 100},
    "adam": {"optimizer": "adam", "lr": None, "resample_every": 0},
    "adam_lr1e-3": {"optimizer": "adam", "lr": 0.001, "resample_every": 0},
    "adam_resample10": {"optimizer": "adam", "lr": None, "resample_every": 10},
    "adam_resample25": {"optimizer": "adam", "lr": None, "resample_every": 25},
    "adam_resample50": {"optimizer": "adam", "lr": None, "resample_every": 50},
    "adam_resample100": {"optimizer": "adam", "lr": None, "resample_every": 100},
}


def levers(a) -> list[dict]:
    """One run, arms interleaved (the arm order rotates per seed): train each arm (CPU s), evaluate it on
    the same held-out windows (dead % with a Wilson interval, FVU and loss recovered with bootstrap CIs)."""
    from interp import hooked
    from interp.sae.data import split_text
    from interp.sae.evaluate import SAEEvalConfig, evaluate_sae
    from interp.sae.train import SAETrainConfig, train_sae

    bridge = hooked.load(a.model)
    train_text, val_text = split_text(a.model, None, "train"), split_text(a.model, None, "val")  # run splits
    arms = a.arms.split(",")
    rows = []
    for s in range(a.first_seed, a.first_seed + a.seeds):
        order = arms[s % len(arms):] + arms[:s % len(arms)]
        for arm in order:
            over = {"lr": a.lr, **ARMS[arm]}
            cfg = SAETrainConfig(hook=HOOK, expansion=8, k=32, tokens=a.tokens, seed=s, save_every=10**9, **over)
            t0, c0 = time.perf_counter(), cpu()
            r = train_sae(bridge, cfg, text=train_text, out_dir=Path(a.workdir) / f"{arm}-{s}")
            wall, cs = time.perf_counter() - t0, cpu() - c0
            e = evaluate_sae(bridge, r.sae, text=val_text,
                             config=SAEEvalConfig(max_tokens=a.eval_tokens)).to_dict()["metrics"]
            row = {"bench": "levers", "arm": arm, "seed": s, "config": over, "tokens": r.n_tokens,
                   "train_wall_s": wall, "train_cpu_s": cs, "train_fvu": r.final_fvu,
                   "train_dead_fraction": r.dead_fraction, "resampled": [n for _, n in r.resampled],
                   **{k: e[k] for k in ("fvu", "loss_recovered", "dead_fraction", "dense_fraction", "l0")}}
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def _windows(model: str, tokens: int):
    from interp import hooked
    from interp.sae.data import split_text, windows

    bridge = hooked.load(model)
    return bridge, windows(bridge.tokenizer, split_text(model, None, "train"), 128, tokens)


def streaming(a) -> dict:
    from interp.sae.hooks import capture, parse_hook

    bridge, wins = _windows(a.model, a.tokens)
    hf, spec = bridge.original_model, parse_hook(HOOK)
    n = wins.numel()
    cap, fwd = [], []
    with torch.no_grad():
        for r in range(a.repeats):
            for which in (("cap", "fwd") if r % 2 == 0 else ("fwd", "cap")):
                c0 = cpu()
                for i in range(0, wins.shape[0], 8):
                    if which == "cap":
                        capture(hf, spec, wins[i:i + 8])
                    else:
                        hf(wins[i:i + 8])
                (cap if which == "cap" else fwd).append(n / (cpu() - c0))
    c, f = statistics.median(cap), statistics.median(fwd)
    return {"bench": "streaming", "tokens": n, "capture_tok_per_cpu_s": c, "forward_tok_per_cpu_s": f,
            "ratio": c / f, "target>=0.9": c / f >= 0.9, "note": "capture stops the forward at layer 2 of 4"}


def memory(a) -> dict:
    out = {}
    for t in [int(x) for x in str(a.tokens).split(",")]:
        code = (f"import sys, resource; sys.path.insert(0, {str(ROOT)!r}); import torch; torch.set_num_threads(1)\n"
                f"from interp.sae.train import SAETrainConfig, train_sae\n"
                f"train_sae({a.model!r}, SAETrainConfig(hook={HOOK!r}, tokens={t}, optimizer={a.optimizer!r}), out_dir={a.workdir!r} + '/mem{t}')\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out[str(t)] = int(p.stdout.strip().splitlines()[-1]) / 1024
    vals = list(out.values())
    return {"bench": "memory", "peak_rss_mib": out, "ratio_last_first": vals[-1] / vals[0]}


def library(a) -> dict:
    from datasets import Dataset

    from interp.sae.coder import sparsify
    from interp.sae.train import SAETrainConfig, train_sae

    sp = sparsify()
    bridge, wins = _windows(a.model, a.tokens)
    n_tok = wins.shape[0] * (wins.shape[1] - 1)
    ours, lib = [], []
    for r in range(a.repeats):
        for which in (("ours", "lib") if r % 2 == 0 else ("lib", "ours")):
            with tempfile.TemporaryDirectory() as tmp:
                c0 = cpu()
                if which == "ours":
                    from interp.sae.data import Text

                    # the same windows: a Text whose tokenization reproduces them is not guaranteed, so the
                    # loop gets the windows' decoded text only for the token count; steps = tokens / batch
                    cfg = SAETrainConfig(hook=HOOK, tokens=n_tok, batch_size=8, auxk_alpha=0.0, save_every=10**9,
                                         optimizer="signum", resample_every=0)  # the Trainer's optimizer
                    train_sae(bridge, cfg, text=Text((bridge.tokenizer.decode(wins[:, 1:].flatten()),), "bench"),
                              out_dir=Path(tmp) / "o")
                    ours.append(n_tok / (cpu() - c0))
                else:
                    ds = Dataset.from_dict({"input_ids": wins.tolist()}).with_format("torch")
                    cfg = sp.TrainConfig(sp.SaeConfig(expansion_factor=8, k=32), batch_size=8,
                                         hookpoints=["h.2"], log_to_wandb=False, save_every=10**9,
                                         save_dir=tmp)
                    with contextlib.redirect_stdout(io.StringIO()):
                        sp.Trainer(cfg, ds, bridge.original_model).fit()
                    lib.append(wins.numel() / (cpu() - c0))
    o, li = statistics.median(ours), statistics.median(lib)
    return {"bench": "library", "tokens": n_tok, "ours_tok_per_cpu_s": o, "library_tok_per_cpu_s": li,
            "ratio": o / li, "target>=0.95": o / li >= 0.95}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=("quality", "streaming", "memory", "library", "levers"))
    ap.add_argument("--arms", default="base,auxk_t1k,resample50")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--optimizer", default="adam", help="memory: the training optimizer")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default=None)
    ap.add_argument("--eval-tokens", type=int, default=16384)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    defaults = {"levers": "1000000", "quality": "1000000", "streaming": "65536", "memory": "100000,400000", "library": "50000"}
    a.tokens = a.tokens or defaults[a.part]
    if a.part != "memory":
        a.tokens = int(a.tokens)
    with tempfile.TemporaryDirectory() as wd:
        a.workdir = wd
        res = {"quality": quality, "streaming": streaming, "memory": memory, "library": library,
               "levers": levers}[a.part](a)
    from interp.results import dumps, to_jsonable

    lines = [json.dumps(to_jsonable(r)) for r in (res if isinstance(res, list) else [res])]
    print("\n".join(lines))
    if a.out:
        with open(a.out, "a") as f:
            f.write("".join(x + "\n" for x in lines))
    del dumps


if __name__ == "__main__":
    main()
