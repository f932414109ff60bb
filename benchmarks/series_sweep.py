"""Checkpoint-series sweep cost: 10 vs 20 checkpoints of the `small` shape, and peak memory vs one model.

Each arm runs `interp.attention.attention_evolution` over a series of N random `small`-shape GPT-2 checkpoints
(4 layers × 4 heads, d_model 128, n_ctx 128, vocab 2048; saved as HF dirs with interp trainer state) in a FRESH
subprocess, so its peak RSS (ru_maxrss) is its own; N = 1 is the "one model" baseline. Each child first runs a
one-checkpoint warm-up (lazy imports, first TransformerBridge boot: seconds, and noisy on a shared machine), then
times the N-checkpoint sweep. Arms are interleaved (order alternating per round); medians of wall seconds.
Targets (issue 9): time(20) / time(10) ≤ 2.1, peak RSS(20) ≤ 1.2 × peak RSS(1).

    python benchmarks/series_sweep.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "The king said that he would not go to the city, and the queen said that she would."


def make_series(root: Path, n: int) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp.tokenizer import train_bpe

    text = ("The king said that he would not go. The queen said that she would. " * 200
            + "".join(chr(65 + (i * 7) % 50) + " " for i in range(4000)))
    tok = train_bpe([text], vocab_size=300)  # model vocab 2048 (the `small` shape); ids above the tokenizer unused
    cfg = GPT2Config(vocab_size=2048, n_positions=128, n_embd=128, n_layer=4, n_head=4, n_inner=512,
                     activation_function="gelu", bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    (root / "checkpoints").mkdir(parents=True)
    (root / "run.json").write_text("{}")
    for i in range(n):
        torch.manual_seed(i)
        d = root / "checkpoints" / f"step-{2 ** i:06d}"
        GPT2LMHeadModel(cfg).eval().save_pretrained(d)
        tok.save_pretrained(d)
        (d / "trainer_state.json").write_text(json.dumps({"step": 2 ** i, "epoch": 0, "tokens_seen": 2 ** i * 1536}))


def child(run: str, n: int) -> None:
    import torch

    torch.set_num_threads(1)
    from interp.attention import attention_evolution
    from interp.series import as_series

    s = as_series(run)
    idx = list(range(n))
    from interp.series import CheckpointSeries

    sub = CheckpointSeries(s.source, s.kind, tuple(s.checkpoints[i] for i in idx))
    # warm-up on the last checkpoint (not in the timed set for n < 20): lazy imports + first TransformerBridge boot
    attention_evolution(CheckpointSeries(s.source, s.kind, (s.checkpoints[-1],)), PROMPT, induction_len=32,
                        induction_batch=4)
    t0 = time.perf_counter()
    r = attention_evolution(sub, PROMPT, induction_len=32, induction_batch=4)
    dt = time.perf_counter() - t0
    assert len(r.checkpoints) == n
    print(json.dumps({"n": n, "seconds": dt, "seconds_per_checkpoint": dt / n, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("RUN", "N"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "series_sweep.json")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    sizes = [1, 10, 20]
    res: dict[int, list[dict]] = {n: [] for n in sizes}
    env = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
    import os

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        make_series(run, 20)
        for r in range(args.rounds):
            for n in sizes if r % 2 == 0 else list(reversed(sizes)):
                p = subprocess.run([sys.executable, __file__, "--child", str(run), str(n)], capture_output=True,
                                   text=True, env={**os.environ, **env}, check=True)
                res[n].append(json.loads(p.stdout.strip().splitlines()[-1]))
                print(res[n][-1], flush=True)
    med = {n: {"checkpoints": n, "seconds_median": statistics.median(x["seconds"] for x in v),
               "peak_rss_mib_median": statistics.median(x["peak_rss_mib"] for x in v), "runs": v} for n, v in res.items()}
    out = {"model": "small shape: gpt2 4L×4H d_model 128 n_ctx 128 vocab 2048 (random weights)", "torch_threads": 1,
           "rounds": args.rounds, "arms": {str(n): m for n, m in med.items()},
           "time_ratio_20_over_10": med[20]["seconds_median"] / med[10]["seconds_median"],
           "peak_rss_ratio_20_over_1": med[20]["peak_rss_mib_median"] / med[1]["peak_rss_mib_median"],
           "peak_rss_ratio_10_over_1": med[10]["peak_rss_mib_median"] / med[1]["peak_rss_mib_median"],
           "targets": {"time_ratio_20_over_10": 2.1, "peak_rss_ratio_20_over_1": 1.2}}
    from interp.results import write_json

    write_json(args.out, out)
    print(f"time 20/10 = {out['time_ratio_20_over_10']:.2f}x (target ≤ 2.1); peak RSS: 1 ckpt "
          f"{med[1]['peak_rss_mib_median']:.0f} MiB, 10 {med[10]['peak_rss_mib_median']:.0f} MiB, 20 "
          f"{med[20]['peak_rss_mib_median']:.0f} MiB → 20/1 = {out['peak_rss_ratio_20_over_1']:.3f}x (target ≤ 1.2)")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
