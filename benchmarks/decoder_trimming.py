"""Benchmark (slow, not in tests): decoder trimming at the seed's scale on Gemma-3-270M, 1 CPU thread.

Stage `curves` — per dataset, `evals.trimmed.trimmed(...)` with `--calibrate --fit-head 16,64,256,1024,all`
(sizes above a class's fit pool dropped): learning curve of the fitted trimmed head and the linear probe with
Wilson intervals, zero-shot and calibrated beside. The call runs TWICE: the first computes (or finds) the
last-position features, the second must run no forward (counted by wrapping `last_hidden`) — its wall time
over the first's is the feature-cache ratio (target < 5%; meaningful only when the first run found nothing
cached, which the JSON records as `first_forwards`).

Stage `side` — for N per class in --n (e.g. 64, 512; a class with fewer uses all it has), on the SAME training
examples (the first N of each class's seeded fit pool, as `trimmed` picks them) and the same test subset:
    (a) trimmed head  k × d_model + k, from the label rows (cached features; fit time + the measured per-example
        feature time of stage `curves` × the prompts it needs)
    (b) linear probe  same features, random init
    (c) LoRA          `peft` rank-8 adapters on q/k/v/o of every layer, trained one epoch (batch 8, AdamW lr 1e-3,
        constant) through the frozen label-token head (CE over the k label logits at the last position)
accuracy (Wilson), wall time, trainable parameters, peak RSS above the start of the arm. LoRA's step time is
measured first (3 steps) and a configuration whose projected epoch exceeds --lora-budget-s is skipped (and
reported as skipped, with its projection).

BBC articles are capped to their first --max-text-tokens tokens (default 64: title + lead; a full article is
~500) before templating, for every arm; the other datasets' texts are used whole. The stages can run as two
processes (each one thread); each writes its own key of the JSON (re-read just before writing).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decoder_trimming.py --stages curves
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decoder_trimming.py --stages side
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
SIZES = (16, 64, 256, 1024, "all")
DATASETS = {
    "vader-amazon": dict(dataset="vader-amazon"),
    "bbcnews": dict(dataset="bbcnews"),
    "sst2-sample": dict(dataset=str(SHARED / "sst2-sample" / "dev.tsv"),
                        train_file=str(SHARED / "sst2-sample" / "train.tsv"), no_header=True, text_column="1",
                        label_column="0", label_map="0=negative,1=positive"),
    "ag-news-sample": dict(dataset=str(SHARED / "ag-news-sample" / "test.csv"),
                           train_file=str(SHARED / "ag-news-sample" / "train.csv"), no_header=True,
                           text_column="1,2", label_column="0",
                           label_names_file=str(SHARED / "ag-news-sample" / "classes.txt"), backslash_newlines=True,
                           template="Article: {text}\\nTopic:"),
}


COLD_KEYS = ("first_seconds", "first_forwards", "first_forward_seconds", "feature_seconds_per_prompt",
             "second_seconds", "second_forwards", "second_over_first", "first_cpu_seconds", "second_cpu_seconds",
             "second_over_first_cpu")


class PeakRSS:
    """Peak RSS (bytes) above the value at entry, sampled every `interval` s in a background thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval, self.page = interval, os.sysconf("SC_PAGE_SIZE")

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
        self.delta_mb = (self.peak - self.base) / 2**20


class ForwardCounter:
    """Wraps evals.trimmed.features.last_hidden: how many prompts went through the model, and for how long."""

    def __init__(self) -> None:
        import importlib

        self.mod = importlib.import_module("evals.trimmed.features")
        self.orig = self.mod.last_hidden
        self.n = 0
        self.seconds = 0.0

    def __enter__(self) -> ForwardCounter:
        def counted(bridge, id_lists, *a, **k):
            t = time.perf_counter()
            out = self.orig(bridge, id_lists, *a, **k)
            self.seconds += time.perf_counter() - t
            self.n += len(id_lists)
            return out

        self.mod.last_hidden = counted
        return self

    def __exit__(self, *exc) -> None:
        self.mod.last_hidden = self.orig


