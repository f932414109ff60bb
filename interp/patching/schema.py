"""The patching results schema and config: `PatchConfig`, `Pair`, `PatchResult`, `NamedHeadsResult` (torch-free;
`interp.patching.api` re-exports them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.results import FrozenResult

METHODS = ("exact", "atp", "atp*")
DIRECTIONS = ("denoise", "noise")
MAX_PER_PAIR = 200_000  # per-pair values kept in the JSON only below this many numbers
# A clean−corrupt gap below GAP_MIN_REL × the logit scale (std over the vocabulary of the clean run's final
# logits) is noise-sized: dividing by it makes "fractions restored" meaningless (a random model's gap of ~1e-3
# gives ±1000%). Such results carry gap_meaningful = False; reports and the CLI refuse to show the fractions.
GAP_MIN_REL = 0.01


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
    verify_kinds: tuple[str, ...] = ()  # component kinds eligible for --verify-top (empty: all patched)

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
        for k in self.verify_kinds:
            if k not in self.components:
                raise UserError(f"verify kind {k!r} is not among the patched components {','.join(self.components)}")
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
    logit_scale: float = 0.0  # std over the vocabulary of the clean run's final logits, mean over pairs
    gap_meaningful: bool = True  # False: |gap| < GAP_MIN_REL × logit_scale — fractions are noise, not shown
    gap_note: str = ""
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


def gap_check(gap: float, logit_scale: float, clean: float, corrupt: float) -> tuple[bool, str]:
    """(meaningful, note): is the clean−corrupt gap large enough for fractions of it to mean anything?"""
    floor = max(GAP_MIN_REL * logit_scale, 1e-5 * max(abs(clean), abs(corrupt)))
    if abs(gap) >= floor:
        return True, ""
    return False, (f"the clean−corrupt gap {gap:+.3g} is below {GAP_MIN_REL:g} × the logit scale {logit_scale:.3g} "
                   "(std of the final logits over the vocabulary): fractions of it are noise, not shown; choose "
                   "prompts whose answer the model actually changes")


# ----------------------------------------------------------------------------- the typed parts of PatchResult
def _nan_to_none(a: Any) -> list:
    """A 2-D grid as lists, NaN/inf → None (JSON null)."""
    return [[None if not math.isfinite(float(x)) else float(x) for x in row] for row in a]


@dataclass(frozen=True)
class MethodGrid:
    """One method's (L, S) grids for one component kind. JSON: metric, fraction, then per_pair | score."""

    metric: Any  # (L, S) mean patched metric over pairs
    fraction: Any  # (L, S) fraction of the clean−corrupt gap restored
    per_pair: Any = None  # (L, S, n) patched metric per pair (exact, when small enough)
    score: Any = None  # (L, S) estimate score (atp, atp*)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"metric": _nan_to_none(self.metric), "fraction": _nan_to_none(self.fraction)}
        if self.per_pair is not None:
            d["per_pair"] = self.per_pair
        if self.score is not None:
            d["score"] = _nan_to_none(self.score)
        return d


@dataclass(frozen=True)
class ComponentGrids:
    """Every method's grids for one component kind (heads, resid, attn_out, mlp_out, q, k)."""

    n_layers: int
    n_slots: int
    slot_labels: tuple  # slot index, or the token of a resid position
    methods: dict  # method -> MethodGrid

    def to_dict(self) -> dict[str, Any]:
        return {"n_layers": self.n_layers, "n_slots": self.n_slots, "slot_labels": list(self.slot_labels),
                **{m: g.to_dict() for m, g in self.methods.items()}}


@dataclass(frozen=True)
class TopRow:
    component: str
    kind: str
    layer: int
    slot: int
    fraction: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VerifyRow:
    component: str
    kind: str
    layer: int
    slot: int
    estimate: float  # fraction restored, estimated
    exact: float  # fraction restored, measured
    exact_per_pair: Any = None  # (n,) patched metric per pair, measured (for bootstraps)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Comparison:
    """An estimate method vs exact over all components of one kind."""

    spearman: float | None
    pearson: float | None
    spearman_abs_score: float | None
    recall_top5_in_top10: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PairRow:
    clean: str
    corrupt: str
    answer_id: int | None
    wrong_id: int | None
    n_tokens: int
    clean_metric: float
    corrupt_metric: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
