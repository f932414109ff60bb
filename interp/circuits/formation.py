"""`circuit_formation(series, pairs=..., metric=...)`: edge attribution (EAP-IG) on every checkpoint of a series.

Per checkpoint: EAP-IG scores of every edge; the faithfulness of that checkpoint's own top-`size` circuit (95%
bootstrap over pairs) beside a random circuit of the same size. After all checkpoints: the trajectories of the
final checkpoint's top edges (score vs tokens/steps), and the FORMATION point = the first checkpoint from which
the faithfulness is >= 0.8 at every later checkpoint (None when it never stays there), with the run's loss curve.

Scale-out like `head-formation`: under `torchrun --nproc_per_node=N -m interp.cli circuit-formation ...` each
rank takes a contiguous slice of checkpoints (`CheckpointSeries.shard`), the per-checkpoint parts are gathered
with `all_gather_object` and merged in order; every per-checkpoint number is seeded by (seed, checkpoint index),
so the result is byte-identical to one process. Only rank 0 writes (the CLI checks).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult

N_TRACKED = 10


@dataclass(frozen=True)
class CircuitFormationResult(FrozenResult):
    kind: str = "circuit_formation"
    series: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    seed: int = 0
    x_name: str = "checkpoint"
    x: tuple = ()
    labels: tuple[str, ...] = ()
    n_edges: int = 0
    size: int = 0
    target: float = 0.8
    faithfulness: tuple = ()
    lo: tuple = ()
    hi: tuple = ()
    random: tuple = ()
    clean_metric: tuple = ()
    corrupt_metric: tuple = ()
    edge_scores: dict = field(default_factory=dict)  # final top edges → score per checkpoint
    formed_at: float | None = None
    formed_label: str | None = None
    loss_curve: tuple = ()


def _one(bridge: Any, pair_list: list[Any], spec: Any, method: str, size: int, n_boot: int, seed: int) -> dict:
    import numpy as np
    import torch

    from interp.circuits.config import faithfulness
    from interp.circuits.graph import Graph, check_supported
    from interp.circuits.methods import random_mask, top_mask
    from interp.circuits.run import batches, per_pair, scores
    from interp.patching.api import encode_pairs

    graph = Graph.of(bridge)
    if size > graph.n_edges:
        raise UserError(f"--size {size} is larger than the graph's {graph.n_edges} edges")
    enc = encode_pairs(bridge.tokenizer, pair_list, spec, int(bridge.cfg.n_ctx))
    groups = batches(bridge, graph, enc, spec)
    check_supported(bridge, groups[0][1].clean_cache, graph)
    torch.manual_seed(seed)
    s = scores(groups, method)
    e = graph.n_edges
    keep = torch.cat([torch.ones(1, e, dtype=torch.bool), torch.zeros(1, e, dtype=torch.bool),
                      top_mask(s.tolist(), [size]), random_mask(e, [size], torch.Generator().manual_seed(seed))])
    m = per_pair(groups, keep)
    rng = np.random.default_rng(seed)
    f, lo, hi = faithfulness(m[2], m[0], m[1], n_boot, rng)
    r, _, _ = faithfulness(m[3], m[0], m[1], 0, rng)
    return {"scores": s.tolist(), "n_edges": e, "faithfulness": f, "lo": lo, "hi": hi, "random": r,
            "clean": float(m[0].mean()), "corrupt": float(m[1].mean()), "edges": graph.edge_names()}


def formation_index(values: list[float | None], target: float) -> int | None:
    """First index from which every value is >= target (None: never, or it falls back by the end)."""
    first = None
    for i, v in enumerate(values):
        if v is not None and v >= target:
            first = i if first is None else first
        else:
            first = None
    return first


def circuit_formation(series: Any, *, pairs: Any, metric: str = "logit-diff", method: str = "eap-ig:10",
                      size: int = 20, n_boot: int = 1000, x: str | None = None, seed: int = 0, device: str = "cpu",
                      tokenizer: str | None = None, meta: str | None = None) -> CircuitFormationResult:
    """EAP-IG circuits on every checkpoint of `series` (anything `interp.series.as_series` reads)."""
    from interp.attention.evolution import _gather, _world
    from interp.circuits.config import TARGET, CircuitConfig, parse_method
    from interp.patching.api import as_pairs
    from interp.patching.metrics import MetricSpec
    from interp.series import CheckpointSeries, as_series

    CircuitConfig(metric=metric, method=method, size=size, n_boot=n_boot, seed=seed)
    if parse_method(method)[0] == "exact":
        raise UserError("circuit-formation estimates edges on every checkpoint: use eap or eap-ig[:STEPS]")
    if size < 1:
        raise UserError(f"--size must be >= 1, got {size}")
    spec = MetricSpec.parse(metric)
    pair_list = as_pairs(pairs)
    if not pair_list:
        raise UserError("no pairs given")
    s = as_series(series, tokenizer=tokenizer, meta=meta)
    x_name = s.check_x(x)
    s.preflight()
    rank, world = _world()
    idx = s.shard(rank, world)
    part: dict[int, dict] | str = {}
    bar = None
    try:
        for i, (_c, bridge) in zip(idx, s.iter_models(device=device, indices=idx), strict=True):
            part[i] = _one(bridge, pair_list, spec, method, size, n_boot, seed + 1000003 * i)  # type: ignore[index]
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=len(idx), desc="checkpoints", unit="ckpt", file=sys.stderr, disable=None)
            bar.update(1)
    except UserError as e:
        if world == 1:
            raise
        part = str(e)
    finally:
        if bar is not None:
            bar.close()
    merged: dict[int, dict] = {}
    for p in _gather(part, world):  # type: ignore[arg-type]
        if isinstance(p, str):
            raise UserError(p)
        merged.update(p)
    entries = [merged[i] for i in range(len(s.checkpoints))]
    if len({e["n_edges"] for e in entries}) > 1:
        raise UserError("the checkpoints' graphs differ in shape; a series must share one architecture")
    cks = s.checkpoints
    xs = tuple(float(i) if x_name == "checkpoint" else CheckpointSeries.value(c, x_name) for i, c in enumerate(cks))
    final = entries[-1]["scores"]
    edges = entries[-1]["edges"]
    top = sorted(range(len(final)), key=lambda j: (-abs(final[j]), j))[:N_TRACKED]
    faith = [e["faithfulness"] for e in entries]
    k = formation_index(faith, TARGET)
    curve = tuple(s.loss_curve)
    return CircuitFormationResult(
        series=s.to_dict(), config={"metric": metric, "method": method, "size": size, "n_boot": n_boot},
        seed=seed, x_name=x_name, x=xs, labels=tuple(c.label for c in cks), n_edges=entries[0]["n_edges"], size=size,
        target=TARGET, faithfulness=tuple(faith), lo=tuple(e["lo"] for e in entries),
        hi=tuple(e["hi"] for e in entries), random=tuple(e["random"] for e in entries),
        clean_metric=tuple(e["clean"] for e in entries), corrupt_metric=tuple(e["corrupt"] for e in entries),
        edge_scores={edges[j]: [e["scores"][j] for e in entries] for j in top},
        formed_at=None if k is None else xs[k], formed_label=None if k is None else cks[k].label,
        loss_curve=curve)
