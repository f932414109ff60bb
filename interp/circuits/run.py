"""The body of `circuit()`: batches of equal-length pairs, scores per method, the faithfulness curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from interp.circuits.config import (
    TARGET,
    TOP_RECALL,
    CircuitConfig,
    CircuitResult,
    curve_sizes,
    faithfulness,
    parse_method,
)
from interp.circuits.graph import Graph, check_supported
from interp.circuits.methods import Batch, circuit_metrics, exact_scores, ig_scores, random_mask, top_mask
from interp.errors import UserError
from interp.patching.metrics import RowTargets, spearman


def batches(bridge: Any, graph: Graph, enc: Sequence[Any], spec: Any) -> list[tuple[list[int], Batch]]:
    """One Batch per token length (pairs in file order inside each)."""
    by_len: dict[int, list[int]] = {}
    for i, e in enumerate(enc):
        by_len.setdefault(len(e.clean), []).append(i)
    out = []
    for t in sorted(by_len):
        idx = by_len[t]
        clean = torch.tensor([enc[i].clean for i in idx])
        corrupt = torch.tensor([enc[i].corrupt for i in idx])
        tg = RowTargets(torch.tensor([enc[i].answer for i in idx]) if spec.n_words >= 1 else None,
                        torch.tensor([enc[i].wrong for i in idx]) if spec.n_words >= 2 else None, clean)
        out.append((idx, Batch(bridge, graph, clean, corrupt, tg, spec.kind)))
    return out


def scores(groups: list[tuple[list[int], Batch]], method: str, rows: int = 64) -> np.ndarray:
    """Score per edge (n_edges,), mean over every pair."""
    name, steps = parse_method(method)
    n = sum(len(i) for i, _ in groups)
    total = None
    for idx, b in groups:
        s = exact_scores(b, rows=rows).mean(1) if name == "exact" else ig_scores(b, steps, rows=rows)
        s = s.double().numpy() * len(idx)
        total = s if total is None else total + s
    assert total is not None
    return total / n


def per_pair(groups: list[tuple[list[int], Batch]], keep: torch.Tensor, rows: int = 64) -> np.ndarray:
    """m per circuit and pair (K, n_pairs) in pair order."""
    n = sum(len(i) for i, _ in groups)
    out = np.zeros((keep.shape[0], n))
    for idx, b in groups:
        out[:, idx] = circuit_metrics(b, keep, rows=rows).double().numpy()
    return out


def recall_top(exact: np.ndarray, est: np.ndarray, k: int = TOP_RECALL) -> float:
    k = min(k, exact.size)
    t = set(sorted(range(exact.size), key=lambda i: (-abs(exact[i]), i))[:k])
    e = set(sorted(range(est.size), key=lambda i: (-abs(est[i]), i))[:k])
    return len(t & e) / k if k else float("nan")


def curve(groups, s: np.ndarray, sizes: list[int], n_boot: int, seed: int, rows: int = 64) -> dict[str, list]:
    """Faithfulness of top-k circuits and of random circuits of the same sizes, with bootstrap intervals."""
    n_edges = s.size
    gen = torch.Generator().manual_seed(seed)
    base = per_pair(groups, torch.stack([torch.ones(n_edges, dtype=torch.bool), torch.zeros(n_edges, dtype=torch.bool)]),
                    rows)
    m_clean, m_corr = base[0], base[1]
    top = per_pair(groups, top_mask(s.tolist(), sizes), rows)
    rnd = per_pair(groups, random_mask(n_edges, sizes, gen), rows)
    out: dict[str, list] = {k: [] for k in ("faithfulness", "lo", "hi", "random", "random_lo", "random_hi")}
    rng = np.random.default_rng(seed)
    for j in range(len(sizes)):
        f, lo, hi = faithfulness(top[j], m_clean, m_corr, n_boot, rng)
        r, rlo, rhi = faithfulness(rnd[j], m_clean, m_corr, n_boot, rng)
        for k, v in zip(out, (f, lo, hi, r, rlo, rhi), strict=True):
            out[k].append(v)
    out["sizes"] = list(sizes)
    out["clean"] = m_clean.tolist()
    out["corrupt"] = m_corr.tolist()
    return out


def run(bridge: Any, name: str, graph: Graph, enc: Sequence[Any], spec: Any, config: CircuitConfig,
        top_k: int = 20, rows: int = 64) -> CircuitResult:
    torch.manual_seed(config.seed)
    groups = batches(bridge, graph, enc, spec)
    check_supported(bridge, groups[0][1].clean_cache, graph)
    methods = list(dict.fromkeys([config.method, *config.compare]))
    sc = {m: scores(groups, m, rows) for m in methods}
    s = sc[config.method]
    comparison = {}
    exact = next((m for m in methods if m == "exact"), None)
    if exact:
        for m in methods:
            if m != exact:
                comparison[m] = {"spearman": spearman(sc[exact], sc[m]), f"recall_top{TOP_RECALL}":
                                 recall_top(sc[exact], sc[m])}
    edges = graph.edge_names()
    if config.threshold is not None:
        chosen = int((np.abs(s) >= config.threshold).sum())
    else:
        chosen = config.size
    sizes = curve_sizes(graph.n_edges, config.curve_points, [chosen] if chosen is not None else [])
    cv = curve(groups, s, sizes, config.n_boot, config.seed, rows)
    gap = float(np.mean(cv["clean"]) - np.mean(cv["corrupt"]))
    if not np.isfinite(gap) or abs(gap) < 1e-9:
        raise UserError(f"the clean and corrupt runs give the same {spec} (gap {gap:.3g}): faithfulness is undefined; "
                        "choose corrupt prompts that change the answer")
    reach = next((k for k, f in zip(sizes, cv["faithfulness"], strict=True) if f is not None and f >= TARGET), None)
    named = chosen if chosen is not None else reach
    circ: dict[str, Any] = {"size": named, "rule": ("threshold" if config.threshold is not None else "size"
                                                     if config.size is not None else f"smallest reaching {TARGET}"),
                            "smallest_reaching_target": reach, "target": TARGET}
    if named is not None:
        j = sizes.index(named)
        circ.update({k: cv[k][j] for k in ("faithfulness", "lo", "hi", "random", "random_lo", "random_hi")})
        order = sorted(range(s.size), key=lambda i: (-abs(s[i]), i))[:named]
        circ["edges"] = [edges[i] for i in order]
    order = sorted(range(s.size), key=lambda i: (-abs(s[i]), i))[:top_k]
    return CircuitResult(
        model=name, config={"metric": config.metric, "method": config.method, "compare": list(config.compare),
                            "size": config.size, "threshold": config.threshold, "curve_points": config.curve_points,
                            "n_boot": config.n_boot}, seed=config.seed, metric=str(spec), method=config.method,
        n_layers=graph.n_layers, n_heads=graph.n_heads, n_kv_heads=graph.n_kv, n_pairs=len(enc),
        n_edges=graph.n_edges, clean_metric=float(np.mean(cv["clean"])), corrupt_metric=float(np.mean(cv["corrupt"])),
        gap=gap, edges=tuple(edges), scores={m: v.tolist() for m, v in sc.items()}, comparison=comparison,
        curve=cv, circuit=circ, top=tuple({"edge": edges[i], "score": float(s[i])} for i in order))
