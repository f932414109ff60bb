"""Attention analysis cost: pattern-only caching vs caching every hook, and evolution cost vs #checkpoints.

A. One forward of a T-token prompt through `TransformerBridge.run_with_cache`, caching every hook (the
   default) vs only `blocks.L.attn.hook_pattern` (what `interp.attention` does). The two alternate
   (interleaved repeats); medians, the median of per-pair ratios, and the cached bytes are reported.
B. `attention_evolution` over fake training runs of N = 2, 4, 8 epoch checkpoints (random GPT-2s saved
   as HF dirs, loaded by `iter_run_checkpoints` exactly as the CLI does): wall seconds and seconds per
   checkpoint, run sizes interleaved; constant s/checkpoint = cost linear in #checkpoints.

Model: GPT-2 architecture, 4 layers × 4 heads, d_model 128, n_ctx 256, byte-level BPE vocab 300.

    python benchmarks/attention_evolution.py [--repeats 15] [--tokens 128] [--rounds 2]
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

from interp import attention as A
from interp import hooked
from interp.results import write_json
from interp.tokenizer import train_bpe

TEXT = ("John lost his keys. Sarah said she was tired. The cat sat on the mat. The ball rolled. "
        "Mary gave her book to Tom and he read it. A dog chased the cat and the cat ran up the tree. ") * 40


def _save_model(d: Path, tok, seed: int) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=128, n_layer=4, n_head=4,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)


def bench_cache(bridge, n_tokens: int, repeats: int) -> dict:
    ids = torch.randint(1, bridge.cfg.d_vocab, (1, n_tokens), generator=torch.Generator().manual_seed(0))
    names = [A.PATTERN_HOOK.format(layer=layer) for layer in range(bridge.cfg.n_layers)]
    t_all, t_pat, ratios = [], [], []
    bytes_all = bytes_pat = 0
    with torch.no_grad():
        for _ in range(2):  # warm-up
            bridge.run_with_cache(ids)
            bridge.run_with_cache(ids, names_filter=names)
        for _ in range(repeats):
            t0 = time.perf_counter()
            _, c_all = bridge.run_with_cache(ids)
            t1 = time.perf_counter()
            _, c_pat = bridge.run_with_cache(ids, names_filter=names)
            t2 = time.perf_counter()
            t_all.append(t1 - t0)
            t_pat.append(t2 - t1)
            ratios.append((t1 - t0) / (t2 - t1))
            bytes_all = sum(v.numel() * v.element_size() for v in c_all.values())
            bytes_pat = sum(v.numel() * v.element_size() for v in c_pat.values())
            n_all, n_pat = len(c_all), len(c_pat)
    return {"tokens": n_tokens, "repeats": repeats,
            "all_hooks_ms_median": 1e3 * statistics.median(t_all), "patterns_only_ms_median": 1e3 * statistics.median(t_pat),
            "ratio_all_over_patterns_median": statistics.median(ratios),
            "cached_tensors": {"all": n_all, "patterns": n_pat},
            "cached_mib": {"all": bytes_all / 2**20, "patterns": bytes_pat / 2**20}}


def bench_evolution(tok, sizes: list[int], rounds: int, root: Path) -> dict:
    runs = {}
    for n in sizes:
        run = root / f"run{n}"
        for e in range(1, n + 1):
            _save_model(run / "checkpoints" / f"epoch-{e:03d}", tok, seed=e)
        runs[n] = run
    cfg = A.EvolutionConfig(induction_len=32, induction_batch=4)
    prompt = "Mary gave her book to Tom and he read it. The cat sat on the mat."
    A.attention_evolution(A.iter_run_checkpoints(runs[sizes[0]]), prompt, cfg)  # warm-up (imports, first boot)
    secs: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(rounds):
        for n in sizes if r % 2 == 0 else list(reversed(sizes)):  # interleave, alternate the order
            t0 = time.perf_counter()
            res = A.attention_evolution(A.iter_run_checkpoints(runs[n]), prompt, cfg)
            secs[n].append(time.perf_counter() - t0)
            assert len(res.checkpoints) == n
    out = {str(n): {"checkpoints": n, "seconds_median": statistics.median(v),
                    "seconds_per_checkpoint": statistics.median(v) / n} for n, v in secs.items()}
    lo, hi = sizes[0], sizes[-1]
    out["per_checkpoint_ratio_largest_over_smallest"] = (out[str(hi)]["seconds_per_checkpoint"]
                                                         / out[str(lo)]["seconds_per_checkpoint"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "attention_evolution.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok = train_bpe([TEXT], vocab_size=300)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _save_model(root / "single", tok, seed=0)
        bridge = hooked.load(str(root / "single"))
        cache = bench_cache(bridge, args.tokens, args.repeats)
        del bridge
        evo = bench_evolution(tok, [2, 4, 8], args.rounds, root)
    res = {"model": "gpt2 4L×4H d_model 128 n_ctx 256 vocab 300", "torch_threads": 1, "cache": cache, "evolution": evo}
    write_json(args.out, res)
    print(f"A. run_with_cache, {cache['tokens']} tokens, {cache['repeats']} interleaved repeats")
    print(f"   {'cache':<16}{'median ms':>10}{'tensors':>9}{'MiB':>9}")
    print(f"   {'all hooks':<16}{cache['all_hooks_ms_median']:>10.1f}{cache['cached_tensors']['all']:>9}"
          f"{cache['cached_mib']['all']:>9.2f}")
    print(f"   {'hook_pattern':<16}{cache['patterns_only_ms_median']:>10.1f}{cache['cached_tensors']['patterns']:>9}"
          f"{cache['cached_mib']['patterns']:>9.2f}")
    print(f"   median per-pair ratio all/patterns: {cache['ratio_all_over_patterns_median']:.2f}x")
    print(f"B. attention_evolution (load + 2 forwards per checkpoint), {args.rounds} interleaved rounds")
    print(f"   {'checkpoints':<12}{'median s':>10}{'s/ckpt':>9}")
    for v in evo.values():
        if isinstance(v, dict):
            print(f"   {v['checkpoints']:<12}{v['seconds_median']:>10.2f}{v['seconds_per_checkpoint']:>9.3f}")
    print(f"   s/ckpt ratio 8 vs 2 checkpoints: {evo['per_checkpoint_ratio_largest_over_smallest']:.2f}")
    print(f"results: {args.out}")
    if "--json" in sys.argv:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
