"""Patching speed + estimate quality: AtP, AtP*, batched exact vs the TransformerLens-style per-head loop.

Arms, interleaved side by side in one process on the same prompt pairs (noise from other work hits all arms):
    loop          one `run_with_hooks` per head on the full model, full logits (TL `generic_activation_patch`)
    exact_batched interp.patching.core.generic_patch (all heads of a layer in one expanded forward from the
                  cached residual; last-row unembedding)
    atp / atp*    interp.patching.atp.attribution over every head (hook_z)
Per repeat every arm runs once (order rotated); medians over repeats; ratios = median(loop) / median(arm).
Quality over all heads vs exact: Spearman (signed fraction restored), Spearman of |score| vs |exact|, and the
recall of the exact top-5 (|effect|) in the estimate's top-10 (by score).

    python benchmarks/patching.py --threads 1 --repeats 3          # `small` shape + Gemma-3-270M
    python benchmarks/patching.py --models small --repeats 3
Writes benchmarks/results/patching.json.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# IOI pairs (Wang et al. 2022): the corrupt repeats the other name, so the indirect object flips; one template,
# so every pair has the same token length and the pairs run as one batch
NAMES = [("John", "Mary"), ("Tom", "Sarah"), ("David", "Anna"), ("Peter", "Kate")]
TEMPLATE = "After {a} and {b} went to the store, {s} gave a drink to"
PAIRS = [(TEMPLATE.format(a=a, b=b, s=b), TEMPLATE.format(a=a, b=b, s=a), a, b) for a, b in NAMES]


def small_model_dir(tmp: Path) -> str:
    """A random `small`-preset GPT-2 (the demo's shape: 4 layers × 4 heads, d_model 128, vocab 2048), saved as
    an HF dir with a 2048-token byte-level BPE (3 Shakespeare plays + the IOI pairs, so the names are one token)."""
    from transformers import GPT2LMHeadModel

    from interp.data import load_corpus
    from interp.presets import PRESETS
    from interp.tokenizer import train_bpe

    p = PRESETS["small"]
    ioi = " ".join(" ".join(x) for x in PAIRS) + " "
    tok = train_bpe([d.text for d in load_corpus()[:3]] + [ioi * 300], vocab_size=p.d_vocab)  # the demo's BPE size
    hf_cfg = p.to_hf_config(max(len(tok), p.d_vocab), tok.bos_token_id, tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(hf_cfg).eval().save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return str(tmp)


def bench_model(ref: str, label: str, repeats: int) -> dict:
    from interp import hooked
    from interp.patching.api import Pair, encode_pairs
    from interp.patching.atp import attribution
    from interp.patching.core import Runs, baselines, generic_patch
    from interp.patching.metrics import MetricSpec, RowTargets, spearman, topk_recall

    bridge = hooked.load(ref)
    spec = MetricSpec.parse("logit-diff")
    usable = []
    for c, r, a, w in PAIRS:
        try:
            usable.append(encode_pairs(bridge.tokenizer, [Pair(c, r, a, w)], spec, int(bridge.cfg.n_ctx))[0])
        except Exception as e:  # noqa: BLE001 — a word that is not one token for this tokenizer: skip the pair
            print(f"  {label}: skip pair {c!r}: {e}", file=sys.stderr)
    by_len: dict[int, list] = {}
    for e in usable:
        by_len.setdefault(len(e.clean), []).append(e)
    group = max(by_len.values(), key=len)  # one batch of equal-length pairs
    clean = torch.tensor([e.clean for e in group])
    corrupt = torch.tensor([e.corrupt for e in group])
    tg = RowTargets(torch.tensor([e.answer for e in group]), torch.tensor([e.wrong for e in group]), clean)
    runs = Runs(corrupt, clean, tg)  # denoising
    vb, vs = baselines(bridge, runs, "logit-diff")
    gap = float((vs - vb).mean())

    def loop():
        return generic_patch(bridge, runs, "heads", "logit-diff", batched=False)

    def batched():
        return generic_patch(bridge, runs, "heads", "logit-diff", batched=True)

    def atp():
        return attribution(bridge, runs, ["heads"], "logit-diff")["heads"]

    def atp_star():
        return attribution(bridge, runs, ["heads"], "logit-diff", star=True)["heads"]

    arms = {"loop": loop, "exact_batched": batched, "atp": atp, "atp_star": atp_star}
    times: dict[str, list[float]] = {k: [] for k in arms}
    outs: dict[str, object] = {}
    names = list(arms)
    for rep in range(repeats):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            t0 = time.perf_counter()
            outs[name] = arms[name]()
            times[name].append(time.perf_counter() - t0)
        print(f"  {label} repeat {rep + 1}/{repeats}: " + ", ".join(f"{k} {times[k][-1]:.2f}s" for k in names),
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    exact = outs["loop"].mean(-1) - vb.mean()  # (L, H) effect of each head
    max_diff = float((outs["exact_batched"] - outs["loop"]).abs().max())
    quality = {}
    for name in ("atp", "atp_star"):
        est, score = outs[name]["estimate"].mean(-1), outs[name]["score"]
        quality[name] = {"spearman": spearman(est.ravel().numpy(), exact.ravel().numpy()),
                         "spearman_abs_score": spearman(score.ravel().numpy(), exact.abs().ravel().numpy()),
                         "recall_top5_in_top10": topk_recall(exact.ravel().numpy(), score.ravel().numpy())}
    cfg = bridge.cfg
    return {
        "model": label, "n_layers": int(cfg.n_layers), "n_heads": int(cfg.n_heads), "d_model": int(cfg.d_model),
        "d_vocab": int(cfg.d_vocab), "n_pairs": len(group), "seq_len": int(clean.shape[1]), "repeats": repeats,
        "clean_minus_corrupt_logit_diff": gap,
        "seconds_median": med, "seconds_all": times,
        "speedup_atp": med["loop"] / med["atp"], "speedup_atp_star": med["loop"] / med["atp_star"],
        "speedup_exact_batched": med["loop"] / med["exact_batched"],
        "max_abs_diff_batched_vs_loop": max_diff,
        "quality_vs_exact": quality,
        "top5_exact_heads": [f"{i // int(cfg.n_heads)}.{i % int(cfg.n_heads)}"
                             for i in exact.abs().ravel().argsort(descending=True)[:5].tolist()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="small,gemma-3-270m")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "patching.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    from interp.results import write_json

    def save() -> None:  # after every model, so a failure later keeps the finished ones
        write_json(args.out, {"benchmark": "patching", "threads": args.threads, "torch": torch.__version__,
                              "arms": "loop = TL-style per-head run_with_hooks (full logits); exact_batched = "
                                      "interp.patching.core; atp / atp_star = interp.patching.atp",
                              "models": results})

    with tempfile.TemporaryDirectory() as tmp:
        for m in [x.strip() for x in args.models.split(",") if x.strip()]:
            ref = small_model_dir(Path(tmp) / "small") if m == "small" else m
            results[m] = bench_model(ref, m, args.repeats)
            print(json.dumps({k: results[m][k] for k in ("speedup_atp", "speedup_atp_star", "speedup_exact_batched",
                                                        "quality_vs_exact")}, indent=1), file=sys.stderr)
            save()
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
