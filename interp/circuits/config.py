"""Circuit configuration, result type and the small pure helpers (method parsing, curve sizes, faithfulness).

See interp.circuits.api for the definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

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


