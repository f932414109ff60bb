"""The patching results schema and config: `PatchConfig`, `Pair`, `PatchResult`, `NamedHeadsResult` (torch-free;
`interp.patching.api` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.results import FrozenResult

METHODS = ("exact", "atp", "atp*")
DIRECTIONS = ("denoise", "noise")
MAX_PER_PAIR = 200_000  # per-pair values kept in the JSON only below this many numbers


@dataclass(frozen=True)
class PatchConfig:
    """What to patch and how. Validated on construction (UserError)."""

    metric: str = "logit-diff"
    components: tuple[str, ...] = ("heads",)
    methods: tuple[str, ...] = ("exact",)
    direction: str = "denoise"
    verify_top: int = 0
    top_k: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        from interp.patching.core import check_component

        MetricSpec.parse(self.metric)
        if not self.components:
            raise UserError("no components to patch; choose from heads, resid, attn_out, mlp_out, q, k")
        for c in self.components:
            check_component(c)
        if len(set(self.components)) != len(self.components):
            raise UserError(f"a component is listed twice in {','.join(self.components)}")
        if not self.methods:
            raise UserError(f"no method given; choose from {', '.join(METHODS)}")
        for m in self.methods:
            if m not in METHODS:
                raise UserError(f"unknown method {m!r}; choose from {', '.join(METHODS)} (comma list: atp,exact)")
        if self.direction not in DIRECTIONS:
            raise UserError(f"unknown direction {self.direction!r}; choose denoise or noise")
        if not isinstance(self.verify_top, int) or self.verify_top < 0:
            raise UserError(f"--verify-top must be >= 0, got {self.verify_top!r}")
        if self.verify_top and not any(m != "exact" for m in self.methods):
            raise UserError("--verify-top re-measures estimates; use it with --method atp or atp*")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise UserError(f"top_k must be >= 1, got {self.top_k!r}")


@dataclass(frozen=True)
class Pair:
    clean: str
    corrupt: str
    answer: str | None = None
    wrong: str | None = None
    where: str = ""


@dataclass(frozen=True)
class PatchResult(FrozenResult):
    kind: str = "patching"
    model: str = ""
    metric: str = ""
    direction: str = "denoise"
    methods: tuple[str, ...] = ()
    seed: int = 0
    n_layers: int = 0
    n_heads: int = 0
    n_pairs: int = 0
    pairs: tuple[dict, ...] = ()
    clean_metric: float = 0.0  # mean over pairs
    corrupt_metric: float = 0.0
    gap: float = 0.0  # clean − corrupt
    components: dict = field(default_factory=dict)  # kind → grids per method (see patch())
    top: dict = field(default_factory=dict)  # method → top components
    verify: dict = field(default_factory=dict)  # method → [{component, estimate, exact}]
    comparison: dict = field(default_factory=dict)  # kind → method → {spearman, pearson, recall_top5_in_top10}
    cost: dict = field(default_factory=dict)  # method → forward-equivalent passes (docstrings of core/atp)


@dataclass(frozen=True)
class NamedHeadsResult(FrozenResult):
    """Fraction of the gap restored when the named heads are patched TOGETHER, per pair and overall."""

    kind: str = "patching_heads"
    model: str = ""
    heads: str = ""
    metric: str = ""
    direction: str = "denoise"
    n_pairs: int = 0
    clean_metric: float = 0.0
    corrupt_metric: float = 0.0
    patched_metric: float = 0.0
    fraction: float = 0.0  # (patched − corrupt) / (clean − corrupt), means over pairs
    per_pair: tuple[float, ...] = ()  # (patched_i − corrupt_i) / mean gap: their mean is `fraction`
