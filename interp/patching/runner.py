"""The patching run behind `interp.patching.api.patch`: groups of pairs → baselines, exact effects, estimates,
verification, comparison → a `PatchResult`. Pure: no printing, no files."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import torch

from interp.errors import UserError
from interp.patching.core import Runs, baselines, generic_patch, logit_scale, n_slots
from interp.patching.metrics import MetricSpec, RowTargets, pearson, spearman, topk_recall

PASSES = {  # forward-equivalent cost per pair group (n = n_layers, H = components per layer); module docs
    "exact": "Σ_L H·(n − L) block passes on the expanded batch + H·n last-row unembeddings "
             "(loop: n·H full forwards)",
    "atp": "1 source forward + 1 base forward with grad + 1 backward ≈ 4 forwards",
    "atp*": "AtP + n partial backwards (GradDrop) + n one-block passes for q/k (QK fix) ≈ 4 + n forwards",
}


def n_components(bridge, kind: str, seq_len: int) -> int:
    return int(bridge.cfg.n_layers) * n_slots(bridge, kind, seq_len)


def slot_label(kind: str, layer: int, slot: int, tokens: list[str] | None = None) -> str:
    if kind in ("heads", "q", "k"):
        return f"{layer}.{slot}" + ("" if kind == "heads" else f" {kind}")
    if kind == "resid":
        tok = f" {tokens[slot]!r}" if tokens and slot < len(tokens) else ""
        return f"{layer}@{slot}{tok}"
    return f"{layer} {kind}"


def _frac(v: np.ndarray | float, clean: float, corrupt: float):
    gap = clean - corrupt
    return (np.asarray(v) - corrupt) / gap


def _nan_to_none(a: np.ndarray) -> list:
    return [[None if not math.isfinite(float(x)) else float(x) for x in row] for row in np.asarray(a)]


def run(bridge, name: str, pairs, enc, groups, spec: MetricSpec, config, fwd_hooks, progress: bool):
    from interp.patching.api import PatchResult, gap_check
    from interp.patching.atp import attribution
    from interp.progress import progress_bar

    n_pairs = len(enc)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    kinds = config.components
    est_methods = [m for m in config.methods if m != "exact"]
    t0 = len(enc[groups[0][0]].clean)
    shapes = {k: (n_layers, n_slots(bridge, k, t0)) for k in kinds}
    clean_v, corrupt_v, scale_v = np.zeros(n_pairs), np.zeros(n_pairs), np.zeros(n_pairs)
    exact = {k: np.zeros((*shapes[k], n_pairs)) for k in kinds} if "exact" in config.methods else {}
    est = {m: {k: np.zeros((*shapes[k], n_pairs)) for k in kinds} for m in est_methods}
    score = {m: {k: np.zeros(shapes[k]) for k in kinds} for m in est_methods}
    denoise = config.direction == "denoise"
    runs_by_group = []
    n_exact = sum(n_layers * shapes[k][1] for k in kinds) * len(groups) if exact else 0
    bar = progress_bar(total=n_exact + len(est_methods) * len(groups), desc="patching", file=sys.stderr,
               disable=not progress, leave=False)
    for idx in groups:
        clean = torch.tensor([enc[i].clean for i in idx])  # (B, T)
        corrupt = torch.tensor([enc[i].corrupt for i in idx])
        ans = torch.tensor([enc[i].answer for i in idx]) if spec.n_words >= 1 else None
        wrong = torch.tensor([enc[i].wrong for i in idx]) if spec.n_words >= 2 else None
        tg = RowTargets(ans, wrong, clean)
        runs = Runs(corrupt, clean, tg) if denoise else Runs(clean, corrupt, tg)
        runs_by_group.append((idx, runs))
        vb, vs = baselines(bridge, runs, spec.kind, fwd_hooks)
        cl, co = (vs, vb) if denoise else (vb, vs)
        clean_v[idx], corrupt_v[idx] = cl.double().numpy(), co.double().numpy()
        scale_v[idx] = logit_scale(bridge, clean, fwd_hooks).double().numpy()
        for k in exact:
            exact[k][..., idx] = generic_patch(bridge, runs, k, spec.kind, fwd_hooks=fwd_hooks,
                                               progress=bar.update).double().numpy()
        for m in est_methods:
            res = attribution(bridge, runs, kinds, spec.kind, star=(m == "atp*"), fwd_hooks=fwd_hooks)
            for k in kinds:
                est[m][k][..., idx] = (res[k]["estimate"].double().numpy() + vb.double().numpy())
                score[m][k] += res[k]["score"].double().numpy() * len(idx) / n_pairs
            bar.update(1)
    bar.close()
    c_mean, r_mean = float(clean_v.mean()), float(corrupt_v.mean())
    gap = c_mean - r_mean
    if not math.isfinite(gap) or abs(gap) < 1e-12:
        raise UserError(f"the clean and corrupt runs give the same {spec} (gap {gap:.3g}), so 'fraction restored' "
                        "is undefined; choose a corrupt prompt that changes the answer")
    scale = float(scale_v.mean())
    meaningful, note = gap_check(gap, scale, c_mean, r_mean)
    tokens0 = [bridge.tokenizer.decode([i]) for i in enc[groups[0][0]].clean]
    keep_pairs = sum(int(np.prod(s)) for s in shapes.values()) * n_pairs <= 200_000
    comps: dict[str, Any] = {}
    top: dict[str, list] = {}
    for k in kinds:
        c: dict[str, Any] = {"n_layers": n_layers, "n_slots": shapes[k][1],
                             "slot_labels": [slot_label(k, 0, s, tokens0).split(" ", 1)[-1] if k == "resid" else s
                                             for s in range(shapes[k][1])]}
        if exact:
            mean = exact[k].mean(-1)
            c["exact"] = {"metric": mean, "fraction": _frac(mean, c_mean, r_mean)}
            if keep_pairs:
                c["exact"]["per_pair"] = exact[k]
        for m in est_methods:
            mean = est[m][k].mean(-1)
            c[m] = {"metric": mean, "fraction": _frac(mean, c_mean, r_mean), "score": score[m][k]}
        comps[k] = c
    for m in config.methods:
        rows = []
        for k in kinds:
            grid = comps[k][m]["fraction"]
            key = np.abs(grid - (0.0 if denoise else 1.0)) if m == "exact" else comps[k][m]["score"]
            for layer in range(n_layers):
                for s in range(shapes[k][1]):
                    rows.append((float(key[layer, s]), k, layer, s, float(grid[layer, s])))
        rows.sort(key=lambda r: (-r[0], r[1], r[2], r[3]))
        top[m] = [{"component": slot_label(k, layer, s, tokens0), "kind": k, "layer": layer, "slot": s,
                   "fraction": f, "score": sc} for sc, k, layer, s, f in rows[:config.top_k]]
    verify = {}
    if config.verify_top:
        for m in est_methods:
            eligible = {k: g for k, g in score[m].items() if not config.verify_kinds or k in config.verify_kinds}
            chosen = _top_by_score(eligible, config.verify_top)
            measured = _exact_subset(bridge, runs_by_group, chosen, spec.kind, fwd_hooks, n_pairs)
            verify[m] = [{"component": slot_label(k, layer, s, tokens0), "kind": k, "layer": layer, "slot": s,
                          "estimate": float(_frac(est[m][k][layer, s].mean(), c_mean, r_mean)),
                          "exact": float(_frac(measured[(k, layer, s)].mean(), c_mean, r_mean)),
                          "exact_per_pair": measured[(k, layer, s)]}  # patched metric per pair (bootstrap)
                         for k, layer, s in chosen]
    comparison = {}
    if exact and est_methods:
        for k in kinds:
            ex = comps[k]["exact"]["fraction"].ravel()
            comparison[k] = {m: {"spearman": spearman(comps[k][m]["fraction"].ravel(), ex),
                                 "pearson": pearson(comps[k][m]["fraction"].ravel(), ex),
                                 "spearman_abs_score": spearman(comps[k][m]["score"].ravel(),
                                                                np.abs(ex - (0.0 if denoise else 1.0))),
                                 "recall_top5_in_top10": topk_recall(ex - (0.0 if denoise else 1.0),
                                                                     comps[k][m]["score"].ravel())}
                             for m in est_methods}
    for k in comps:
        for m in list(comps[k]):
            if isinstance(comps[k][m], dict):
                comps[k][m] = {f: (_nan_to_none(v) if isinstance(v, np.ndarray) and v.ndim == 2 else v)
                               for f, v in comps[k][m].items()}
    pair_rows = tuple({"clean": p.clean, "corrupt": p.corrupt, "answer_id": e.answer, "wrong_id": e.wrong,
                       "n_tokens": len(e.clean), "clean_metric": float(clean_v[i]),
                       "corrupt_metric": float(corrupt_v[i])} for i, (p, e) in enumerate(zip(pairs, enc, strict=True)))
    return PatchResult(
        model=name, metric=str(spec), direction=config.direction, methods=config.methods, seed=config.seed,
        n_layers=n_layers, n_heads=n_heads, n_pairs=n_pairs, pairs=pair_rows, clean_metric=c_mean,
        corrupt_metric=r_mean, gap=gap, logit_scale=scale, gap_meaningful=meaningful, gap_note=note, components=comps, top=top, verify=verify, comparison=comparison,
        cost={m: PASSES[m] for m in config.methods},
    )


def _top_by_score(scores: dict[str, np.ndarray], k: int) -> list[tuple[str, int, int]]:
    rows = [(float(g[layer, s]), kind, layer, s) for kind, g in scores.items()
            for layer in range(g.shape[0]) for s in range(g.shape[1])]
    rows.sort(key=lambda r: (-r[0], r[1], r[2], r[3]))
    return [(kind, layer, s) for _, kind, layer, s in rows[:k]]


def _exact_subset(bridge, runs_by_group, chosen, metric: str, fwd_hooks, n_pairs: int) -> dict:
    out = {c: np.zeros(n_pairs) for c in chosen}
    for kind in {c[0] for c in chosen}:
        by_layer: dict[int, list[int]] = {}
        for k, layer, s in chosen:
            if k == kind:
                by_layer.setdefault(layer, []).append(s)
        for idx, runs in runs_by_group:
            v = generic_patch(bridge, runs, kind, metric, fwd_hooks=fwd_hooks, slots_by_layer=by_layer)
            for layer, slots in by_layer.items():
                for s in slots:
                    out[(kind, layer, s)][idx] = v[layer, s].double().numpy()
    return out
