"""Circuits and lenses on the `small` preset shape (random init: no trained `small` run is available offline).

Parts (one process per part, medians over repeats, CPU seconds = time.process_time beside wall seconds):
    edges      every edge of the residual graph (479 for small) scored by the exact per-edge loop (one masked
               forward per edge: interp.circuits.methods.exact_scores with one copy per forward), by EAP and by
               EAP-IG with 10 steps; ratios = median(loop) / median(method); Spearman and top-20 recall vs exact.
    formation  circuit_formation (EAP-IG 10 steps, size 20) over 10 and over 20 checkpoints of the small shape
               (seeded perturbations of one random model); time ratio 20/10 and peak RSS of each run (fresh
               subprocess) against the peak RSS of one model's `circuit()` run.
    lens       tuned-lens training on 1M tokens of Shakespeare (n_ctx 128, batch 8: 976 steps), CPU seconds;
               logit-lens overhead = (forward + every layer's lens logits) / one forward, 16 prompts × 128 tokens.

    python benchmarks/circuits.py --part edges|formation|lens|all --threads 1
Writes benchmarks/results/circuits.json (merging parts).
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

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

OUT = ROOT / "benchmarks" / "results" / "circuits.json"
SHAKESPEARE = Path("/work/shared/data/tinyshakespeare/input.txt")


def timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def pairs_for(bridge):
    from patching import PAIRS

    from interp.patching.api import Pair, encode_pairs
    from interp.patching.metrics import MetricSpec

    spec = MetricSpec.parse("logit-diff")
    ps = [Pair(c, r, a, w) for c, r, a, w in PAIRS]
    return ps, encode_pairs(bridge.tokenizer, ps, spec, int(bridge.cfg.n_ctx)), spec


def part_edges(model_dir: str, repeats: int) -> dict:
    from interp import hooked
    from interp.circuits.graph import Graph
    from interp.circuits.methods import exact_scores, ig_scores
    from interp.circuits.run import batches, recall_top
    from interp.patching.metrics import spearman

    bridge = hooked.load(model_dir)
    graph = Graph.of(bridge)
    _, enc, spec = pairs_for(bridge)

    def batch():
        return batches(bridge, graph, enc, spec)[0][1]

    arms = {"exact_loop": lambda: exact_scores(batch(), rows=len(enc)).mean(1),
            "exact_batched": lambda: exact_scores(batch(), rows=64).mean(1),
            "eap": lambda: ig_scores(batch(), 1), "eap_ig10": lambda: ig_scores(batch(), 10)}
    cpu: dict[str, list[float]] = {k: [] for k in arms}
    wall: dict[str, list[float]] = {k: [] for k in arms}
    scores = {}
    for r in range(repeats):
        for name in list(arms)[r % len(arms):] + list(arms)[: r % len(arms)]:
            s, c, w = timed(arms[name])
            cpu[name].append(c)
            wall[name].append(w)
            scores[name] = s.double().numpy()
    med = {k: statistics.median(v) for k, v in cpu.items()}
    exact = scores["exact_loop"]
    return {"model": "small preset shape, random init (benchmarks/patching.small_model_dir)", "n_edges": graph.n_edges,
            "n_pairs": len(enc), "repeats": repeats, "cpu_s": cpu, "wall_s": wall, "median_cpu_s": med,
            "speedup_vs_loop_cpu": {k: med["exact_loop"] / v for k, v in med.items()},
            "max_abs_diff_exact_batched_vs_loop": float(abs(scores["exact_batched"] - exact).max()),
            "quality": {k: {"spearman": spearman(exact, scores[k]), "recall_top20": recall_top(exact, scores[k])}
                        for k in ("eap", "eap_ig10")},
            "abs_error_sum": {k: float(abs(scores[k] - exact).sum()) for k in ("eap", "eap_ig10")}}


def make_series(model_dir: str, root: Path, n: int) -> list[str]:
    from transformers import AutoTokenizer, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(model_dir)
    out = []
    for k in range(n):
        m = GPT2LMHeadModel.from_pretrained(model_dir)
        g = torch.Generator().manual_seed(k)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.01 * k * torch.randn(p.shape, generator=g))
        d = root / f"checkpoint-{k + 1}"
        m.save_pretrained(d)
        tok.save_pretrained(d)
        out.append(str(d))
    return out


def child(args) -> None:
    """One measured run in this fresh process: prints {cpu_s, wall_s, maxrss_mb}."""
    torch.set_num_threads(args.threads)
    if args.child == "formation":
        from interp.circuits.formation import circuit_formation

        dirs = json.loads(args.dirs)
        _, c, w = timed(lambda: circuit_formation(dirs, pairs=args.pairs, method="eap-ig:10", size=20, n_boot=200))
    else:  # one model: circuit() with the same method
        from interp.circuits.api import circuit

        _, c, w = timed(lambda: circuit(json.loads(args.dirs)[0], pairs=args.pairs, method="eap-ig:10", size=20,
                                        n_boot=200, curve_points=2))
    print(json.dumps({"cpu_s": c, "wall_s": w, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def part_formation(model_dir: str, threads: int) -> dict:
    from patching import PAIRS

    tmp = Path(tempfile.mkdtemp(prefix="circ_bench_"))
    dirs = make_series(model_dir, tmp, 20)
    pairs = tmp / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"clean": c, "corrupt": r, "answer": " " + a, "wrong": " " + w}) + "\n"
                             for c, r, a, w in PAIRS))

    def run(kind: str, ds: list[str]) -> dict:
        p = subprocess.run([sys.executable, __file__, "--child", kind, "--dirs", json.dumps(ds), "--pairs", str(pairs),
                            "--threads", str(threads)], capture_output=True, text=True, check=True)
        return json.loads(p.stdout.strip().splitlines()[-1])

    one = run("one", dirs[:1])
    ten = run("formation", dirs[:10])
    twenty = run("formation", dirs)
    return {"one_model": one, "ten": ten, "twenty": twenty, "time_ratio_20_10_cpu": twenty["cpu_s"] / ten["cpu_s"],
            "peak_ratio_20_vs_one": twenty["maxrss_mb"] / one["maxrss_mb"]}


def part_lens(model_dir: str) -> dict:
    from interp import hooked
    from interp.lens import core
    from interp.tokens import encode

    bridge = hooked.load(model_dir)
    ids = encode(bridge.tokenizer, SHAKESPEARE.read_text(encoding="utf-8"))
    win = core.windows(ids, 128)
    steps = 1_000_000 // (8 * 128)
    _, c, w = timed(lambda: core.train_tuned_lens(bridge, win[:-16], steps, batch=8))
    x = win[-16:]
    fw, ln = [], []
    with torch.no_grad():
        for _ in range(5):
            fw.append(timed(lambda: bridge(x))[1])
            ln.append(timed(lambda: core.lens_logits(bridge, core.resid_posts(bridge, x)))[1])
    return {"tuned_lens_train": {"tokens": steps * 8 * 128, "steps": steps, "cpu_s": c, "wall_s": w,
                                 "windows_available": int(win.shape[0])},
            "logit_lens": {"forward_cpu_s": statistics.median(fw), "lens_cpu_s": statistics.median(ln),
                           "overhead": statistics.median(ln) / statistics.median(fw), "batch": list(x.shape)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", default=None)
    ap.add_argument("--dirs", default="[]")
    ap.add_argument("--pairs", default="")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    torch.set_num_threads(args.threads)
    from patching import small_model_dir

    from interp.results import write_json

    model_dir = small_model_dir(Path(tempfile.mkdtemp(prefix="circ_small_")))
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    res.update({"benchmark": "circuits", "threads": args.threads, "torch": torch.__version__})
    parts = ["edges", "formation", "lens"] if args.part == "all" else args.part.split(",")
    for p in parts:
        res[p] = {"edges": lambda: part_edges(model_dir, args.repeats), "formation": lambda: part_formation(
            model_dir, args.threads), "lens": lambda: part_lens(model_dir)}[p]()
        write_json(OUT, res)
        print(json.dumps({p: res[p]}, indent=1)[:3000])


if __name__ == "__main__":
    main()
