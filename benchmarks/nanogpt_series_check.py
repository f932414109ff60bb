"""Real check of the nanoGPT path end to end: train nanoGPT (the faithful reference, its CPU recipe on
tinyshakespeare, char-level) and save `ckpt_<iter>.pt` files at log-spaced iterations the way nanoGPT forks
do (model, model_args, config, iter_num, best_val_loss, optimizer; torch.save), write its meta.pkl, then run
`interp head-formation` over the folder of .pt files (each imported once into the cache, keyed by hash) and
record the emergence table. Also times the import of the final checkpoint.

    python benchmarks/nanogpt_series_check.py [--iters 600] [--data ../shared/data/tinyshakespeare/input.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import corpus_file  # noqa: E402

from interp.importers.nanogpt_reference import NanoTrainer  # noqa: E402
from interp.results import write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "nanogpt_series_check.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, text = corpus_file(args.data)
    nano = NanoTrainer(text, max_iters=args.iters)
    save_at = sorted({0, *[2 ** k for k in range(20) if 2 ** k <= args.iters], args.iters})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out-shakespeare-char"
        out.mkdir()
        chars = sorted(nano.stoi, key=nano.stoi.get)
        with open(out / "meta.pkl", "wb") as f:
            pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": nano.stoi}, f)
        t0 = time.perf_counter()
        losses = []
        for it in range(args.iters + 1):
            if it in save_at:
                c = nano.cfg
                torch.save({"model": nano.model.state_dict(), "optimizer": nano.opt.state_dict(),
                            "model_args": dict(n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd,
                                               block_size=c.block_size, bias=c.bias, vocab_size=c.vocab_size,
                                               dropout=c.dropout),
                            "iter_num": it, "best_val_loss": torch.tensor(losses[-1] if losses else 9.9),
                            "config": {"batch_size": nano.batch_size, "block_size": c.block_size,
                                       "gradient_accumulation_steps": 1}}, out / f"ckpt_{it}.pt")
            if it < args.iters:
                losses.append(nano.step())
        train_s = time.perf_counter() - t0
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "INTERP_CACHE": str(Path(tmp) / "cache")}
        res_dir = Path(tmp) / "hf"
        t1 = time.perf_counter()
        p = subprocess.run([str(Path(sys.executable).with_name("interp")), "head-formation", str(out), "--meta",
                            str(out / "meta.pkl"), "--prompt", text[:200], "--out", str(res_dir), "--seed", "0"],
                           capture_output=True, text=True, env=env)
        hf_s = time.perf_counter() - t1
        if p.returncode != 0:
            raise SystemExit(p.stderr[-2000:])
        d = json.loads((res_dir / "results.json").read_text())
    res = {"iters": args.iters, "saved_iters": save_at, "train_seconds": train_s, "head_formation_seconds": hf_s,
           "final_train_loss": losses[-1], "x": d["x"], "labels": d["labels"], "tokens_seen": d["tokens_seen"],
           "summary": d["summary"], "formed": d["formed"],
           "max_prev_token_per_checkpoint": [max(max(r) for r in m) for m in d["scores"]["prev_token"]],
           "max_induction_per_checkpoint": [max(max(r) for r in m) for m in d["scores"]["induction"]]}
    write_json(args.out, res)
    print(p.stdout)
    print(f"trained {args.iters} iters in {train_s:.0f} s (loss {losses[-1]:.3f}); head-formation over "
          f"{len(save_at)} nanoGPT checkpoints in {hf_s:.0f} s\nresults: {args.out}")


if __name__ == "__main__":
    main()
