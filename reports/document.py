"""The report's document model: format-neutral blocks that both renderers (HTML, PDF) draw.

A report is a list of `Section`s; a section is a title, a reading guide and a list of blocks:

    Paragraph   plain text (escaped by the HTML renderer, never parsed as markup or mathtext)
    Table       header + rows of already-formatted cell strings (+ a note, e.g. "12 more rows")
    Figure      PNG bytes and/or SVG bytes with a caption (file name or "rebuilt from results")
    Preformatted  verbatim text (prompts, generations, raw JSON) shown in a monospace box

Section builders (`reports.sections`) produce these from results JSON; renderers never look at
the raw results again, so adding a renderer (or a section kind) touches one place.
"""

from __future__ import annotations

import math
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


Block = Paragraph | Preformatted | Table | Figure


@dataclass(frozen=True)
class Section:
    id: str  # HTML anchor, unique in the report
    title: str
    kind: str
    source: str  # results file relative to RESULTS_DIR ("" for the metadata section)
    guide: str  # one paragraph: what the metric means, chance level, how to read the figures
    blocks: tuple[Block, ...] = ()
    tailored: bool = True  # False → rendered by the generic fallback (unknown kind)
    attention: dict[str, Any] | None = None  # data for the interactive attention view (HTML only)
    raw: str = ""  # the results file as text (possibly cut), shown collapsed in HTML only

    @property
    def n_tables(self) -> int:
        return sum(isinstance(b, Table) for b in self.blocks)

    @property
    def n_figures(self) -> int:
        return sum(isinstance(b, Figure) for b in self.blocks)


@dataclass(frozen=True)
class Report:
    title: str
    results_dir: str
    metadata: tuple[tuple[str, str], ...]  # (key, value) pairs shown on the title page / header
    sections: tuple[Section, ...]
    skipped: tuple[str, ...] = field(default=())  # "path: why" for unreadable inputs


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
