"""The report's document model: format-neutral blocks that both renderers (HTML, PDF) draw.

A report is a list of `Section`s; a section is a title, a reading guide and a list of blocks:

    Paragraph   plain text (escaped by the HTML renderer, never parsed as markup or mathtext)
    Table       header + rows of already-formatted cell strings (+ a note, e.g. "12 more rows")
    Figure      PNG bytes and/or SVG bytes with a caption (file name or "rebuilt from results")
    Preformatted  verbatim text (prompts, generations, raw JSON) shown in a monospace box
    Chart       a chart drawn from results data by `draw(fig)` into a matplotlib Figure/SubFigure at
                full print width (HTML: inline SVG; PDF: drawn on the page, so it stays vector)

A Section has its main blocks (key figure(s), headline table, short notes), its `findings` (one line
each, shown together on the report's first page) and its `appendix` (every other value; the end of the
PDF, collapsed <details> in HTML). Section builders (`reports.sections`) produce these from results
JSON; renderers never look at the raw results again, so adding a renderer (or a section kind) touches
one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_CELL_CHARS = 200  # table cells longer than this are cut (full text stays in results.json)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Preformatted:
    text: str
    caption: str = ""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    note: str = ""  # e.g. "showing 50 of 312 rows"


@dataclass(frozen=True)
class Figure:
    caption: str
    png: bytes | None = None
    svg: bytes | None = None


@dataclass(frozen=True)
class Chart:
    """A vector chart: `draw(fig)` draws into a Figure/SubFigure of PRINT_WIDTH_IN × `height` inches."""

    caption: str
    draw: Callable[[Any], None]
    height: float = 3.0  # inches at full print text width


Block = Paragraph | Preformatted | Table | Figure | Chart


@dataclass(frozen=True)
class Finding:
    """One line of the report's Findings: the number, its interval, the chance/baseline level, a verdict.

    `verdict` must not claim more than `interval` supports (see reports.sections.base.verdict_vs)."""

    label: str  # what was measured, e.g. "Coreference: head 7.0 (held-out)"
    value: str  # the number as shown, e.g. "42/42 = 1.00"
    verdict: str  # plain words, e.g. "above chance"
    interval: str = ""  # e.g. "95% CI [0.92, 1.00]"
    baseline: str = ""  # e.g. "chance 0.5"
    section_id: str = ""  # filled in when the report is assembled (link target)

    @property
    def line(self) -> str:
        parts = [f"{self.label}: {self.value}"]
        if self.interval:
            parts.append(f" {self.interval}")
        if self.baseline:
            parts.append(f", {self.baseline}")
        return "".join(parts) + f" — {self.verdict}"


@dataclass(frozen=True)
class Section:
    id: str  # HTML anchor, unique in the report
    title: str
    kind: str
    source: str  # results file relative to RESULTS_DIR ("" for the metadata section)
    guide: str  # one paragraph: what the metric means, chance level, how to read the figures
    blocks: tuple[Block, ...] = ()  # main body: key figure(s), headline table, short notes
    findings: tuple[Finding, ...] = ()
    appendix: tuple[Block, ...] = ()  # every other value (end of the report)
    tailored: bool = True  # always True: an unknown kind is an error, never a generic view
    attention: dict[str, Any] | None = None  # data for the interactive attention view (HTML only)
    features: dict[str, Any] | None = None  # data for the interactive SAE feature view (HTML only)
    edges: dict[str, Any] | None = None  # data for the interactive circuit edge view (HTML only)
    raw: str = ""  # the results file as text (possibly cut), shown collapsed in HTML only

    @property
    def n_tables(self) -> int:
        return sum(isinstance(b, Table) for b in (*self.blocks, *self.appendix))

    @property
    def n_figures(self) -> int:
        return sum(isinstance(b, (Figure, Chart)) for b in (*self.blocks, *self.appendix))

    @property
    def n_key_figures(self) -> int:
        return sum(isinstance(b, (Figure, Chart)) for b in self.blocks)


@dataclass(frozen=True)
class Report:
    title: str
    results_dir: str
    metadata: tuple[tuple[str, str], ...]  # (key, value) pairs shown on the title page / header
    sections: tuple[Section, ...]
    skipped: tuple[str, ...] = field(default=())  # "path: why" for inputs left out (e.g. oversized images)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for s in self.sections for f in s.findings)


# ----------------------------------------------------------------------------- cell formatting
def fmt(value: Any, max_chars: int = MAX_CELL_CHARS) -> str:
    """A table cell: numbers to 4 significant digits, None → '—', lists/dicts compact, long text cut."""
    if value is None:
        s = "—"
    elif isinstance(value, bool):
        s = "true" if value else "false"
    elif isinstance(value, int):
        s = str(value)
    elif isinstance(value, float):
        s = fmt_float(value)
    elif isinstance(value, str):
        s = value
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) and len(value) > 8:
            nums = [float(v) for v in value]
            s = f"[{len(nums)} numbers: min {min(nums):.4g}, mean {sum(nums) / len(nums):.4g}, max {max(nums):.4g}]"
        else:
            s = "[" + ", ".join(fmt(v, max_chars) for v in value[:12]) + (", …" if len(value) > 12 else "") + "]"
    elif isinstance(value, dict):
        s = "{" + ", ".join(f"{k}: {fmt(v, max_chars)}" for k, v in list(value.items())[:8])
        s += ", …}" if len(value) > 8 else "}"
    else:
        s = str(value)
    s = s.replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    return s if len(s) <= max_chars else s[: max_chars - 1] + "…"


def fmt_float(x: float) -> str:
    """4 significant digits; large values with thousands separators instead of exponents."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if 1e4 <= abs(x) < 1e13:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def matrix_shape(v: Any) -> tuple[int, ...] | None:
    """Shape of a rectangular nested list of numbers/None (None if ragged or not numeric)."""
    if is_number(v) or v is None:
        return ()
    if not isinstance(v, list) or not v:
        return None
    shapes = {matrix_shape(x) for x in v}
    if len(shapes) != 1:
        return None
    (inner,) = shapes
    return None if inner is None else (len(v), *inner)