def fit_sizes(kw: dict, val_fraction: float = 0.1) -> tuple[list, dict]:
    """The SIZES that fit every class's fit pool, and the pool sizes."""
    from evals import datasets as ds

    fmt = ds.FileFormat(text_columns=ds.parse_columns(kw.get("text_column")), label_column=kw.get("label_column"),
                        header=not kw.get("no_header", False), label_map=ds.parse_label_map(kw.get("label_map")),
                        label_names_file=kw.get("label_names_file"), backslash_newlines=kw.get("backslash_newlines", False))
    _, train = ds.load(kw["dataset"], fmt=fmt, train_file=kw.get("train_file"), need_train=True)
    counts = train.label_counts()
    pool = {lab: n - (0 if n < 2 else max(1, int(val_fraction * n))) for lab, n in counts.items()}
    return [s for s in SIZES if s == "all" or s <= min(pool.values())], pool


def text_cap(name: str, max_text_tokens: int) -> int | None:
    return max_text_tokens if name == "bbcnews" else None


def stage_curves(bridge, names: list[str], max_text_tokens: int, out_dir: Path, save) -> dict:
    from evals.trimmed import trimmed
    from interp.results import write_json

    out = {}
    for name in names:
        kw = dict(DATASETS[name])
        sizes, pool = fit_sizes(kw)
        args = dict(kw, calibrate=True, fit_head=",".join(map(str, sizes)),
                    max_text_tokens=text_cap(name, max_text_tokens), seed=0, progress=True)
        runs = []
        for _ in range(2):
            with ForwardCounter() as fc:
                t, c = time.perf_counter(), time.process_time()
                res = trimmed(bridge, **args)
                runs.append({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                             "forwards": fc.n, "forward_seconds": fc.seconds})
        d = res.to_dict()
        d["model"] = "gemma-3-270m"
        write_json(out_dir / name / "results.json", d)
        curve = d["learning_curve"]
        n_prompts = d["dataset"]["n"] + 3 + d["dataset"]["n_train"]
        out[name] = {
            "args": {k: v for k, v in args.items() if k != "progress"}, "fit_pool_per_class": pool,
            "n_test": d["dataset"]["n"], "n_train": d["dataset"]["n_train"],
            "n_train_deduped": d["dataset"]["n_train_deduped"], "n_text_truncated": d["n_text_truncated"],
            "first_seconds": runs[0]["seconds"], "first_forwards": runs[0]["forwards"],
            "first_forward_seconds": runs[0]["forward_seconds"],
            "feature_seconds_per_prompt": (runs[0]["forward_seconds"] / runs[0]["forwards"]) if runs[0]["forwards"] else None,
            "second_seconds": runs[1]["seconds"], "second_forwards": runs[1]["forwards"],
            "second_over_first": runs[1]["seconds"] / runs[0]["seconds"], "n_prompts": n_prompts,
            "first_cpu_seconds": runs[0]["cpu_seconds"], "second_cpu_seconds": runs[1]["cpu_seconds"],
            "second_over_first_cpu": runs[1]["cpu_seconds"] / runs[0]["cpu_seconds"],
            "baselines": curve["baselines"], "majority_rate": curve["majority_rate"],
            "points": [{"k_per_class": p["k_per_class"], "n_train": p["n_train"],
                        "head": {k: p["head"][k] for k in ("accuracy", "ci95", "val_accuracy", "train_accuracy", "weight_decay")},
                        "probe": {k: p["probe"][k] for k in ("accuracy", "ci95", "val_accuracy", "train_accuracy", "weight_decay")}}
                       for p in curve["points"]],
            "head_at_least_probe": curve["head_at_least_probe"],
        }
        save(name, out[name])
        print(f"[curves] {name}: first {runs[0]['seconds']:.1f}s ({runs[0]['forwards']} forwards), second "
              f"{runs[1]['seconds']:.2f}s ({runs[1]['forwards']} forwards)", file=sys.stderr, flush=True)
        for p in out[name]["points"]:
            print(f"   K={p['k_per_class']}: head {p['head']['accuracy']:.3f} probe {p['probe']['accuracy']:.3f}",
                  file=sys.stderr, flush=True)
    return out


