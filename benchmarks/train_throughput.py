"""Our trainer vs nanoGPT's CPU recipe, side by side in one run (interleaved chunks of steps).

Shape: 4 layers, 4 heads, d_model 128, block 64, batch 12, 2000 iterations (1.536M tokens), lr 1e-3 → 1e-4,
warmup 100, AdamW (0.9, 0.99), wd 0.1, clip 1.0, dropout 0 — nanoGPT's README CPU command.
Data: ../shared/data/tinyshakespeare/input.txt; both use the first 90% to train and the rest to validate.
nanoGPT: char-level (65 symbols). Ours: byte-level BPE (--vocab-size, default 512) trained on the train part.
"Equal tokens seen": both run the same number of steps of 12×64 tokens. Loss per character converts our
per-token val loss with tokens/chars of the val split; nanoGPT's is per char already.

Throughput: the two trainers alternate chunks of `--chunk` steps; tokens/s per chunk; medians reported,
plus the median of per-chunk-pair ratios (robust to machine noise).

    python benchmarks/train_throughput.py [--data PATH] [--steps 2000] [--chunk 100] [--vocab-size 512]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from nanogpt_reference import NanoTrainer  # noqa: E402

from interp.presets import ModelConfig  # noqa: E402
from interp.results import write_json  # noqa: E402
from interp.train import Dist, TrainConfig, Trainer, _prepare_data  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--vocab-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_throughput.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    text = args.data.read_text(encoding="utf-8")

    nano = NanoTrainer(text, max_iters=args.steps)
    cfg = TrainConfig(model=ModelConfig(n_layers=4, n_heads=4, d_model=128, n_ctx=64, d_vocab=args.vocab_size),
                      preset="bench", corpus=str(args.data), batch_size=12, max_epochs=1000, max_steps=args.steps,
                      lr=1e-3, min_lr_ratio=0.1, warmup_steps=100, weight_decay=0.1, grad_clip=1.0,
                      val_frac=0.1, test_frac=0.0, eval_tokens=10**9, seed=1337)
    tok, splits, ids = _prepare_data(cfg)
    ours = Trainer(cfg, Path(tempfile.mkdtemp()), tok, ids["train"], ids["val"], Dist())
    tokens_per_step = 12 * 64

    rates: dict[str, list[float]] = {"nanogpt": [], "interp": []}
    done = 0
    while done < args.steps:
        n = min(args.chunk, args.steps - done)
        for name, step in (("nanogpt", nano.step), ("interp", ours.train_step)):
            t = time.perf_counter()
            for _ in range(n):
                step()
            rates[name].append(n * tokens_per_step / (time.perf_counter() - t))
        done += n
        print(f"step {done}/{args.steps}: nanoGPT {rates['nanogpt'][-1]:,.0f} tok/s | interp {rates['interp'][-1]:,.0f} tok/s",
              file=sys.stderr)

    nano_val = nano.val_loss(eval_iters=200)
    val_tok = ours.evaluate()  # whole val split, non-overlapping windows
    tokens_per_char = len(ids["val"]) / splits["val"].n_chars
    ours_val_char = val_tok * tokens_per_char
    ratios = [b / a for a, b in zip(rates["nanogpt"], rates["interp"], strict=True)]
    res = {
        "shape": "4 layers, 4 heads, d_model 128, block 64, batch 12",
        "steps": args.steps, "tokens_seen": args.steps * tokens_per_step, "threads": args.threads,
        "nanogpt": {"tokenizer": "char-level (65)", "median_tokens_per_s": statistics.median(rates["nanogpt"]),
                    "val_loss_per_char": nano_val},
        "interp": {"tokenizer": f"byte-level BPE ({len(tok)})", "median_tokens_per_s": statistics.median(rates["interp"]),
                   "val_loss_per_token": val_tok, "val_tokens_per_char": tokens_per_char,
                   "val_loss_per_char": ours_val_char},
        "throughput_ratio_median_of_pairs": statistics.median(ratios),
        "val_loss_per_char_ratio": ours_val_char / nano_val,
        "chars_seen_ratio_note": "at equal tokens, BPE tokens cover ~1/tokens_per_char chars each",
    }
    write_json(args.out, res)
    print(f"{'':10} {'tok/s (median)':>15} {'val nats/char':>14}")
    print(f"{'nanoGPT':10} {res['nanogpt']['median_tokens_per_s']:>15,.0f} {nano_val:>14.3f}")
    print(f"{'interp':10} {res['interp']['median_tokens_per_s']:>15,.0f} {ours_val_char:>14.3f}")
    print(f"throughput ratio (interp/nanoGPT, median of interleaved pairs): {res['throughput_ratio_median_of_pairs']:.2f}x")
    print(f"val loss per char ratio (interp/nanoGPT): {res['val_loss_per_char_ratio']:.3f}")
    print(f"wrote {args.out}")
    print(json.dumps(res) if "--json" in sys.argv else "", end="")


if __name__ == "__main__":
    main()
