"""Our trainer vs nanoGPT's CPU recipe, char vs char at an identical config, side by side in one process.

Config (nanoGPT README's CPU command for shakespeare-char): 4 layers, 4 heads, d_model 128, block 64,
batch 12, 2000 iterations (1.536M tokens), lr 1e-3 → 1e-4 (cosine), warmup 100, AdamW (0.9, 0.99),
wd 0.1, clip 1.0, dropout 0, fp32. Data: ../shared/data/tinyshakespeare/input.txt when present, else the
embedded Shakespeare (first 1.1M chars). nanoGPT trains on the first 90% of the chars; ours is
`interp train --tokenizer char --val-frac 0.1 --test-frac 0` on the same text (first 90%, cut at a line end).
Both tokenizers are one token per character (nanoGPT: 65 symbols; ours: the train split's characters
+ <|endoftext|> + <unk>).

Throughput: the arms alternate chunks of `--chunk` steps (so machine noise hits all arms alike); per
chunk tokens per wall-clock second and per CPU second (one thread: the arm's own work, not the time it
waited for a shared core); reported: medians per arm and the median of per-chunk ratios arm/nanoGPT.
Val loss at equal tokens: both models scored by the same function on the same non-overlapping 64-char
windows of our val split (nanoGPT's own 200-random-batch estimate is reported too).

`--levers` runs the short lever study instead: our trainer with one change at a time (eager attention
instead of SDPA, foreach instead of fused AdamW, the forward without HF's LM-head wrapper, torch.compile)
against nanoGPT, same interleaving.

    python benchmarks/train_throughput.py [--steps 2000] [--chunk 50] [--threads 1]
    python benchmarks/train_throughput.py --levers [--steps 300] [--chunk 25]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from nanogpt_reference import NanoTrainer  # noqa: E402

from interp.presets import ModelConfig  # noqa: E402
from interp.results import write_json  # noqa: E402
from interp.train import Dist, TrainConfig, Trainer, prepare_data  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
TOKENS_PER_STEP = 12 * 64


def corpus_file(path: Path | None) -> tuple[Path, str]:
    """(file, text): the given/shared tinyshakespeare, else the embedded corpus written to a temp file."""
    p = path or SHARED
    if p.is_file():
        return p, p.read_text(encoding="utf-8")
    from interp.data import load_corpus

    text = "\n\n".join(d.text for d in load_corpus(None))[:1_115_394]
    out = Path(tempfile.mkdtemp()) / "shakespeare.txt"
    out.write_text(text, encoding="utf-8")
    return out, text


def make_ours(data: Path, steps: int, **cfg_overrides) -> tuple[Trainer, dict]:
    cfg = TrainConfig(model=ModelConfig(n_layers=4, n_heads=4, d_model=128, n_ctx=64), preset="bench",
                      corpus=str(data), tokenizer="char", batch_size=12, max_epochs=10**6, max_steps=steps,
                      lr=1e-3, min_lr_ratio=0.1, warmup_steps=100, weight_decay=0.1, grad_clip=1.0,
                      val_frac=0.1, test_frac=0.0, eval_tokens=10**9, seed=1337, **cfg_overrides)
    tok, splits, ids = prepare_data(cfg)
    return Trainer(cfg, Path(tempfile.mkdtemp()), tok, ids["train"], ids["val"], Dist()), {"splits": splits, "ids": ids}


@torch.no_grad()
def window_loss(logits_fn, ids: torch.Tensor, n_ctx: int = 64) -> float:
    """Mean next-token loss over every non-overlapping (n_ctx+1)-window of `ids` (the same for both arms)."""
    n_win = (len(ids) - 1) // n_ctx
    total, count = 0.0, 0
    for i in range(0, n_win, 64):
        idx = torch.arange(i, min(n_win, i + 64))[:, None] * n_ctx + torch.arange(n_ctx + 1)[None, :]
        w = ids[idx]
        logits = logits_fn(w[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum").item()
        count += w[:, 1:].numel()
    return total / count


# ----------------------------------------------------------------------------- levers (one change each)
def lever_eager(t: Trainer) -> None:
    t.model.set_attn_implementation("eager")


def lever_foreach_adamw(t: Trainer) -> None:
    sd = t.opt.state_dict()
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in t.opt.param_groups]
    t.opt = torch.optim.AdamW(groups, lr=t.cfg.lr, betas=(t.cfg.beta1, t.cfg.beta2), foreach=True)
    t.opt.load_state_dict(sd)


def lever_direct_forward(t: Trainer) -> None:
    """Skip GPT2LMHeadModel's wrapper: transformer body → tied unembedding, one module layer less per step."""
    body, wte = t.model.transformer, t.model.transformer.wte

    def fwd(x, use_cache=False):
        h = body(x, use_cache=False).last_hidden_state  # (B, T, d_model)
        return types.SimpleNamespace(logits=F.linear(h, wte.weight))  # (B, T, d_vocab)

    t.forward = fwd


LEVERS = {"interp (default: SDPA, fused AdamW)": None, "eager attention": lever_eager,
          "foreach AdamW (nanoGPT's)": lever_foreach_adamw, "direct forward": lever_direct_forward,
          "--compile": "compile"}


