"""Paired vs unpaired regression gate: detection rate at equal false-alarm rate, and minimum detectable effect.

Models. The reference is a tiny run (`interp train runs/bench-tiny --preset tiny --max-steps 200 --seed 0`).
Each candidate is the reference with Gaussian noise added to every weight tensor,
w ← w + scale · std(w) · N(0, 1) (seeded per candidate), for several scales and noise seeds — a model whose
accuracy / perplexity moved by a small, known amount. "Known": the TRUE effect of a candidate is its change
measured on the whole item pool (coref `builtin`: 336 examples; trimmed `bbcnews` test: 444 examples;
perplexity: the run's val split windows).

Cost. Each model is evaluated ONCE through the regress metric kinds (`evals.regress.run.evaluate`), and its
per-item results (correctness / per-window NLL) are cached (--cache). The repetitions are pure statistics.

Repetitions. A repetition draws a suite of n = pool-size items WITH REPLACEMENT from the pool (seeded; the
same items for both arms, as a real suite scores both models on the same items) and applies both gates
at α = 0.05 (two-sided, 95%):
    unpaired (the previous gate): Newcombe interval of current − baseline excludes 0 / independent bootstrap;
    paired (this gate): exact McNemar p < α / paired bootstrap interval excludes 0.
Detection = the gate flags a significant change in the direction of the candidate's true change.
False alarms: (a) the unchanged model (identical per-item results); (b) null candidates made by swapping the
baseline's and a candidate's result per item with probability 1/2 (exchangeable when nothing changed) — the
same discordance as real candidates, so the null is not trivially easy for the paired test.
MDE (empirical): the smallest |true change| at which a gate detects ≥ 80% of repetitions (linear interpolation
over candidates sorted by |true change|); MDE (analytic): `interp.stats.mde_*` at the suite's n.

Controlled flips (`simulate_flips`). Weight noise on a 200-step tiny model barely moves its near-chance
accuracies (it churns answers both ways), so accuracy drops of EXACT size are also made on the real items:
the reference's per-item correctness, resampled as above; each item flips at random (right→wrong with
probability (bg/2 + effect)/acc, wrong→right with (bg/2)/(1 − acc)), i.e. an expected churn bg with no net
change (bg = 0.02, 0.05, 0.15, spanning the churn that weight noise produced) plus an expected drop of
exactly `effect`. effect = 0 is the false-alarm condition (churn, no change).

    python benchmarks/paired_gate.py [--reps 200] [--run runs/bench-tiny] [--out benchmarks/results/paired_gate.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

SCALES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.18, 0.3, 0.5, 0.8, 1.2)
NOISE_SEEDS = (1, 2)
SUITE = """
seed = 0
[[eval]]
name = "coref"
kind = "coref"
probe_set = "builtin"
[eval.metrics.head_mean_accuracy]
[eval.metrics.behaviour_accuracy]

[[eval]]
name = "trimmed"
kind = "trimmed"
dataset = "bbcnews"
[eval.metrics.accuracy]