# ----------------------------------------------------------------------------- side by side
def prompts_for(bridge, examples, template: str, max_text_tokens: int) -> list[list[int]]:
    from evals.trimmed.prompts import cap_text, encode, render

    texts = [render(template, cap_text(bridge.tokenizer, ex.text, max_text_tokens)[0]) for ex in examples]
    return encode(bridge.tokenizer, texts, int(bridge.cfg.n_ctx))[0]


def lora_arm(hf_model, token_ids, train_ids, y_train, test_ids, y_test, seed: int, budget_s: float,
             batch_size: int = 8, lr: float = 1e-3, rank: int = 8) -> dict:
    """LoRA on q/k/v/o, one epoch through the frozen label-token head; then test accuracy."""
    import copy

    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = get_peft_model(copy.deepcopy(hf_model), LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    W_k = hf_model.get_output_embeddings().weight.detach()[torch.tensor(token_ids)]  # (k, d_model) frozen
    pad = 0
    body = model.base_model.model.model  # Gemma3TextModel: last_hidden_state is after the final norm

    def last_h(batch: list[list[int]]) -> torch.Tensor:
        T = max(map(len, batch))
        ids = torch.full((len(batch), T), pad, dtype=torch.long)
        mask = torch.zeros(len(batch), T, dtype=torch.long)
        for r, s in enumerate(batch):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
        h = body(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, d_model)
        return h[torch.arange(len(batch)), torch.tensor([len(s) - 1 for s in batch])]

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    order = list(range(len(train_ids)))
    random.Random(seed).shuffle(order)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    model.train()
    step_times = []
    with PeakRSS() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        for bi, b in enumerate(batches):
            ts = time.perf_counter()
            logits = last_h([train_ids[i] for i in b]) @ W_k.T  # (B, k)
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y_train[i] for i in b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step_times.append(time.perf_counter() - ts)
            if bi == 2:  # step time measured first: skip a configuration that would not fit the budget
                projected = statistics.median(step_times) * len(batches)
                if projected > budget_s:
                    return {"skipped": True, "projected_epoch_seconds": projected, "step_seconds": step_times,
                            "trainable_params": trainable, "n_steps": len(batches)}
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    preds = []
    t1 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(test_ids), 8):
            preds += (last_h(test_ids[i:i + 8]) @ W_k.T).argmax(-1).tolist()
    eval_s = time.perf_counter() - t1
    return {"skipped": False, "train_seconds": train_s, "train_cpu_seconds": train_cpu, "eval_seconds": eval_s, "n_steps": len(batches),
            "median_step_seconds": statistics.median(step_times), "trainable_params": trainable,
            "peak_rss_mb": mem.delta_mb, "predictions": preds,
            "config": {"rank": rank, "alpha": 2 * rank, "targets": "q,k,v,o", "lr": lr, "batch_size": batch_size,
                       "epochs": 1, "optimizer": "AdamW, constant lr"}}


