"""The metric-kind protocol of `interp regress`: what a metric kind declares and what it returns.

A metric kind is one `EvalKind` object (see `evals.regress.metrics` for the registry and a walk-through):
its `params` (typed, validated before any model is loaded; unknown keys are rejected), the `metrics` it can
produce (`MetricSpec`: natural direction + how the metric aggregates its items), and an `adapter`
`(model, params, ctx) -> {metric: MetricValue}` that calls the eval's ONE public function and keeps the
per-item samples the statistical bounds need.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp import stats
from interp.errors import UserError
from interp.results import to_jsonable

METRIC_STATS = ("proportion", "mean", "exp_mean")
PARAM_TYPES = ("str", "int", "float", "bool", "str_list", "path")


@dataclass(frozen=True)
class MetricValue:
    """One measured metric. `stat` says how it aggregates its items, which picks the statistical bound:

    "proportion"  value = k / n (accuracy); n is all the Wilson/Newcombe bound needs
    "mean"        value = weighted mean of `samples` (weights default 1)
    "exp_mean"    value = exp(weighted mean of `samples`)  (perplexity: per-window mean NLL, weights =
                  tokens per window, so value = exp(total NLL / total tokens))

    `fingerprint` (optional) identifies the scored inputs (e.g. a hash of the token windows): if the
    baseline's differs, the values are not comparable and the check fails saying so.
    `items` (optional, with `samples`): one id per sample (`item_id` of the normalised text / window), so a
    comparison can pair the baseline's and the candidate's results item by item. A proportion with items
    has 0/1 `samples` (per-item correctness).
    """

    value: float
    n: int
    stat: str = "mean"
    samples: tuple[float, ...] | None = None
    weights: tuple[float, ...] | None = None
    fingerprint: str | None = None
    items: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.stat not in METRIC_STATS:
            raise ValueError(f"MetricValue.stat must be one of {METRIC_STATS}, got {self.stat!r}")
        if self.samples is not None and self.weights is not None and len(self.samples) != len(self.weights):
            raise ValueError("MetricValue samples and weights differ in length")
        if self.items is not None and (self.samples is None or len(self.items) != len(self.samples)):
            raise ValueError("MetricValue items need samples of the same length")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": to_jsonable(float(self.value)), "n": int(self.n), "stat": self.stat}
        if self.samples is not None:
            d["samples"] = to_jsonable([float(x) for x in self.samples])
        if self.weights is not None:
            d["weights"] = to_jsonable([float(x) for x in self.weights])
        if self.fingerprint is not None:
            d["fingerprint"] = self.fingerprint
        if self.items is not None:
            d["items"] = list(self.items)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricValue:
        v = d.get("value")
        return cls(value=float("nan") if v is None else float(v), n=int(d["n"]), stat=d.get("stat", "mean"),
                   samples=tuple(d["samples"]) if d.get("samples") is not None else None,
                   weights=tuple(d["weights"]) if d.get("weights") is not None else None,
                   fingerprint=d.get("fingerprint"),
                   items=tuple(str(x) for x in d["items"]) if d.get("items") is not None else None)

    def normalized(self) -> MetricValue:
        """Round-trip through the JSON rounding, so a re-measured value equals its stored baseline exactly."""
        return MetricValue.from_dict(self.to_dict())

    @property
    def supports_statistical(self) -> bool:
        return self.stat == "proportion" or self.samples is not None


_WS = re.compile(r"\s+")


def item_id(*parts: Any) -> str:
    """Short id of one eval item: sha256 of its normalised text (whitespace collapsed, stripped; parts joined
    by a unit separator), 12 hex digits. The same item gets the same id in the baseline and the candidate."""
    norm = "\x1f".join(_WS.sub(" ", str(p)).strip() for p in parts)
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:12]


def proportion(k: int, n: int, fingerprint: str | None = None) -> MetricValue:
    """An accuracy-like metric: k successes out of n (no per-item results: compared unpaired)."""
    return MetricValue(value=k / n if n else float("nan"), n=n, stat="proportion", fingerprint=fingerprint)


def proportion_of(correct: Iterable[bool], items: Iterable[str], fingerprint: str | None = None) -> MetricValue:
    """An accuracy from per-item correctness, keeping the items (0/1 samples) for paired comparisons."""
    c = tuple(1.0 if bool(x) else 0.0 for x in correct)
    ids = tuple(items)
    n = len(c)
    return MetricValue(value=sum(c) / n if n else float("nan"), n=n, stat="proportion", samples=c or None,
                       fingerprint=fingerprint, items=ids if c else None)


def mean_of(samples: Iterable[float], weights: Iterable[float] | None = None, stat: str = "mean",
            fingerprint: str | None = None, items: Iterable[str] | None = None) -> MetricValue:
    """A metric that is the (exp-)mean of per-item samples, keeping the samples (and item ids) for the bootstrap."""
    s = tuple(float(x) for x in samples)
    w = tuple(float(x) for x in weights) if weights is not None else None
    finite = all(math.isfinite(x) for x in s)
    value = stats.statistic(s, w, stat) if s and finite else float("nan")
    return MetricValue(value=value, n=len(s), stat=stat, samples=s, weights=w, fingerprint=fingerprint,
                       items=tuple(items) if items is not None else None)


@dataclass(frozen=True)
class MetricSpec:
    """A metric an eval kind produces: its natural direction (None = the suite must say) and how it
    aggregates (decides which tolerances are possible)."""

    name: str
    direction: str | None
    stat: str
    doc: str = ""
    default: bool = True  # checked when the suite lists no metrics for the eval

    @property
    def default_tolerance(self) -> str:
        return "statistical"


REQUIRED: Any = object()


@dataclass(frozen=True)
class Param:
    """A parameter of an eval kind. `type`: "str" | "int" | "float" | "bool" | "str_list" | "path"
    ("path": a file or folder, relative to the suite's folder, that must exist; its content is hashed
    into the eval's config hash). `check(value) -> error message | None` adds range checks."""

    type: str
    default: Any = REQUIRED
    doc: str = ""
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"Param.type must be one of {PARAM_TYPES}, got {self.type!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class EvalContext:
    """What adapters may use besides the model and their parameters."""

    model_ref: str
    base_dir: Path  # the suite's folder: relative "path" params are resolved against it (already done)
    seed: int = 0
    device: str = "cpu"

    def run_meta(self) -> dict[str, Any]:
        """run.json of the training run behind the model (for run splits); UserError if there is none."""
        from interp import hooked

        meta = hooked.run_metadata(self.model_ref)
        if meta is None:
            raise UserError(
                f"model {self.model_ref!r} is not from an `interp train` run (no run.json), so it has no "
                "run splits; use `file = \"text.txt\"` instead of `split` in the suite"
            )
        return meta


Adapter = Callable[[Any, dict[str, Any], EvalContext], dict[str, MetricValue]]


@dataclass(frozen=True)
class EvalKind:
    """A metric kind: parameters (unknown keys rejected), metrics, and the adapter
    `(model, params, ctx) -> {metric: MetricValue}` that calls the eval's public function.
    `validate(params, metric_names) -> error | None` checks combinations (e.g. exactly one of split/file);
    `seeded` (or `seeded(params)`): the eval samples, so the seed is part of its configuration."""

    name: str
    params: dict[str, Param]
    metrics: dict[str, MetricSpec]
    adapter: Adapter
    doc: str = ""
    validate: Callable[[dict[str, Any], list[str]], str | None] | None = None
    seeded: bool | Callable[[dict[str, Any]], bool] = False

    def is_seeded(self, params: Mapping[str, Any]) -> bool:
        return bool(self.seeded(dict(params)) if callable(self.seeded) else self.seeded)
