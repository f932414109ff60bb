"""When does the induction head form, as a function of batch × context? (issue 23, item 4)

Trains the `induction` preset (`interp train --preset induction`: 2 layers, word tokenizer, the synthetic
repeated-word corpus built from the embedded Shakespeare) with interp's own `Trainer`, one configuration
after another, and probes the model every `--probe-every` steps (between optimizer steps; the probe does
not touch the data order or the RNG, so the weights are those `interp train` produces):

- induction score of every head on `--probe-batch` sequences BOS + S training words + the same S words
  (S = min(32, (n_ctx - 1) // 2), words drawn without replacement from the word tokenizer's vocabulary:
  tokens the model has seen), the mean of A[i, i - S + 1] over the second half (interp.attention.scores);
- previous-token score of every head on val windows (real corpus text), the mean of A[q, q - 1], and on
  `--prompt` (BOS + the prompt, the text and tokenization `interp head-formation --prompt` scores; this is the
  score the preset's threshold is judged on);
- in-context-learning score (Olsson et al. 2022): mean val loss at the last quarter of context positions
  minus at positions 1..n_ctx/8 (negative = later tokens are predicted better thanks to the context).

Formation = the first probe at which the best layer-1 induction score is ≥ 0.4 and stays there at every later
probe (a run stops `--stay-probes` probes after that); the previous-token head (best layer-0 score ≥ 0.5,
staying) is reported beside it, and the onset (last probe with the induction score still < 0.1). Formation tokens are compared with
N ≈ 10^5.7 · sqrt(batch · context) tokens. Output: results JSON + a figure (formation tokens vs batch ×
context beside the relation, and every run's score curves).

    python benchmarks/induction_formation.py --configs 8x32,8x64,16x64 [--max-tokens 3000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from interp.attention import scores  # noqa: E402
from interp.attention.formation import emergence_index  # noqa: E402

THR_IND, THR_PREV = 0.4, 0.5
RELATION = "N ≈ 10^5.7 · sqrt(batch · context)"
PROMPT = "o my good lord the king is come to you and i will go with him now to see the queen"


def relation_tokens(bc: int) -> float:
    return 10 ** 5.7 * math.sqrt(bc)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@torch.no_grad()
def probe(model, ind_ids: torch.Tensor, S: int, val_windows: torch.Tensor,
          prompt_ids: torch.Tensor) -> dict[str, Any]:
    """Scores of the model now (eager attention for the patterns; switched back after)."""
    model.eval()
    model.set_attn_implementation("eager")
    att = model(ind_ids, output_attentions=True, use_cache=False).attentions  # n_layers × (B, H, T, T)
    ind = torch.stack([scores.induction_score(a, S, offset=1).mean(0) for a in att])  # (L, H)
    out = model(val_windows[:, :-1], output_attentions=True, use_cache=False)
    prev = torch.stack([scores.prev_token_score(a).mean(0) for a in out.attentions])  # (L, H)
    att_p = model(prompt_ids, output_attentions=True, use_cache=False).attentions  # n_layers × (1, H, T, T)
    prev_p = torch.stack([scores.prev_token_score(a).mean(0) for a in att_p])  # (L, H)
    loss = F.cross_entropy(out.logits.transpose(1, 2), val_windows[:, 1:], reduction="none").mean(0)  # (T,)
    T = loss.shape[0]
    icl = float(loss[3 * T // 4:].mean() - loss[1:max(2, T // 8)].mean())
    model.set_attn_implementation("sdpa")
    model.train()
    return {"induction": ind.tolist(), "prev_token": prev.tolist(), "prev_token_prompt": prev_p.tolist(), "icl": icl,
            "val_loss": float(loss.mean())}


def run_one(batch: int, n_ctx: int, args: argparse.Namespace) -> dict[str, Any]:
    from interp.presets import get_preset, preset_train_options
    from interp.tokens import encode_prompt
    from interp.train import TrainConfig, Trainer, prepare_data
    from interp.train.dist import Dist

    opts = preset_train_options("induction")
    model_cfg = get_preset("induction", n_ctx=n_ctx, d_model=args.d_model, n_heads=args.n_heads, d_mlp=args.d_mlp)
    max_steps = max(1, args.max_tokens // (batch * n_ctx))
    cfg = TrainConfig(model=model_cfg, preset="induction", corpus=args.corpus or opts["corpus"], tokenizer=opts["tokenizer"],
                      batch_size=batch, lr=args.lr or opts["lr"],
                      warmup_steps=opts["warmup_steps"] if args.warmup is None else args.warmup,
                      weight_decay=opts["weight_decay"] if args.wd is None else args.wd, min_lr_ratio=opts["min_lr_ratio"] if args.min_lr_ratio is None else args.min_lr_ratio,
                      max_epochs=1000, max_steps=max_steps, seed=args.seed)
    tok, _, ids = prepare_data(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, Path(tmp), tok, ids["train"], ids["val"], Dist())
        S = min(32, (n_ctx - 1) // 2)
        cand = scores.candidate_token_ids(tok, len(tok))
        ind_ids = scores.induction_tokens(cand, S, args.probe_batch, args.seed, tok.bos_token_id)
        prompt_ids = torch.tensor([list(encode_prompt(tok, args.prompt, n_ctx=n_ctx).ids)])  # (1, T) BOS + prompt
        val = torch.from_numpy(ids["val"].astype("int64"))
        nv = min(args.probe_batch * 4, (len(val) - 1) // (n_ctx + 1))
        val_windows = val[: nv * (n_ctx + 1)].reshape(nv, n_ctx + 1)
        rows, t0, c0 = [], time.perf_counter(), cpu_s()
        every = max(1, args.probe_every_tokens // (batch * n_ctx))
        while tr.state["step"] < tr.total_steps:
            rec = tr.train_step()
            s = tr.state["step"]
            if s % every == 0 or s == tr.total_steps:
                p = probe(tr.model, ind_ids, S, val_windows, prompt_ids)
                rows.append({"step": s, "tokens": tr.state["tokens_seen"], "train_loss": rec["train_loss"],
                             "best_induction_L1": max(p["induction"][1]), "best_prev_token_L0": max(p["prev_token"][0]),
                             "best_prev_token_L0_prompt": max(p["prev_token_prompt"][0]),
                             **p, "wall_s": time.perf_counter() - t0, "cpu_s": cpu_s() - c0})
                r = rows[-1]
                print(f"  B={batch} T={n_ctx} step {s} tok {r['tokens']:,} loss {r['train_loss']:.3f} "
                      f"val {r['val_loss']:.3f} ind {r['best_induction_L1']:.2f} prev {r['best_prev_token_L0']:.2f} "
                      f"prompt prev {r['best_prev_token_L0_prompt']:.2f} icl {r['icl']:+.2f} cpu {r['cpu_s']:.0f}s L0 prev {[round(v, 2) for v in p['prev_token'][0]]} "
                      f"L1 ind {[round(v, 2) for v in p['induction'][1]]}", file=sys.stderr, flush=True)
                i = emergence_index([x["best_induction_L1"] for x in rows], THR_IND)
                if i is not None and len(rows) - i >= args.stay_probes and tr.state["tokens_seen"] >= args.min_tokens:
                    break  # formed and stayed
        if args.save_model:
            tr.model.save_pretrained(f"{args.save_model}-{batch}x{n_ctx}")
            tok.save_pretrained(f"{args.save_model}-{batch}x{n_ctx}")
    return summarize({"batch": batch, "n_ctx": n_ctx, "lr": cfg.lr,
                      "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "model"}
                      | {"model": dataclasses.asdict(cfg.model)}, "probes": rows})


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """Formation fields of a run, from its probes (also re-applied to runs merged from earlier result files)."""
    rows, batch, n_ctx = run["probes"], run["batch"], run["n_ctx"]
    i = emergence_index([x["best_induction_L1"] for x in rows], THR_IND)
    j = emergence_index([x["best_prev_token_L0"] for x in rows], THR_PREV)
    jp = (emergence_index([x["best_prev_token_L0_prompt"] for x in rows], THR_PREV)
          if rows and "best_prev_token_L0_prompt" in rows[0] else None)
    return {**run, "batch_x_context": batch * n_ctx, "relation_tokens": relation_tokens(batch * n_ctx),
            "formed": i is not None, "formation_tokens": rows[i]["tokens"] if i is not None else None,
            "formation_step": rows[i]["step"] if i is not None else None,
            "formation_cpu_s": rows[i]["cpu_s"] if i is not None else None,
            "formation_wall_s": rows[i]["wall_s"] if i is not None else None,
            "onset_tokens": _onset(rows, i),
            "prev_token_formed": j is not None, "prev_token_formation_tokens": rows[j]["tokens"] if j is not None else None,
            "prev_token_prompt_formed": jp is not None,
            "prev_token_prompt_formation_tokens": rows[jp]["tokens"] if jp is not None else None,
            "final": {k: rows[-1][k] for k in ("best_induction_L1", "best_prev_token_L0", "best_prev_token_L0_prompt",
                                               "icl", "val_loss") if k in rows[-1]},
            "tokens_trained": rows[-1]["tokens"], "cpu_s": rows[-1]["cpu_s"], "wall_s": rows[-1]["wall_s"]}


def _onset(rows: list[dict[str, Any]], i: int | None) -> int | None:
    """Tokens at the last probe before formation at which the best L1 induction score was still < 0.1 (the
    start of the rise), or None."""
    if i is None:
        return None
    before = [r for r in rows[:i + 1] if r["best_induction_L1"] < 0.1]
    return before[-1]["tokens"] if before else None


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = res["runs"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    ax = axes[0]
    bcs = [r["batch_x_context"] for r in runs]
    grid = [min(bcs) * 0.8 * (1.25 ** k) for k in range(int(math.log(max(bcs) * 1.5 / (min(bcs) * 0.8), 1.25)) + 2)]
    ax.plot(grid, [relation_tokens(b) for b in grid], "k--", lw=1, label=RELATION)
    for r in runs:
        if r["formed"]:
            ax.plot(r["batch_x_context"], r["formation_tokens"], "o", color="tab:blue")
        else:
            ax.plot(r["batch_x_context"], r["tokens_trained"], "^", color="tab:red")
    ax.plot([], [], "o", color="tab:blue", label="formed (measured)")
    ax.plot([], [], "^", color="tab:red", label="not formed by (lower bound)")
    for r in runs:
        if r.get("onset_tokens"):
            ax.plot(r["batch_x_context"], r["onset_tokens"], "_", ms=14, color="tab:blue")
    ax.plot([], [], "_", ms=14, color="tab:blue", label="onset (last probe with score < 0.1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch × context (tokens per step)")
    ax.set_ylabel("tokens to formation")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    for r in runs:
        xs = [p["tokens"] for p in r["probes"]]
        (ln,) = ax.plot(xs, [p["best_induction_L1"] for p in r["probes"]], label=f"{r['batch']}×{r['n_ctx']} induction L1")
        ax.plot(xs, [p.get("best_prev_token_L0_prompt", p["best_prev_token_L0"]) for p in r["probes"]], ls=":",
                color=ln.get_color())
    ax.axhline(THR_IND, color="k", lw=0.8, ls="--")
    ax.axhline(THR_PREV, color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("tokens")
    ax.set_ylabel("best head score")
    ax.set_title("solid: induction (layer 1); dotted: previous-token (layer 0, prompt)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="8x32,8x64,16x64", help="BATCHxN_CTX, comma separated")
    ap.add_argument("--max-tokens", type=int, default=3_000_000)
    ap.add_argument("--probe-every-tokens", type=int, default=16_384)
    ap.add_argument("--probe-batch", type=int, default=8)
    ap.add_argument("--stay-probes", type=int, default=8, help="stop a run this many probes after formation")
    ap.add_argument("--min-tokens", type=int, default=0, help="train at least this many tokens")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default=None, help="override the preset's corpus (e.g. induction:100)")
    ap.add_argument("--d-model", type=int, default=None)
    ap.add_argument("--n-heads", type=int, default=None)
    ap.add_argument("--merge", nargs="*", default=[], help="results JSON files of earlier runs to include")
    ap.add_argument("--save-model", default=None, help="save each run's final model to SAVE_MODEL-BxT/")
    ap.add_argument("--wd", type=float, default=None)
    ap.add_argument("--d-mlp", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None, help="warmup steps (preset: 100)")
    ap.add_argument("--min-lr-ratio", type=float, default=None, help="cosine floor (preset: 0.1)")
    ap.add_argument("--prompt", default=PROMPT, help="text of the previous-token score judged on (docs/induction.md)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "induction_formation.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    runs = []
    for f in args.merge:  # runs measured earlier by this script (same recipe), re-summarised
        runs += [summarize({k: v for k, v in r.items() if k in ("batch", "n_ctx", "lr", "config", "probes")}
                           | {"merged_from": f}) for r in json.loads(Path(f).read_text())["runs"]]
    for spec in filter(None, args.configs.split(",")):
        b, t = (int(v) for v in spec.lower().split("x"))
        runs.append(run_one(b, t, args))
    runs.sort(key=lambda r: r["batch"] * r["n_ctx"])
    res = {"schema_version": 1, "kind": "induction_formation_benchmark", "relation": RELATION,
           "thresholds": {"induction_L1": THR_IND, "prev_token_L0": THR_PREV},
           "formation_rule": "first probe from which the best layer-1 induction score stays >= 0.4",
           "induction_sampling": "BOS + S words drawn without replacement from the word tokenizer's vocabulary "
                                 "(the train split's words), repeated twice",
           "prev_token_sampling": "val-split windows of the induction corpus",
           "threads": torch.get_num_threads(), "args": vars(args), "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    plot(res, out.with_suffix(".png"))
    for r in runs:
        print(f"{r['batch']}x{r['n_ctx']}: formed={r['formed']} at {r['formation_tokens']} tokens (onset "
              f"{r['onset_tokens']}; relation {r['relation_tokens']:.3g}); cpu {r['formation_cpu_s']} s; "
              f"prev-token formed={r['prev_token_formed']} (prompt: {r.get('prev_token_prompt_formed')} at "
              f"{r.get('prev_token_prompt_formation_tokens')}); final {r['final']}; trained {r['tokens_trained']:,}")


if __name__ == "__main__":
    main()
