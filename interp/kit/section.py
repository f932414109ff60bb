"""What a section module provides (`SectionSpec`), what its builder returns (`Built`), and the shared
verdict rules and small table helpers every kind uses.

Verdict rules (used by every kind; unit-tested in tests/unit/test_report_sections.py):

    verdict_vs(lo, hi, baseline)  →  "above <name>" when lo > baseline, "below <name>" when hi < baseline,
                                     "not distinguishable from <name>" when the interval contains it.

A verdict never claims more than the interval supports; a number without an interval gets a
descriptive verdict (what it is), never "significant".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from interp.kit.document import Block, Chart, Figure, Finding, Paragraph, Table, fmt, is_number
from interp.kit.stage import Stage

__all__ = ["Built", "SectionSpec", "Finding", "Chart", "Figure", "Paragraph", "Table", "verdict_vs", "ci_text",
           "num", "wilson_from", "acc_text", "headline", "grid_table", "matrix_shape", "fmt", "is_number"]


@dataclass
class Built:
    """What a section's `build(stage)` returns."""

    blocks: list[Block] = field(default_factory=list)  # main body: key figure(s) first, then a SHORT headline table
    appendix: list[Block] = field(default_factory=list)  # everything else worth a table (end of the report)
    used: set[str] = field(default_factory=set)  # result keys shown above (the rest go to the appendix generically)
    attention: dict[str, Any] | None = None  # data for the HTML interactive attention view
    features: dict[str, Any] | None = None  # data for the HTML interactive SAE feature view
    edges: dict[str, Any] | None = None  # data for the HTML interactive circuit edge view


@dataclass(frozen=True)
class SectionSpec:
    """One result kind's section: title, position, reading guide, verdict rules, builder."""

    kind: str
    title: str
    order: int  # position in the report (training 10 … evals 70–80, CI 90)
    guide: Callable[[Stage], str]  # reading guide: what the metric means, its chance level, how to read the figure
    findings: Callable[[Stage], list[Finding]]  # the verdict rules: 1–2 lines for the Findings page
    build: Callable[[Stage], Built]  # key figure + headline table (+ appendix blocks)


# ----------------------------------------------------------------------------- numbers
def num(d: Any, *keys: str) -> float | None:
    """The first finite number among d[key] for keys (None when none)."""
    if not isinstance(d, dict):
        return None
    for k in keys:
        v = d.get(k)
        if is_number(v) and math.isfinite(v):
            return float(v)
    return None


def verdict_vs(lo: float, hi: float, baseline: float, name: str = "chance") -> str:
    """The plain verdict for an interval [lo, hi] against a baseline level."""
    if lo > baseline:
        return f"above {name}"
    if hi < baseline:
        return f"below {name}"
    return f"not distinguishable from {name}"


def ci_text(lo: float | None, hi: float | None, digits: int = 2, what: str = "95% CI") -> str:
    if lo is None or hi is None:
        return ""
    return f"{what} [{lo:.{digits}f}, {hi:.{digits}f}]"


def wilson_from(acc: float, n: int) -> tuple[int, float, float]:
    """(k, lo, hi): the Wilson 95% interval of an accuracy reported as a fraction of n items."""
    from interp.stats import wilson

    k = int(round(acc * n))
    lo, hi = wilson(k, n)
    return k, lo, hi


def acc_text(x: dict[str, Any]) -> str:
    """'k/n = 0.62' (or '0.62' without counts) for an accuracy record {accuracy, k, n}."""
    a, k, n = x.get("accuracy"), x.get("k"), x.get("n")
    if isinstance(k, int) and isinstance(n, int) and n:
        return f"{k}/{n} = {a:.2f}" if is_number(a) else f"{k}/{n}"
    return f"{a:.3f}" if is_number(a) else "—"


# ----------------------------------------------------------------------------- tables
def headline(pairs: list[tuple[str, Any]], caption: str = "headline numbers") -> Table:
    """The short key/value table under a section's key figure (≤ ~8 rows by convention)."""
    return Table(columns=("key", "value"), rows=tuple((k, fmt(v)) for k, v in pairs if v is not None),
                 caption=caption)


def matrix_shape(v: Any) -> tuple[int, ...] | None:
    from interp.kit.document import matrix_shape as ms

    return ms(v)


def grid_table(grid: Any, caption: str, max_cols: int = 16) -> Table | None:
    """A (layer × head) grid as a table with L/H labels (None when not a small 2-D grid)."""
    shp = matrix_shape(grid)
    if shp is None or len(shp) != 2 or shp[1] > max_cols:
        return None
    return Table(columns=("layer", *(f"H{h}" for h in range(shp[1]))),
                 rows=tuple((f"L{i}", *(fmt(x) for x in r)) for i, r in enumerate(grid)), caption=caption)


def argmax_grid(grid: Any) -> tuple[int, int, float] | None:
    """(layer, head, value) of the largest finite cell of a 2-D grid."""
    best = None
    for i, row in enumerate(grid if isinstance(grid, list) else []):
        for j, v in enumerate(row if isinstance(row, list) else []):
            if is_number(v) and math.isfinite(v) and (best is None or v > best[2]):
                best = (i, j, float(v))
    return best


_TYPES = {"number": (int, float), "list": (list,), "dict": (dict,), "str": (str,), "grid": (list,)}


def require(d: dict[str, Any], key: str, what: str) -> Any:
    """d[key] checked to be a `what` (number | list | dict | str | grid = 2-D numeric list).

    A section's key fields go through this, so a renamed or reshaped field is an error naming the field
    (reports.sections turns it into a one-line RenderError) instead of a section that quietly lacks its figure."""
    if key not in d:
        raise KeyError(f"field {key!r} is missing")
    v = d[key]
    ok = isinstance(v, _TYPES[what]) and not isinstance(v, bool)
    if ok and what == "grid":
        shp = matrix_shape(v)
        ok = shp is not None and len(shp) == 2
    if not ok:
        raise TypeError(f"field {key!r} should be a {what}, got {type(v).__name__}")
    return v
