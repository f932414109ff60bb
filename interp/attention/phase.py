"""Phase-change markers over a checkpoint series: where the loss bump, the in-context-learning (ICL) score and
the induction score change (Olsson et al. 2022 show all three move together when induction heads form).

Pure functions of per-checkpoint lists (from a head-formation result), each returning the checkpoint index of
its marker (None when there is none):

- **induction**: the first checkpoint from which the best induction head's score stays ≥ its threshold
  (`stays_from`, as `formation.emergence_index`, on the per-checkpoint maximum over heads in layers ≥ 1).
- **previous-token**: the same for the best previous-token head (any layer).
- **ICL**: the first checkpoint from which the ICL score stays at or below half-way between its first value
  and its minimum (the score falls when context starts to help; half-way is the change's midpoint).
- **loss bump**: the checkpoint that ends the steepest fall of the held-out loss per unit log(x), among
  consecutive checkpoints at x ≥ `after` × the last x (so the initial fall from ln(vocab) in the first steps,
  which is fast on any log axis, is not mistaken for the bump).

The circuit marker (the prev-token → induction edge's attribution, `interp.circuits`) is left as a slot in
the head-formation result (`markers["circuit"]`, `circuit_hook`) for the circuit-formation analysis to fill.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def stays_from(values: Sequence[float | None], ok) -> int | None:
    """First index i with ok(values[j]) for every j >= i (None values fail); None if the last one fails."""
    first = None
    for i, v in enumerate(values):
        if v is not None and ok(v):
            first = i if first is None else first
        else:
            first = None
    return first


def halfway_index(values: Sequence[float | None]) -> int | None:
    """First index from which every later value is ≤ (first + min) / 2 (a falling signal's midpoint)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if len(vals) < 3 or min(vals) >= vals[0]:
        return None
    mid = (vals[0] + min(vals)) / 2
    return stays_from(values, lambda v: v <= mid)


def steepest_drop_index(xs: Sequence[float | None], losses: Sequence[float | None], after: float = 0.05) -> int | None:
    """Index i (≥ 1) maximising (loss[i-1] − loss[i]) / (ln x[i] − ln x[i-1]) over pairs with x[i-1] ≥ after·x[-1]."""
    pts = [(i, x, v) for i, (x, v) in enumerate(zip(xs, losses, strict=True))
           if x is not None and v is not None and x > 0 and math.isfinite(v)]
    if len(pts) < 3:
        return None
    lo = after * pts[-1][1]
    best, best_rate = None, 0.0
    for (_, x0, v0), (i1, x1, v1) in zip(pts, pts[1:], strict=False):
        if x0 < lo or x1 <= x0:
            continue
        rate = (v0 - v1) / (math.log(x1) - math.log(x0))
        if rate > best_rate:
            best, best_rate = i1, rate
    return best


def best_per_checkpoint(per: Sequence[list | None], min_layer: int = 0) -> list[float | None]:
    """Max over heads in layers ≥ min_layer of each checkpoint's [layer][head] scores."""
    return [None if not m else max(v for row in m[min_layer:] for v in row) for m in per]
