"""Benchmark: batched single-head ablation sweep vs the per-head TransformerLens `run_with_hooks` loop.

Both compute the same thing — Δloss of every head ablated alone, on the same eval windows, with the
same chunking and loss function (`interp.ablation.sweep(..., batched=True|False)`); the script checks
they agree to 1e-5 on every repeat. Repeats are interleaved (ABAB, alternating which goes first) and
summarised by medians and the loop/batched ratio.

Default model: a RANDOM GPT-2 of the `small` preset shape (4 layers × 4 heads, d_model 128, n_ctx 128,
vocab 2048) on seeded random token windows; `--model REF` benchmarks a real checkpoint (eval text from
`--text FILE`, else its run's val split, else random tokens).

    .venv/bin/python benchmarks/ablation_sweep.py                       # ~1-3 min on 2 busy cores
    .venv/bin/python benchmarks/ablation_sweep.py --max-tokens 4096 --repeats 3 --method mean

Work model. The loop runs every block for every head: n_layers block passes per head. The batched
sweep starts at the ablated layer from the cached clean residual: n_layers − L block passes for a head of
layer L; both pay one unembedding + loss per head. So the best possible speed-up is bounded by the
ratio of block passes (+ unembedding), printed as `work_ratio`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp import hooked  # noqa: E402
from interp.ablation import AblationConfig, eval_windows, sweep, window_bos  # noqa: E402
from interp.results import write_json  # noqa: E402

TOY = ("John lost his keys. Sarah said she was tired. The cat sat on the mat. The ball rolled. It stopped. "
       "Mary gave her book to Tom and he read it. A dog chased the cat and the cat ran up the tree. ") * 40


def random_small_model(tmp: Path) -> str:
    """A random GPT-2 of the `small` preset shape saved as an HF dir (tokenizer: a tiny BPE)."""
    from transformers import GPT2LMHeadModel

    from interp.presets import get_preset
    from interp.tokenizer import train_bpe

    tok = train_bpe([TOY], vocab_size=300)
    preset = get_preset("small")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(preset.to_hf_config(preset.d_vocab, tok.bos_token_id, tok.eos_token_id)).eval()
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return str(tmp)


def eval_tokens(bridge, model: str | None, text: str | None, max_tokens: int, seed: int) -> tuple[torch.Tensor, str]:
    n_ctx = min(int(bridge.cfg.n_ctx), 512)
    bos = window_bos(bridge.tokenizer)
    if text is not None:
        from evals.text_input import read_documents

        return eval_windows(bridge.tokenizer, read_documents(text), n_ctx, max_tokens, bos), f"file:{text}"
    meta = hooked.run_metadata(model) if model else None
    if meta is not None:
        from interp.data import split_texts

        return eval_windows(bridge.tokenizer, split_texts(meta, "val"), n_ctx, max_tokens, bos), "split:val"
    g = torch.Generator().manual_seed(seed)
    n = max(1, max_tokens // n_ctx)
    return torch.randint(0, int(bridge.cfg.d_vocab), (n, n_ctx), generator=g), "random tokens"


def work_ratio(n_layers: int, n_heads: int, unembed_blocks: float) -> float:
    """(loop block passes) / (batched block passes), unembedding counted as `unembed_blocks` blocks, clean pass included."""
    clean = n_layers + unembed_blocks
    loop = clean + n_layers * n_heads * (n_layers + unembed_blocks)
    batched = clean + sum(n_heads * (n_layers - layer + unembed_blocks) for layer in range(n_layers))
    return loop / batched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint / run dir (default: random model of the small preset shape)")
    ap.add_argument("--text", help="eval text file for --model")
    ap.add_argument("--method", default="zero", choices=["zero", "mean", "resample"])
    ap.add_argument("--max-tokens", type=int, default=8192, help="eval tokens (default 8192 = 64 windows of 128)")
    ap.add_argument("--batch-size", type=int, default=None, help="windows per forward (default auto)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ablation_sweep.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        ref = args.model or random_small_model(Path(tmp))
        bridge = hooked.load(ref)
        windows, source = eval_tokens(bridge, args.model, args.text, args.max_tokens, args.seed)
    cfg = AblationConfig(method=args.method, seed=args.seed, batch_size=args.batch_size, max_new_tokens=0)
    n_layers, n_heads, d_model = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads), int(bridge.cfg.d_model)
    print(f"model: {args.model or 'random small preset'} ({n_layers} layers × {n_heads} heads, d_model {d_model}, "
          f"vocab {bridge.cfg.d_vocab}); eval: {tuple(windows.shape)} {source}; method {args.method}; "
          f"torch threads {torch.get_num_threads()}", flush=True)

    sweep(bridge, windows[:2], cfg, batched=True)  # warm-up both paths
    sweep(bridge, windows[:2], cfg, batched=False)
    times: dict[str, list[float]] = {"batched": [], "loop": []}
    max_diff = 0.0
    for r in range(args.repeats):
        order = ("batched", "loop") if r % 2 == 0 else ("loop", "batched")
        res = {}
        for name in order:
            t0 = time.perf_counter()
            res[name] = sweep(bridge, windows, cfg, batched=name == "batched")
            times[name].append(time.perf_counter() - t0)
        a, b = torch.tensor(res["batched"].delta_loss), torch.tensor(res["loop"].delta_loss)
        max_diff = max(max_diff, float((a - b).abs().max()))
        print(f"  repeat {r + 1}: batched {times['batched'][-1]:.2f}s  loop {times['loop'][-1]:.2f}s  "
              f"ratio {times['loop'][-1] / times['batched'][-1]:.2f}  max|ΔΔloss| {max_diff:.1e}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["loop"] / med["batched"]
    # unembedding cost in block units: d_vocab·d_model vs ~12·d_model² + 2·n_ctx·d_model per block
    t = windows.shape[1]
    unembed = bridge.cfg.d_vocab * d_model / (12 * d_model**2 + 2 * t * d_model)
    wr = work_ratio(n_layers, n_heads, unembed)
    print()
    print(f"{'path':<10}{'median s':>10}{'min s':>10}{'tokens/s':>12}")
    n_tok = windows.numel() * (1 + n_layers * n_heads)
    for k in ("loop", "batched"):
        print(f"{k:<10}{med[k]:>10.2f}{min(times[k]):>10.2f}{n_tok / med[k]:>12,.0f}")
    print(f"speed-up (median loop / median batched): {ratio:.2f}x   work-model bound: {wr:.2f}x   "
          f"max |Δloss batched − loop| {max_diff:.1e}")
    out = {
        "benchmark": "ablation_sweep", "model": args.model or "random:small", "method": args.method,
        "n_layers": n_layers, "n_heads": n_heads, "d_model": d_model, "d_vocab": int(bridge.cfg.d_vocab),
        "windows": list(windows.shape), "source": source, "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__,
        "seconds": times, "median_s": med, "speedup": ratio, "work_model_bound": wr, "max_abs_diff": max_diff,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if args.out:
        write_json(args.out, out)
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
