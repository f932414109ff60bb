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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interp.circuits.config import (  # noqa: F401 — public names re-exported
    METHODS,
    TARGET,
    TOP_RECALL,
    CircuitConfig,
    CircuitResult,
    curve_sizes,
    faithfulness,
    parse_method,
)
from interp.errors import UserError
from interp.patching.metrics import MetricSpec


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
    from interp.patching.api import encode_pairs, model_and_name, resolve_pairs

    config = CircuitConfig(metric=metric, method=method, compare=tuple(compare), size=size, threshold=threshold,
                           curve_points=curve_points, n_boot=n_boot, seed=seed)
    spec = MetricSpec.parse(metric)
    pair_list = resolve_pairs(clean, corrupt, pairs)
    name, bridge = model_and_name(model, device)
    from interp.circuits.graph import Graph

    graph = Graph.of(bridge)
    if size is not None and size > graph.n_edges:
        raise UserError(f"--size {size} is larger than the graph's {graph.n_edges} edges; pass at most {graph.n_edges}")
    enc = encode_pairs(bridge.tokenizer, pair_list, spec, int(bridge.cfg.n_ctx))
    return runner.run(bridge, name, graph, enc, spec, config, top_k=top_k, rows=rows)
