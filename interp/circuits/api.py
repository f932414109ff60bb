"""`circuit(model, pairs=..., metric=..., method=...)`: edge attribution over the residual graph, circuits and
their faithfulness (graph and methods: interp.circuits.graph / .methods).

Score of an edge = the effect of patching it alone to its corrupt-run value on the clean run, m(clean, e
patched) − m(clean), mean over pairs; `exact` measures it, `eap` / `eap-ig:N` estimate it. A circuit is the
top-k edges by |score| (`size`) or every edge with |score| >= `threshold`; its FAITHFULNESS is

    F(C) = (m(C) − m(corrupt)) / (m(clean) − m(corrupt))      (means over pairs)

where m(C) runs the clean input with every edge OUTSIDE C patched to its corrupt value (F(all) = 1,
F(empty) = 0). The curve F(top-k) over k has 95% bootstrap intervals over pairs (percentile, `n_boot`
resamples) and, as the baseline, random circuits of the same sizes. The named circuit is the given
size/threshold, else the smallest on the curve whose F reaches 0.8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.results import FrozenResult

METHODS = ("exact", "eap", "eap-ig")
TARGET = 0.8
TOP_RECALL = 20


def parse_method(text: str) -> tuple[str, int]:
    """'exact' | 'eap' | 'eap-ig' | 'eap-ig:STEPS' → (name, steps) (steps 1 for eap, 0 for exact)."""
    raw = str(text).strip().lower()
    name, _, steps = raw.partition(":")
    if name not in METHODS:
        raise UserError(f"unknown method {text!r}; use exact, eap or eap-ig[:STEPS]")
    if name != "eap-ig":
        if steps:
            raise UserError(f"method {name} takes no steps, got {text!r}")
        return name, (1 if name == "eap" else 0)
    if not steps:
        return name, 10
    try:
        n = int(steps)
    except ValueError:
        raise UserError(f"eap-ig steps must be an integer, got {steps!r} in {text!r}") from None
    if n < 1 or n > 1000:
        raise UserError(f"eap-ig needs 1..1000 steps, got {n} in {text!r}")
    return name, n


@dataclass(frozen=True)
class CircuitConfig:
    metric: str = "logit-diff"
    method: str = "eap-ig:10"
    compare: tuple[str, ...] = ()
    size: int | None = None
    threshold: float | None = None
    curve_points: int = 16
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        spec = MetricSpec.parse(self.metric)
        if spec.kind == "loss":
            raise UserError("edge attribution needs a last-position metric: logit-diff or logprob")
        for m in (self.method, *self.compare):
            parse_method(m)
        if self.size is not None and self.threshold is not None:
            raise UserError("give --size or --threshold, not both")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 0):
            raise UserError(f"--size must be a non-negative integer, got {self.size!r}")
        if self.threshold is not None and not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise UserError(f"--threshold must be a finite number >= 0, got {self.threshold!r}")
        if not 2 <= self.curve_points <= 200:
            raise UserError(f"curve_points must be 2..200, got {self.curve_points}")
        if not 0 <= self.n_boot <= 100_000:
            raise UserError(f"n_boot must be 0..100000, got {self.n_boot}")


@dataclass(frozen=True)
class CircuitResult(FrozenResult):
    kind: str = "circuit"
    model: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    metric: str = ""
    method: str = ""
    n_layers: int = 0
    n_heads: int = 0
    n_kv_heads: int = 0
    n_pairs: int = 0
    n_edges: int = 0
    clean_metric: float = 0.0
    corrupt_metric: float = 0.0
    gap: float = 0.0
    edges: tuple[str, ...] = ()
    scores: dict = field(default_factory=dict)  # method → score per edge (order of `edges`)
    comparison: dict = field(default_factory=dict)  # method → {spearman, recall_top20} vs exact
    curve: dict = field(default_factory=dict)  # sizes, faithfulness, lo, hi, random, random_lo, random_hi
    circuit: dict = field(default_factory=dict)  # the named circuit: size, faithfulness, lo, hi, random..., edges
    top: tuple[dict, ...] = ()  # the top edges by |score|: {edge, score}


def curve_sizes(n_edges: int, points: int, extra: Sequence[int] = ()) -> list[int]:
    """0, n_edges and a geometric grid between (unique, sorted)."""
    grid = {0, n_edges, *extra}
    for i in range(points):
        grid.add(int(round(n_edges ** (i / max(1, points - 1)))))
    return sorted(x for x in grid if 0 <= x <= n_edges)


def faithfulness(m_c, m_clean, m_corr, n_boot: int, rng) -> tuple[float, float | None, float | None]:
    """F and its 95% percentile bootstrap interval over pairs (None when n_boot = 0 or one pair)."""
    import numpy as np

    def f(idx):
        gap = m_clean[idx].mean() - m_corr[idx].mean()
        return (m_c[idx].mean() - m_corr[idx].mean()) / gap if gap != 0 else float("nan")

    n = len(m_c)
    point = float(f(np.arange(n)))
    if n_boot == 0 or n < 2:
        return point, None, None
    boots = np.array([f(rng.integers(0, n, n)) for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return point, None, None
    return point, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def circuit(model: Any, *, clean: str | None = None, corrupt: str | None = None,
            pairs: Sequence[Any] | str | Path | None = None, metric: str = "logit-diff", method: str = "eap-ig:10",
            compare: Sequence[str] = (), size: int | None = None, threshold: float | None = None,
            curve_points: int = 16, n_boot: int = 1000, top_k: int = 20, seed: int = 0, device: str = "cpu",
            rows: int = 64) -> CircuitResult:
    """Edge attribution (exact | eap | eap-ig[:STEPS]) of clean/corrupt pairs, a circuit and its faithfulness.

    model: a reference or loaded TransformerBridge; pairs: list of `interp.patching.Pair` or a JSONL path;
    compare: further methods scored on the same pairs (with `exact` among method/compare: Spearman and top-20
    recall of each estimate vs exact)."""
    from interp.circuits import run as runner
    from interp.patching.api import Pair, encode_pairs, load_pairs, model_and_name

    config = CircuitConfig(metric=metric, method=method, compare=tuple(compare), size=size, threshold=threshold,
                           curve_points=curve_points, n_boot=n_boot, seed=seed)
    spec = MetricSpec.parse(metric)
    if pairs is None:
        if clean is None or corrupt is None:
            raise UserError("give --clean and --corrupt prompts, or --pairs FILE.jsonl")
        pair_list = [Pair(clean, corrupt, where="the pair")]
    else:
        if clean is not None or corrupt is not None:
            raise UserError("give either --clean/--corrupt or --pairs, not both")
        pair_list = load_pairs(pairs) if isinstance(pairs, (str, Path)) else list(pairs)
        if not pair_list:
            raise UserError("no pairs given")
    name, bridge = model_and_name(model, device)
    from interp.circuits.graph import Graph

    graph = Graph.of(bridge)
    if size is not None and size > graph.n_edges:
        raise UserError(f"--size {size} is larger than the graph's {graph.n_edges} edges; pass at most {graph.n_edges}")
    enc = encode_pairs(bridge.tokenizer, pair_list, spec, int(bridge.cfg.n_ctx))
    return runner.run(bridge, name, graph, enc, spec, config, top_k=top_k, rows=rows)