def stage_side(bridge, hf_model, names: list[str], ns: list[int], max_text_tokens: int, test_limit: int,
               budget_s: float, save, lora_ns: set[int] | None = None, previous: dict | None = None) -> dict:
    from evals import datasets as ds
    from evals.stats import wilson
    from evals.trimmed import (
        FeatureCache,
        cached_features,
        fit_head,
        label_rows,
        label_token_ids,
        last_hidden,
        model_key,
        split_for_fit,
    )
    from interp import hooked

    cache = FeatureCache(hooked.cache_dir(), model_key(bridge), int(bridge.cfg.d_model))
    out = {}
    for name in names:
        kw = DATASETS[name]
        cap = text_cap(name, max_text_tokens)
        ev, train = ds.load(kw["dataset"], need_train=True)
        test = list(ds.subsample(ev.examples, test_limit))
        labels = list(ev.label_names)
        template = ev.default_template
        token_ids = [t["token_id"] for t in label_token_ids(bridge.tokenizer, labels, template)]
        fit_pool, val = split_for_fit(list(train.examples), labels, 0.1, 0)
        test_ids = prompts_for(bridge, test, template, cap)
        y_test = [labels.index(ex.label) for ex in test]
        H_test = cached_features(bridge, test_ids, 8, True, "test features", cache)
        val_ids = prompts_for(bridge, val, template, cap)
        H_val = cached_features(bridge, val_ids, 8, True, "val features", cache)
        y_val = torch.tensor([labels.index(ex.label) for ex in val])
        W0, b0 = label_rows(bridge, token_ids)
        probe_ids = prompts_for(bridge, [ex for lab in labels for ex in fit_pool[lab][:8]], template, cap)
        t, c = time.perf_counter(), time.process_time()
        last_hidden(bridge, probe_ids, 8)  # uncached: the feature cost per training prompt, measured
        per_prompt = (time.perf_counter() - t) / len(probe_ids)
        per_prompt_cpu = (time.process_time() - c) / len(probe_ids)
        rows = []
        for n in ns:
            chosen = [ex for lab in labels for ex in fit_pool[lab][:n]]
            tr_ids = prompts_for(bridge, chosen, template, cap)
            y_tr = [labels.index(ex.label) for ex in chosen]
            H_tr = cached_features(bridge, tr_ids, 8, True, "train features", cache)
            row = {"n_per_class_requested": n, "n_train": len(chosen),
                   "per_class": {lab: min(n, len(fit_pool[lab])) for lab in labels}, "n_test": len(test)}
            for arm, init in (("trimmed_head", "labels"), ("linear_probe", "random")):
                with PeakRSS() as mem:
                    t, c = time.perf_counter(), time.process_time()
                    W, b, info = fit_head(H_tr, torch.tensor(y_tr), W0, b0, H_val, y_val, init=init, seed=0)
                    fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
                pred = (H_test @ W.T + b).argmax(-1).tolist()
                k = sum(int(p == g) for p, g in zip(pred, y_test, strict=True))
                feat_s = per_prompt * (len(chosen) + len(val))
                row[arm] = {"accuracy": k / len(test), "ci95": list(wilson(k, len(test))), "fit_seconds": fit_s,
                            "fit_cpu_seconds": fit_cpu, "feature_cpu_seconds": per_prompt_cpu * (len(chosen) + len(val)),
                            "feature_seconds": feat_s, "wall_seconds": fit_s + (feat_s or 0.0),
                            "trainable_params": W.numel() + b.numel(), "peak_rss_mb": mem.delta_mb,
                            "weight_decay": info["weight_decay"], "val_accuracy": info["val_accuracy"]}
            print(f"[side] {name} N={n}: head {row['trimmed_head']['accuracy']:.3f} probe "
                  f"{row['linear_probe']['accuracy']:.3f}; LoRA ...", file=sys.stderr, flush=True)
            old = next((r.get("lora") for r in ((previous or {}).get(name) or {}).get("rows", [])
                        if r.get("n_per_class_requested") == n and r.get("n_test") == len(test)), None)
            if old is not None and not old.get("skipped", True):
                lo = {**old, "reused_from_earlier_run": True}
            elif lora_ns is not None and n not in lora_ns:
                lo = {"skipped": True, "reason": "not run: --lora-n excludes this N (CPU time on the shared machine)"}
            else:
                lo = lora_arm(hf_model, token_ids, tr_ids, y_tr, test_ids, y_test, seed=0, budget_s=budget_s)
            if lo.get("reused_from_earlier_run") or lo.get("reason"):
                pass
            elif not lo["skipped"]:
                preds = lo.pop("predictions")
                k = sum(int(p == g) for p, g in zip(preds, y_test, strict=True))
                lo.update(accuracy=k / len(test), ci95=list(wilson(k, len(test))), wall_seconds=lo["train_seconds"])
                print(f"   LoRA {lo['accuracy']:.3f} in {lo['train_seconds']:.0f}s", file=sys.stderr, flush=True)
            elif lo["skipped"]:
                print(f"   LoRA skipped: projected {lo['projected_epoch_seconds']:.0f}s", file=sys.stderr, flush=True)
            row["lora"] = lo
            rows.append(row)
            out[name] = {"template": template, "labels": labels, "n_test": len(test), "n_val": len(val),
                         "max_text_tokens": cap, "feature_seconds_per_prompt": per_prompt,
                         "feature_cpu_seconds_per_prompt": per_prompt_cpu, "rows": rows}
            save(name, out[name])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", default="curves,side")
    ap.add_argument("--datasets", default="vader-amazon,bbcnews,sst2-sample,ag-news-sample",
                    help="for stage curves")
    ap.add_argument("--side-datasets", default="vader-amazon,bbcnews")
    ap.add_argument("--n", default="64,512", help="examples per class for stage side")
    ap.add_argument("--max-text-tokens", type=int, default=64, help="BBC articles keep their first N tokens")
    ap.add_argument("--side-test-limit", type=int, default=250, help="test subset shared by all arms of stage side")
    ap.add_argument("--lora-budget-s", type=float, default=1500.0, help="skip a LoRA epoch projected to take longer")
    ap.add_argument("--lora-n", default=None, help="N values that get the LoRA arm (default: all of --n)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "decoder_trimming.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from interp import hooked
    from interp.results import read_json, write_json

    out_path = Path(args.out)
    meta = {"benchmark": "decoder_trimming", "model": "gemma-3-270m", "threads": args.threads,
            "max_text_tokens_bbc": args.max_text_tokens, "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus (shared with other jobs)"}

    def saver(stage: str, settings: dict):
        def save(name: str, value: dict) -> None:  # re-read, update one key, write (two stages may run at once)
            report = read_json(out_path) if out_path.exists() else {}
            report.update(meta)
            old = report.get(stage, {}).get(name) or {}
            if stage == "curves" and old.get("first_forwards") and not value.get("first_forwards"):
                # a rerun that found everything cached keeps the cold run's timing (the cache ratio's numerator)
                value["cold_run"] = old.get("cold_run") or {k: old[k] for k in COLD_KEYS if k in old}
            report.setdefault(stage, {})[name] = value
            report[f"{stage}_settings"] = settings
            write_json(out_path, report)
        return save

    t = time.perf_counter()
    bridge = hooked.load("gemma-3-270m")
    print(f"loaded in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
    stages = args.stages.split(",")
    if "curves" in stages:
        stage_curves(bridge, args.datasets.split(","), args.max_text_tokens, out_path.parent / "decoder_trimming",
                     saver("curves", {"sizes": list(SIZES), "max_text_tokens_bbc": args.max_text_tokens}))
    if "side" in stages:
        hf_model, _ = hooked.load_hf("gemma-3-270m")
        previous = (read_json(out_path) if out_path.exists() else {}).get("side_by_side", {})
        stage_side(bridge, hf_model, args.side_datasets.split(","), [int(x) for x in args.n.split(",")],
                   args.max_text_tokens, args.side_test_limit, args.lora_budget_s,
                   saver("side_by_side", {"test_limit": args.side_test_limit, "lora_budget_s": args.lora_budget_s,
                                          "n": args.n, "lora_n": args.lora_n}),
                   lora_ns={int(x) for x in args.lora_n.split(",")} if args.lora_n else None, previous=previous)
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