def interleave(arms: dict, steps: int, chunk: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per chunk and arm: tokens per wall-clock second and tokens per CPU second of this process (with one
    thread, CPU time is the arm's own work: it does not count time spent waiting for a shared core)."""
    wall: dict[str, list[float]] = {k: [] for k in arms}
    cpu: dict[str, list[float]] = {k: [] for k in arms}
    done = 0
    while done < steps:
        n = min(chunk, steps - done)
        for name, step in arms.items():
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                step()
            wall[name].append(n * TOKENS_PER_STEP / (time.perf_counter() - t))
            cpu[name].append(n * TOKENS_PER_STEP / max(time.process_time() - c, 1e-9))
        done += n
        print(f"step {done}/{steps}: " + " | ".join(f"{k} {v[-1]:,.0f} ({cpu[k][-1]:,.0f} cpu)" for k, v in wall.items()),
              file=sys.stderr)
    return wall, cpu


def summarize(wall: dict[str, list[float]], cpu: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    def ratio(rates: dict[str, list[float]], k: str) -> float:
        return statistics.median(b / a for a, b in zip(rates["nanogpt"], rates[k], strict=True))

    return {k: {"median_tokens_per_s": statistics.median(wall[k]), "ratio_vs_nanogpt_median_of_chunks": ratio(wall, k),
                "median_tokens_per_cpu_s": statistics.median(cpu[k]), "cpu_ratio_vs_nanogpt_median_of_chunks": ratio(cpu, k)}
            for k in wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=None, help="default 2000 (300 with --levers)")
    ap.add_argument("--chunk", type=int, default=None, help="default 50 (25 with --levers)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps per arm first")
    ap.add_argument("--levers", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    steps = args.steps or (300 if args.levers else 2000)
    chunk = args.chunk or (25 if args.levers else 50)
    out = args.out or Path(__file__).parent / "results" / ("train_levers.json" if args.levers else "train_throughput.json")
    torch.set_num_threads(args.threads)
    data, text = corpus_file(args.data)

    nano = NanoTrainer(text, max_iters=steps)
    arms = {"nanogpt": nano.step}
    trainers: dict[str, Trainer] = {}
    compile_s = None
    if args.levers:
        for name, lever in LEVERS.items():
            t, info = make_ours(data, steps, compile=lever == "compile")
            if callable(lever):
                lever(t)
            trainers[name] = t
    else:
        t, info = make_ours(data, steps)
        trainers["interp"] = t
    for name, t in trainers.items():
        arms[name] = t.train_step
    for name, f in arms.items():  # warm-up (and compilation) outside the timed chunks
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            f()
        if name == "--compile":
            compile_s = time.perf_counter() - t0
    wall, cpu = interleave(arms, steps - args.warmup, chunk)
    res = {"config": "4 layers, 4 heads, d_model 128, block 64, batch 12, fp32, char vs char",
           "data": str(data), "steps": steps, "tokens_seen": steps * TOKENS_PER_STEP, "threads": args.threads,
           "chunk": chunk, "arms": summarize(wall, cpu), "compile_warmup_s": compile_s}
    if not args.levers:
        ours = trainers["interp"]
        val_ids = torch.from_numpy(info["ids"]["val"].astype("int64"))
        val_text = info["splits"]["val"].text
        nano_val_ids = torch.tensor([nano.stoi[c] for c in val_text if c in nano.stoi], dtype=torch.long)
        nano.model.eval()
        ours.model.eval()
        nano_same = window_loss(lambda x: nano.model(x)[0], nano_val_ids)
        ours_same = window_loss(lambda x: ours.model(x, use_cache=False).logits, val_ids)
        res["val_loss"] = {
            "same_windows_nats_per_char": {"nanogpt": nano_same, "interp": ours_same, "ratio": ours_same / nano_same},
            "nanogpt_own_estimate_200_random_batches": nano.val_loss(eval_iters=200),
            "interp_trainer_evaluate": ours.evaluate(),
        }
        res["vocab"] = {"nanogpt": nano.cfg.vocab_size, "interp": len(ours.tok)}
    write_json(out, res)
    print(f"{'arm':40} {'tok/s (median)':>15} {'ratio':>7} {'tok/cpu-s':>10} {'ratio':>7}")
    for k, v in res["arms"].items():
        print(f"{k:40} {v['median_tokens_per_s']:>15,.0f} {v['ratio_vs_nanogpt_median_of_chunks']:>6.3f}x "
              f"{v['median_tokens_per_cpu_s']:>10,.0f} {v['cpu_ratio_vs_nanogpt_median_of_chunks']:>6.3f}x")
    if "val_loss" in res:
        s = res["val_loss"]["same_windows_nats_per_char"]
        print(f"val loss (nats/char, same windows): nanoGPT {s['nanogpt']:.4f}  interp {s['interp']:.4f}  "
              f"ratio {s['ratio']:.4f}")
    if compile_s is not None:
        print(f"--compile warm-up ({args.warmup} steps incl. compilation): {compile_s:.1f} s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
