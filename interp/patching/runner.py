"""The patching run behind `interp.patching.api.patch`: groups of pairs → baselines, exact effects, estimates,
verification, comparison → a `PatchResult`. Pure: no printing, no files."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from interp.errors import UserError
from interp.patching.core import Runs, baselines, generic_patch, logit_scale, n_slots
from interp.patching.metrics import MetricSpec, RowTargets, pearson, spearman, topk_recall
from interp.patching.schema import (
    MAX_PER_PAIR,
    Comparison,
    ComponentGrids,
    MethodGrid,
    PairRow,
    PatchResult,
    TopRow,
    VerifyRow,
    gap_check,
)

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


@dataclass
class Measured:
    """Per-pair measurements gathered over the length groups (n = pairs, (L, S) = layers × slots)."""

    clean: np.ndarray  # (n,) metric of the clean run
    corrupt: np.ndarray  # (n,)
    scale: np.ndarray  # (n,) logit scale of the clean run (std over the vocabulary of the final logits)
    exact: dict[str, np.ndarray]  # kind -> (L, S, n) patched metric ({} without the exact method)
    est: dict[str, dict[str, np.ndarray]]  # method -> kind -> (L, S, n) estimated patched metric
    score: dict[str, dict[str, np.ndarray]]  # method -> kind -> (L, S) pair-weighted estimate score
    runs_by_group: list[tuple[list[int], Runs]] = field(default_factory=list)


def _runs(enc, idx: list[int], spec: MetricSpec, denoise: bool) -> Runs:
    clean = torch.tensor([enc[i].clean for i in idx])  # (B, T)
    corrupt = torch.tensor([enc[i].corrupt for i in idx])
    ans = torch.tensor([enc[i].answer for i in idx]) if spec.n_words >= 1 else None
    wrong = torch.tensor([enc[i].wrong for i in idx]) if spec.n_words >= 2 else None
    tg = RowTargets(ans, wrong, clean)
    return Runs(corrupt, clean, tg) if denoise else Runs(clean, corrupt, tg)


def measure(bridge, enc, groups, spec: MetricSpec, config, shapes: dict[str, tuple[int, int]], fwd_hooks,
            progress: bool) -> Measured:
    """Baselines, exact effects and estimates for every group of equal-length pairs."""
    from interp.patching.atp import attribution
    from interp.progress import progress_bar

    n_pairs, kinds = len(enc), config.components
    est_methods = [m for m in config.methods if m != "exact"]
    denoise = config.direction == "denoise"
    m = Measured(clean=np.zeros(n_pairs), corrupt=np.zeros(n_pairs), scale=np.zeros(n_pairs),
                 exact={k: np.zeros((*shapes[k], n_pairs)) for k in kinds} if "exact" in config.methods else {},
                 est={e: {k: np.zeros((*shapes[k], n_pairs)) for k in kinds} for e in est_methods},
                 score={e: {k: np.zeros(shapes[k]) for k in kinds} for e in est_methods})
    n_exact = sum(shapes[k][0] * shapes[k][1] for k in kinds) * len(groups) if m.exact else 0
    bar = progress_bar(total=n_exact + len(est_methods) * len(groups), desc="patching", file=sys.stderr,
                       disable=not progress, leave=False)
    for idx in groups:
        runs = _runs(enc, idx, spec, denoise)
        m.runs_by_group.append((idx, runs))
        vb, vs = baselines(bridge, runs, spec.kind, fwd_hooks)
        cl, co = (vs, vb) if denoise else (vb, vs)
        m.clean[idx], m.corrupt[idx] = cl.double().numpy(), co.double().numpy()
        m.scale[idx] = logit_scale(bridge, runs.source if denoise else runs.base, fwd_hooks).double().numpy()
        for k in m.exact:
            m.exact[k][..., idx] = generic_patch(bridge, runs, k, spec.kind, fwd_hooks=fwd_hooks,
                                                 progress=bar.update).double().numpy()
        for e in est_methods:
            res = attribution(bridge, runs, kinds, spec.kind, star=(e == "atp*"), fwd_hooks=fwd_hooks)
            for k in kinds:
                m.est[e][k][..., idx] = res[k]["estimate"].double().numpy() + vb.double().numpy()
                m.score[e][k] += res[k]["score"].double().numpy() * len(idx) / n_pairs
            bar.update(1)
    bar.close()
    return m


def _components(m: Measured, config, shapes, tokens0: list[str], c_mean: float, r_mean: float,
                keep_pairs: bool) -> dict[str, ComponentGrids]:
    out = {}
    for k in config.components:
        grids: dict[str, MethodGrid] = {}
        if m.exact:
            mean = m.exact[k].mean(-1)
            grids["exact"] = MethodGrid(mean, _frac(mean, c_mean, r_mean),
                                        per_pair=m.exact[k] if keep_pairs else None)
        for e, by_kind in m.est.items():
            mean = by_kind[k].mean(-1)
            grids[e] = MethodGrid(mean, _frac(mean, c_mean, r_mean), score=m.score[e][k])
        labels = tuple(slot_label(k, 0, s, tokens0).split(" ", 1)[-1] if k == "resid" else s
                       for s in range(shapes[k][1]))
        out[k] = ComponentGrids(shapes[k][0], shapes[k][1], labels, grids)
    return out


def _top(comps: dict[str, ComponentGrids], config, tokens0: list[str]) -> dict[str, list[TopRow]]:
    """Per method: the `top_k` components by |fraction − base| (exact) or by estimate score."""
    base = 0.0 if config.direction == "denoise" else 1.0
    top = {}
    for method in config.methods:
        rows = []
        for k, c in comps.items():
            g = c.methods[method]
            key = np.abs(g.fraction - base) if method == "exact" else g.score
            rows += [(float(key[layer, s]), k, layer, s, float(g.fraction[layer, s]))
                     for layer in range(c.n_layers) for s in range(c.n_slots)]
        rows.sort(key=lambda r: (-r[0], r[1], r[2], r[3]))
        top[method] = [TopRow(slot_label(k, layer, s, tokens0), k, layer, s, f, sc)
                       for sc, k, layer, s, f in rows[:config.top_k]]
    return top


def _verify(bridge, m: Measured, config, spec: MetricSpec, fwd_hooks, tokens0: list[str], c_mean: float,
            r_mean: float) -> dict[str, list[VerifyRow]]:
    """Re-measure exactly the `verify_top` components with the largest estimate score, per estimate method."""
    out = {}
    for e in m.est if config.verify_top else ():
        eligible = {k: g for k, g in m.score[e].items() if not config.verify_kinds or k in config.verify_kinds}
        chosen = _top_by_score(eligible, config.verify_top)
        exact = _exact_subset(bridge, m.runs_by_group, chosen, spec.kind, fwd_hooks, len(m.clean))
        out[e] = [VerifyRow(slot_label(k, layer, s, tokens0), k, layer, s,
                            float(_frac(m.est[e][k][layer, s].mean(), c_mean, r_mean)),
                            float(_frac(exact[(k, layer, s)].mean(), c_mean, r_mean)),
                            exact_per_pair=exact[(k, layer, s)])  # patched metric per pair (bootstrap)
                  for k, layer, s in chosen]
    return out


def _comparison(comps: dict[str, ComponentGrids], config) -> dict[str, dict[str, Comparison]]:
    """Estimates vs exact over all components of each kind (only with exact and an estimate method)."""
    est_methods = [e for e in config.methods if e != "exact"]
    if "exact" not in config.methods or not est_methods:
        return {}
    base = 0.0 if config.direction == "denoise" else 1.0
    out = {}
    for k, c in comps.items():
        ex = c.methods["exact"].fraction.ravel()
        out[k] = {e: Comparison(spearman(c.methods[e].fraction.ravel(), ex), pearson(c.methods[e].fraction.ravel(), ex),
                                spearman(c.methods[e].score.ravel(), np.abs(ex - base)),
                                topk_recall(ex - base, c.methods[e].score.ravel()))
                  for e in est_methods}
    return out


def run(bridge, name: str, pairs, enc, groups, spec: MetricSpec, config, fwd_hooks, progress: bool) -> PatchResult:
    """Measure (baselines, exact, estimates), then tabulate grids, tops, verification and comparison."""
    n_pairs = len(enc)
    n_layers, n_heads = int(bridge.cfg.n_layers), int(bridge.cfg.n_heads)
    t0 = len(enc[groups[0][0]].clean)
    shapes = {k: (n_layers, n_slots(bridge, k, t0)) for k in config.components}
    m = measure(bridge, enc, groups, spec, config, shapes, fwd_hooks, progress)
    c_mean, r_mean = float(m.clean.mean()), float(m.corrupt.mean())
    gap = c_mean - r_mean
    if not math.isfinite(gap) or abs(gap) < 1e-12:
        raise UserError(f"the clean and corrupt runs give the same {spec} (gap {gap:.3g}), so 'fraction restored' "
                        "is undefined; choose a corrupt prompt that changes the answer")
    scale = float(m.scale.mean())
    meaningful, note = gap_check(gap, scale, c_mean, r_mean)
    tokens0 = [bridge.tokenizer.decode([i]) for i in enc[groups[0][0]].clean]
    keep_pairs = sum(int(np.prod(s)) for s in shapes.values()) * n_pairs <= MAX_PER_PAIR
    comps = _components(m, config, shapes, tokens0, c_mean, r_mean, keep_pairs)
    pair_rows = tuple(PairRow(p.clean, p.corrupt, e.answer, e.wrong, len(e.clean), float(m.clean[i]),
                              float(m.corrupt[i])) for i, (p, e) in enumerate(zip(pairs, enc, strict=True)))
    return PatchResult(
        model=name, metric=str(spec), direction=config.direction, methods=config.methods, seed=config.seed,
        n_layers=n_layers, n_heads=n_heads, n_pairs=n_pairs, pairs=tuple(r.to_dict() for r in pair_rows),
        clean_metric=c_mean, corrupt_metric=r_mean, gap=gap, logit_scale=scale, gap_meaningful=meaningful,
        gap_note=note,
        components={k: c.to_dict() for k, c in comps.items()},
        top={meth: [r.to_dict() for r in rows] for meth, rows in _top(comps, config, tokens0).items()},
        verify={meth: [r.to_dict() for r in rows]
                for meth, rows in _verify(bridge, m, config, spec, fwd_hooks, tokens0, c_mean, r_mean).items()},
        comparison={k: {e: c.to_dict() for e, c in by.items()} for k, by in _comparison(comps, config).items()},
        cost={meth: PASSES[meth] for meth in config.methods},
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