[[eval]]
name = "ppl"
kind = "perplexity"
split = "val"
max_tokens = 8192
[eval.metrics.nll]
"""
ALPHA = 0.05


def perturb(bridge, scale: float, seed: int) -> None:
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(bridge.original_model.named_parameters(), key=lambda kv: kv[0]):
            if p.numel() > 1 and scale > 0:
                p.add_(scale * float(p.float().std()) * torch.randn(p.shape, generator=g).to(p.dtype))


def measure(run: str, cache: dict | None = None) -> dict:
    """Per-item results of the reference and every candidate: {model: {eval/metric: {samples, weights, items}}}.
    Models already in `cache` are not measured again."""
    from evals.regress.protocol import EvalContext
    from evals.regress.run import evaluate
    from evals.regress.suite import parse_suite
    from interp import hooked

    suite = parse_suite(SUITE, source="paired_gate.toml", base_dir=".")
    out = dict(cache or {})
    cands = [("reference", 0.0, 0)] + [(f"noise{s:g}-seed{k}", s, k) for s in SCALES[1:] for k in NOISE_SEEDS]
    for name, scale, k in cands:
        if name in out:
            continue
        t0 = time.perf_counter()
        bridge = hooked.load(run)
        perturb(bridge, scale, 1000 + k)
        vals = evaluate(suite, bridge, EvalContext(model_ref=run, base_dir=Path("."), seed=0))
        out[name] = {"scale": scale, "noise_seed": k,
                     "metrics": {f"{e}/{m}": v.to_dict() for e, ms in vals.items() for m, v in ms.items()}}
        print(f"measured {name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return out


def _prop_gates(xb: np.ndarray, xc: np.ndarray, sign: float) -> tuple[bool, bool]:
    """(paired flags, unpaired flags) a change in the direction `sign` for 0/1 arrays over the same items."""
    from interp import stats

    n = xb.size
    b_ = int(((xc > 0.5) & (xb < 0.5)).sum())  # wrong → right
    c_ = int(((xc < 0.5) & (xb > 0.5)).sum())  # right → wrong
    paired = stats.mcnemar_p(b_, c_) < ALPHA and np.sign(b_ - c_) == sign
    lo, hi = stats.newcombe_diff(int(xc.sum()), n, int(xb.sum()), n, 1 - ALPHA)
    unpaired = (hi < 0) if sign < 0 else (lo > 0)
    return bool(paired), bool(unpaired)


def _mean_gates(xb, wb, xc, wc, sign: float, seed: int, n_boot: int) -> tuple[bool, bool]:
    from interp import stats

    out = []
    for paired in (True, False):
        reps = stats.bootstrap_diff(xb, xc, wb, wc, "mean", n_boot, seed, paired=paired)
        lo, hi = stats.quantile_interval(reps, 1 - ALPHA)
        out.append(bool((hi < 0) if sign < 0 else (lo > 0)))
    return out[0], out[1]


def _value(x: np.ndarray, w: np.ndarray | None) -> float:
    return float(x.mean()) if w is None else float((x * w).sum() / w.sum())


def simulate(cache: dict, reps: int, n_boot: int, seed: int = 0) -> dict:
    from interp import stats

    ref = cache["reference"]["metrics"]
    out = {}
    for metric, rv in ref.items():
        is_prop = rv["stat"] == "proportion"
        xb = np.asarray(rv["samples"], dtype=np.float64)
        wb = np.asarray(rv["weights"], dtype=np.float64) if rv.get("weights") else None
        n = xb.size
        lower_better = metric.endswith("/nll")
        rows = []
        null_flags = {"paired": 0, "unpaired": 0, "trials": 0}
        for name, cd in cache.items():
            if name == "reference":
                continue
            cv = cd["metrics"][metric]
            assert cv["items"] == rv["items"], "items must match across models"
            xc = np.asarray(cv["samples"], dtype=np.float64)
            wc = np.asarray(cv["weights"], dtype=np.float64) if cv.get("weights") else None
            true = _value(xc, wc) - _value(xb, wb)
            sign = float(np.sign(true)) or -1.0
            rng = np.random.default_rng([seed, len(rows), 7])
            det = {"paired": 0, "unpaired": 0}
            disc = []
            for r in range(reps):
                idx = rng.integers(0, n, n)  # the suite's items, drawn from the pool; the same for both arms
                swap = rng.random(n) < 0.5  # null: swap arms per item
                a, c = xb[idx], xc[idx]
                a0, c0 = np.where(swap, c, a), np.where(swap, a, c)
                if is_prop:
                    res, res0 = _prop_gates(a, c, sign), _prop_gates(a0, c0, -1.0)
                    disc.append(int((a != c).sum()))
                else:
                    wa = wb[idx] if wb is not None else None
                    wcc = wc[idx] if wc is not None else None
                    res = _mean_gates(a, wa, c, wcc, sign, seed + r, n_boot)
                    res0 = _mean_gates(a0, wa, c0, wcc, 1.0 if lower_better else -1.0, seed + r, n_boot)
                det["paired"] += res[0]
                det["unpaired"] += res[1]
                null_flags["paired"] += res0[0]
                null_flags["unpaired"] += res0[1]
                null_flags["trials"] += 1
            row = {"candidate": name, "true_change": true, "detect_paired": det["paired"] / reps,
                   "detect_unpaired": det["unpaired"] / reps}
            if is_prop:
                md = float(np.mean(disc))
                row["mde_paired_analytic"] = stats.mde_paired_proportion(n, round(md), 1 - ALPHA)
                row["mde_unpaired_analytic"] = stats.mde_unpaired_proportion(_value(xb, None), n, n, 1 - ALPHA)
                row["mean_discordant"] = md
            else:
                rp = stats.bootstrap_diff(xb, xc, wb, wc, "mean", 1000, seed, paired=True)
                ru = stats.bootstrap_diff(xb, xc, wb, wc, "mean", 1000, seed, paired=False)
                row["mde_paired_analytic"] = stats.mde_from_replicates(rp, 1 - ALPHA)
                row["mde_unpaired_analytic"] = stats.mde_from_replicates(ru, 1 - ALPHA)
            rows.append(row)
        # the unchanged model: identical per-item results → neither gate can flag (checked, not assumed)
        unchanged = _prop_gates(xb, xb, -1.0) if is_prop else _mean_gates(xb, wb, xb, wb, 1.0, seed, n_boot)
        out[metric] = {"n": n, "baseline_value": _value(xb, wb), "candidates": rows,
                       "false_alarm_unchanged": {"paired": unchanged[0], "unpaired": unchanged[1]},
                       "false_alarm_swap_null": {k: null_flags[k] / max(1, null_flags["trials"])
                                                 for k in ("paired", "unpaired")},
                       "mde_empirical": {g: empirical_mde(rows, f"detect_{g}") for g in ("paired", "unpaired")}}
    return out


FLIP_EFFECTS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)
FLIP_BACKGROUND = (0.02, 0.05, 0.15)  # discordant share with no net change (right→wrong = wrong→right)


def simulate_flips(cache: dict, reps: int, seed: int = 0) -> dict:
    """Controlled accuracy drops on the REAL items: per repetition, n items resampled from the pool with the
    reference's per-item correctness; each right item turns wrong with probability (bg/2 + effect)/acc and each
    wrong item turns right with probability (bg/2)/(1 − acc): expected churn bg with no net change (like weight
    noise) plus an expected drop of exactly `effect`."""
    from interp import stats

    out = {}
    for metric, rv in cache["reference"]["metrics"].items():
        if rv["stat"] != "proportion":
            continue
        xb = np.asarray(rv["samples"], dtype=np.float64)
        n = xb.size
        noise_disc = [float(np.mean(np.asarray(cd["metrics"][metric]["samples"]) != xb))
                      for k, cd in cache.items() if k != "reference"]
        res = {"n": n, "baseline_value": float(xb.mean()),
               "weight_noise_discordance": {"min": min(noise_disc), "max": max(noise_disc)}, "by_background": {}}
        for bg in FLIP_BACKGROUND:
            rows = []
            for j, eff in enumerate(FLIP_EFFECTS):
                rng = np.random.default_rng([seed, j, int(bg * 1000), 11])
                det = {"paired": 0, "unpaired": 0}
                done = 0
                for _ in range(reps):
                    a = xb[rng.integers(0, n, n)]
                    acc = float(a.mean())
                    q_rw, q_wr = (bg / 2 + eff) / acc, (bg / 2) / (1 - acc)  # per-item flip probabilities
                    if not (acc and q_rw <= 1 and q_wr <= 1):
                        continue
                    u = rng.random(n)
                    c = np.where(a > 0.5, (u >= q_rw).astype(float), (u < q_wr).astype(float))
                    pg, ug = _prop_gates(a, c, -1.0)
                    det["paired"] += pg
                    det["unpaired"] += ug
                    done += 1
                rows.append({"effect": eff, "reps": done, "detect_paired": det["paired"] / max(1, done),
                             "detect_unpaired": det["unpaired"] / max(1, done),
                             "mde_paired_analytic": stats.mde_paired_proportion(n, round((bg + eff) * n), 1 - ALPHA),
                             "expected_discordant": bg + eff,
                             "mde_unpaired_analytic": stats.mde_unpaired_proportion(float(xb.mean()), n, n, 1 - ALPHA)})
            pos = [dict(r, true_change=r["effect"]) for r in rows if r["effect"] > 0 and r["reps"]]
            mp, mu = empirical_mde(pos, "detect_paired"), empirical_mde(pos, "detect_unpaired")
            res["by_background"][f"{bg:g}"] = {
                "rows": rows, "false_alarm": {"paired": rows[0]["detect_paired"], "unpaired": rows[0]["detect_unpaired"]},
                "mde_empirical": {"paired": mp, "unpaired": mu},
                "ratio": (mp / mu) if mp is not None and mu else None}
        out[metric] = res
    return out


def empirical_mde(rows: list[dict], key: str, target: float = 0.8) -> float | None:
    """Smallest |true change| with detection ≥ target (interpolated over candidates sorted by |change|)."""
    pts = sorted((abs(r["true_change"]), r[key]) for r in rows)
    prev = (0.0, 0.0)
    for x, y in pts:
        if y >= target:
            x0, y0 = prev
            return x0 + (target - y0) * (x - x0) / (y - y0) if y > y0 else x
        prev = (x, y)
    return None  # not reached within the tested changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/bench-tiny")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=400, help="bootstrap resamples per repetition (mean metrics)")
    ap.add_argument("--cache", default="runs/paired_gate_items.json", help="per-item results of every model")
    ap.add_argument("--out", default="benchmarks/results/paired_gate.json")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from interp.results import write_json

    t0, c0 = time.perf_counter(), time.process_time()
    cache_p = Path(a.cache)
    cache = json.loads(cache_p.read_text()) if cache_p.is_file() else {}
    n_cached = len(cache)
    cache = measure(a.run, cache)
    if len(cache) != n_cached:
        write_json(cache_p, cache)
    t1, c1 = time.perf_counter(), time.process_time()
    res = simulate(cache, a.reps, a.n_boot, a.seed)
    flips = simulate_flips(cache, a.reps, a.seed)
    t2, c2 = time.perf_counter(), time.process_time()
    doc = {"reps": a.reps, "n_boot": a.n_boot, "alpha": ALPHA, "seed": a.seed, "run": a.run, "metrics": res,
           "controlled_flips": flips,
           "timing": {"measure_wall_s": t1 - t0, "measure_cpu_s": c1 - c0, "simulate_wall_s": t2 - t1,
                      "simulate_cpu_s": c2 - c1,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}
    write_json(a.out, doc)
    for m, r in res.items():
        e = r["mde_empirical"]
        ratio = (e["paired"] / e["unpaired"]) if e["paired"] is not None and e["unpaired"] else None
        print(f"{m}: n={r['n']} baseline={r['baseline_value']:.4f} false alarms (swap null) "
              f"paired {r['false_alarm_swap_null']['paired']:.3f} unpaired {r['false_alarm_swap_null']['unpaired']:.3f}; "
              f"MDE paired {e['paired']} unpaired {e['unpaired']} ratio {ratio}")
        for row in r["candidates"]:
            print(f"  {row['candidate']:>16} Δ={row['true_change']:+.4f} detect paired {row['detect_paired']:.2f} "
                  f"unpaired {row['detect_unpaired']:.2f} MDE analytic {row['mde_paired_analytic']:.4f} / "
                  f"{row['mde_unpaired_analytic']:.4f}")
    for m, r in flips.items():
        print(f"controlled flips {m}: n={r['n']} baseline={r['baseline_value']:.4f} weight-noise discordance "
              f"{r['weight_noise_discordance']['min']:.3f}–{r['weight_noise_discordance']['max']:.3f}")
        for bg, b in r["by_background"].items():
            e = b["mde_empirical"]
            print(f"  churn {bg}: false alarm paired {b['false_alarm']['paired']:.3f} unpaired "
                  f"{b['false_alarm']['unpaired']:.3f}; MDE paired {e['paired']} unpaired {e['unpaired']} ratio {b['ratio']}")
            for row in b["rows"]:
                print(f"    drop {row['effect']:.3f} ({row['reps']} reps) detect paired {row['detect_paired']:.2f} "
                      f"unpaired {row['detect_unpaired']:.2f}; MDE analytic {row['mde_paired_analytic']:.4f} / "
                      f"{row['mde_unpaired_analytic']:.4f}")
    print(json.dumps(doc["timing"]))


if __name__ == "__main__":
    main()
