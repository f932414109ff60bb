"""Render a `Report` as a multi-page PDF with matplotlib's PdfPages (no system packages needed).

Layout: A4 portrait pages. Page 1 is Findings (one line per analysis) and a table of contents with
page numbers. The sections follow, flowed top to bottom (a section starts on a new page only when
its heading and key figure do not fit): heading, key figure, reading guide, headline table. Then the
Appendix (every other table and figure, run metadata) on pages of its own —

    Chart                     drawn by the section straight onto the page (a matplotlib SubFigure at full
                              text width): vector, labels at their real print size
    Paragraph / Preformatted  wrapped text (monospace for prompts/generations), long text cut with a note
    Table                     drawn as text cells with rules; split across pages with the header repeated
    Figure                    a saved PNG (appendix only) drawn with imshow, scaled down to fit the page

The page flow is computed first, so contents page numbers are exact. Text is drawn with
`parse_math=False`, so a '$' in a prompt is just a dollar sign. The PDF has no creation date:
the same report gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from reports.document import Chart, Figure, Paragraph, Preformatted, Report, Section, Table
from reports.html import PNG_MAGIC

PAGE_W, PAGE_H = 8.27, 11.69  # A4, inches
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.6, 0.6, 0.7
TEXT_W = PAGE_W - 2 * MARGIN_X
BODY_FONT = "DejaVu Sans"
MONO_FONT = "DejaVu Sans Mono"
MAX_PRE_LINES = 40
FIG_DPI = 110  # the PNGs' nominal resolution (charts.py uses 110-120): 1 px ≈ 1/110 inch


def _decode_png(data: bytes) -> Any:
    """PNG bytes → uint8 array (H, W, 3|4): a quarter of matplotlib's float32 decode, pages stay small."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA")
        return np.asarray(im)


def _chars_per_inch(fontsize: float, mono: bool = False) -> float:
    return 72.0 / (fontsize * (0.61 if mono else 0.55))


def _wrap(text: str, fontsize: float, width_in: float = TEXT_W, mono: bool = False) -> list[str]:
    n = max(10, int(width_in * _chars_per_inch(fontsize, mono)))
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, n, replace_whitespace=False, drop_whitespace=not mono,
                                 break_on_hyphens=False) or [""])
    return out


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: max(1, n - 1)] + "…"


@dataclass
class _Page:
    fig: Any
    y: float  # inches from the bottom where the next block starts (its top)
    landscape: bool = False


@dataclass
class _Flow:
    """Places blocks on pages top to bottom; opens a new page when a block does not fit."""

    title: str
    pages: list[_Page] = field(default_factory=list)

    def new_page(self) -> _Page:
        fig = MplFigure(figsize=(PAGE_W, PAGE_H))  # not pyplot: no global registry, nothing to close
        p = _Page(fig=fig, y=PAGE_H - MARGIN_TOP)
        self.pages.append(p)
        return p

    @property
    def page(self) -> _Page:
        return self.pages[-1] if self.pages else self.new_page()

    def room(self) -> float:
        return self.page.y - MARGIN_BOTTOM

    def ensure(self, h: float) -> _Page:
        if self.page.landscape or (h > self.room() and self.page.y < PAGE_H - MARGIN_TOP - 1e-6):
            self.new_page()
        return self.page

    def landscape_page(self, img: Any, caption: str) -> None:
        """A wide figure on an A4 landscape page of its own (more room for its labels)."""
        fig = MplFigure(figsize=(PAGE_H, PAGE_W))
        self.pages.append(_Page(fig=fig, y=0.0, landscape=True))
        h_px, w_px = img.shape[0], img.shape[1]
        box_w, box_h = PAGE_H - 2 * MARGIN_X, PAGE_W - MARGIN_TOP - MARGIN_BOTTOM - 0.35
        w = min(box_w, w_px / FIG_DPI * 1.6)
        h = w * h_px / w_px
        if h > box_h:
            h, w = box_h, box_h * w_px / h_px
        x0, top = (PAGE_H - w) / 2, PAGE_W - MARGIN_TOP
        ax = fig.add_axes((x0 / PAGE_H, (top - h) / PAGE_W, w / PAGE_H, h / PAGE_W))
        ax.imshow(img, interpolation="none")  # "none": the PNG is embedded at full resolution
        ax.set_axis_off()
        fig.text(MARGIN_X / PAGE_H, (top - h - 0.08) / PAGE_W, caption, fontsize=7.5, va="top", color="#616e7c",
                 family=MONO_FONT, parse_math=False)

    # -- primitives (x, y in inches)
    def text_at(self, x: float, y: float, s: str, size: float, **kw: Any) -> None:
        self.page.fig.text(x / PAGE_W, y / PAGE_H, s, fontsize=size, va="top", ha=kw.pop("ha", "left"),
                           parse_math=False, family=kw.pop("family", BODY_FONT), **kw)

    def lines(self, lines: list[str], size: float, gap: float = 0.06, mono: bool = False, color: str = "black",
              weight: str = "normal", indent: float = 0.0) -> None:
        lh = size * 1.38 / 72
        for line in lines:
            self.ensure(lh)
            self.text_at(MARGIN_X + indent, self.page.y, line, size, family=MONO_FONT if mono else BODY_FONT,
                         color=color, weight=weight)
            self.page.y -= lh
        self.page.y -= gap

    def paragraph(self, text: str, size: float = 9.0, **kw: Any) -> None:
        self.lines(_wrap(text, size), size, **kw)

    # -- blocks
    def heading(self, text: str, size: float = 15.0) -> None:
        self.ensure(0.9)  # keep a heading with at least a little of what follows
        for line in _wrap(text, size, TEXT_W):
            self.lines([line], size, gap=0.0, weight="bold")
        self.page.y -= 0.08

    def guide(self, text: str) -> None:
        size = 8.2
        lines = _wrap(text, size, TEXT_W - 0.3)
        lh = size * 1.38 / 72
        h = lh * len(lines) + 0.16
        page = self.ensure(min(h, 4.0))
        if h <= self.room():  # boxed, light blue, like the HTML callout
            page.fig.add_artist(Rectangle((MARGIN_X / PAGE_W, (page.y - h) / PAGE_H), TEXT_W / PAGE_W, h / PAGE_H,
                                          transform=page.fig.transFigure, facecolor="#eef4ff", edgecolor="#2563eb",
                                          linewidth=0.6))
            page.y -= 0.08
            self.lines(lines, size, gap=0.0, indent=0.15, color="#1f2933")
            page.y -= 0.08 + 0.12
        else:
            self.lines(lines, size, gap=0.12, color="#1f2933")

    def preformatted(self, b: Preformatted) -> None:
        size = 8.0
        lines = _wrap(b.text, size, TEXT_W - 0.2, mono=True)
        self.ensure((8.5 + size * min(3, len(lines))) * 1.38 / 72 + 0.05)  # caption never alone at a page end
        if b.caption:
            self.lines([b.caption], 8.5, gap=0.02, weight="bold")
        if len(lines) > MAX_PRE_LINES:
            lines = lines[:MAX_PRE_LINES] + [f"… ({len(lines) - MAX_PRE_LINES} more lines in the HTML report)"]
        self.lines(lines, size, gap=0.14, mono=True, indent=0.1, color="#243b53")

    def table(self, t: Table) -> None:
        ncol = max(1, len(t.columns))
        size = 8.0 if ncol <= 6 else 7.0 if ncol <= 10 else 6.2
        cpi = _chars_per_inch(size)
        natural = []
        for j in range(ncol):
            longest = max([len(t.columns[j]) * 1.15] + [len(r[j]) for r in t.rows if j < len(r)])  # header is bold
            natural.append(min(max(longest, 3), 60) / cpi + 0.16)
        scale = min(1.0, TEXT_W / sum(natural))
        widths = [w * scale for w in natural]
        maxch = [max(2, int((w - 0.1) * cpi)) for w in widths]
        rh = size * 1.75 / 72
        total_w = sum(widths)

        def row(cells: tuple[str, ...], header: bool) -> None:
            page = self.page
            if header:
                page.fig.add_artist(Rectangle((MARGIN_X / PAGE_W, (page.y - rh) / PAGE_H), total_w / PAGE_W,
                                              rh / PAGE_H, transform=page.fig.transFigure, facecolor="#f0f4f8",
                                              edgecolor="none"))
            x = MARGIN_X
            for j, w in enumerate(widths):
                c = cells[j] if j < len(cells) else ""
                self.text_at(x + 0.05, page.y - 0.035, _cut(c, maxch[j]), size,
                             weight="bold" if header else "normal")
                x += w
            page.y -= rh
            page.fig.add_artist(Line2D([MARGIN_X / PAGE_W, (MARGIN_X + total_w) / PAGE_W], [page.y / PAGE_H] * 2,
                                       transform=page.fig.transFigure, color="#bcccdc", linewidth=0.4))

        cap = t.caption
        self.ensure(rh * (3 + (1 if cap else 0)))
        if cap:
            self.lines(_wrap(cap, 8.5), 8.5, gap=0.02, weight="bold")
        row(t.columns, True)
        for r in t.rows:
            if rh > self.room():
                self.new_page()
                if cap:
                    self.lines([_cut(cap, 90) + " (continued)"], 8.5, gap=0.02, weight="bold")
                row(t.columns, True)
            row(r, False)
        if t.note:
            self.page.y -= 0.03
            self.lines(_wrap(t.note, 7.5), 7.5, gap=0.0, color="#616e7c")
        self.page.y -= 0.16

    def chart(self, c: Chart) -> None:
        """A vector chart drawn into a SubFigure of the page at full text width."""
        from matplotlib.gridspec import GridSpec

        cap_h = 0.32
        h = min(c.height, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM - cap_h - 0.1)
        if h + cap_h > self.room():
            if self.room() - cap_h >= max(0.75 * h, 1.8):  # a little shorter rather than a half-empty page
                h = self.room() - cap_h
            else:
                self.new_page()
        page = self.page
        fig = page.fig
        # subfigures honour grid ratios, not gridspec margins: a 3 × 3 grid whose middle cell is the chart
        gs = GridSpec(3, 3, figure=fig, wspace=0, hspace=0, width_ratios=[MARGIN_X, TEXT_W, PAGE_W - MARGIN_X - TEXT_W],
                      height_ratios=[PAGE_H - page.y, h, page.y - h])
        c.draw(fig.add_subfigure(gs[1, 1]))
        page.y -= h + 0.03
        self.lines(_wrap(c.caption, 7.5), 7.5, gap=0.14, color="#616e7c")

    def figure(self, f: Figure) -> None:
        if not (f.png and f.png.startswith(PNG_MAGIC)):
            what = "SVG only (shown in the HTML report)" if f.svg else "not a valid PNG — not embedded"
            self.paragraph(f"[figure {f.caption}: {what}]", size=8.5, color="#b45309")
            return
        try:
            img = _decode_png(f.png)
        except Exception as e:  # noqa: BLE001 — a corrupt image must not break the report
            self.paragraph(f"[figure {f.caption}: unreadable PNG ({type(e).__name__})]", size=8.5, color="#b45309")
            return
        h_px, w_px = img.shape[0], img.shape[1]
        if w_px / FIG_DPI > 1.25 * TEXT_W and w_px > 1.3 * h_px:  # too wide for portrait: labels would be tiny
            self.landscape_page(img, f.caption)
            return
        w = min(TEXT_W, w_px / FIG_DPI)
        h = w * h_px / w_px
        cap_h = 0.3
        max_h = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM - cap_h - 0.1
        if h > max_h:
            h, w = max_h, max_h * w_px / h_px
        if h + cap_h > self.room():
            if self.room() >= 0.6 * (h + cap_h) and self.room() > 3.0:  # shrink a little rather than waste a page
                h = self.room() - cap_h
                w = h * w_px / h_px
            else:
                self.new_page()
        page = self.page
        x0 = MARGIN_X + (TEXT_W - w) / 2
        ax = page.fig.add_axes((x0 / PAGE_W, (page.y - h) / PAGE_H, w / PAGE_W, h / PAGE_H))
        ax.imshow(img, interpolation="none")  # "none": the PNG is embedded at full resolution
        ax.set_axis_off()
        page.y -= h + 0.04
        self.lines(_wrap(f.caption, 7.5), 7.5, gap=0.18, color="#616e7c", mono=True)


def _blocks(flow: _Flow, blocks: tuple | list) -> None:
    for b in blocks:
        if isinstance(b, Table):
            flow.table(b)
        elif isinstance(b, Chart):
            flow.chart(b)
        elif isinstance(b, Figure):
            flow.figure(b)
        elif isinstance(b, Preformatted):
            flow.preformatted(b)
        elif isinstance(b, Paragraph):
            flow.paragraph(b.text, size=9.0, gap=0.1)


def _section(flow: _Flow, sec: Section, number: int) -> int:
    """Heading + key figure(s) + guide + headline table + notes; a new page only when the heading and the
    first figure do not fit in what is left of the current one."""
    figs = [b for b in sec.blocks if isinstance(b, Chart)]
    first = max(0.75 * figs[0].height, 1.8) + 0.7 if figs else 1.6
    if first + 0.5 > flow.room():
        flow.new_page()
    elif flow.page.y < PAGE_H - MARGIN_TOP - 1e-6:
        flow.page.y -= 0.15
    flow.heading(f"{number}. {sec.title}", size=13.0)
    start = len(flow.pages)
    _blocks(flow, figs)
    flow.guide(sec.guide)
    _blocks(flow, [b for b in sec.blocks if not isinstance(b, Chart)])
    if sec.attention:
        flow.paragraph("The interactive attention view (hover a token) is in the HTML report.", size=8.0,
                       color="#616e7c")
    if sec.edges:
        flow.paragraph("The interactive edge view (circuit size slider, click a node) is in the HTML report.",
                       size=8.0, color="#616e7c")
    return start


def _appendix(flow: _Flow, report: Report) -> None:
    flow.new_page()
    flow.heading("Appendix: every other value", size=15.0)
    for i, sec in enumerate(report.sections, 1):
        if not sec.appendix:
            continue
        flow.heading(f"A{i}. {sec.title}", size=11.5)
        flow.lines([f"source: {sec.source}"], 8.0, gap=0.08, color="#616e7c", mono=True)
        _blocks(flow, sec.appendix)
    flow.heading("Run metadata", size=11.5)
    for k, v in report.metadata:
        wrapped = _wrap(str(v), 8.5, TEXT_W - 1.9)
        flow.ensure(len(wrapped) * 8.5 * 1.38 / 72)
        flow.text_at(MARGIN_X, flow.page.y, k, 8.5, weight="bold")
        flow.lines(wrapped, 8.5, gap=0.03, indent=1.9)
    if report.skipped:
        flow.lines(["Inputs left out:"], 9, gap=0.02, weight="bold", color="#b45309")
        for s in report.skipped:
            flow.lines(_wrap("• " + s, 8), 8, gap=0.0, color="#b45309")


def _title_pages(report: Report, section_pages: list[int], offset: int, appendix_page: int) -> _Flow:
    """Page 1: title, Findings (grouped by results sub-folder), contents with page numbers."""
    from reports.html import findings_groups

    flow = _Flow(title=report.title)
    flow.new_page()
    flow.heading(report.title, size=17)
    flow.lines([f"{len(report.sections)} analyses from {report.results_dir}"], 9, gap=0.15, color="#616e7c")
    flow.lines(["Findings"], 13, gap=0.06, weight="bold")
    for group, items in findings_groups(report):
        if group:
            flow.page.y -= 0.04
            flow.lines([group], 10, gap=0.03, weight="bold", color="#616e7c")
        for f, _ in items:
            flow.lines(_wrap("• " + f.line, 8.8, TEXT_W - 0.15), 8.8, gap=0.035)
    flow.page.y -= 0.2
    flow.lines(["Contents"], 12, gap=0.06, weight="bold")
    rows = [(f"{i}. {sec.title}", p + offset) for i, (sec, p) in enumerate(zip(report.sections, section_pages,
                                                                               strict=True), 1)]
    rows.append(("Appendix: every other value, run metadata", appendix_page + offset))
    for text, p in rows:
        flow.ensure(0.2)
        y = flow.page.y
        flow.text_at(MARGIN_X + TEXT_W, y, str(p), 9, ha="right")
        flow.lines([_cut(text, 95)], 9, gap=0.02)
    return flow


def _footer(page: _Page, title: str, n: int, total: int) -> None:
    w, h = (PAGE_H, PAGE_W) if page.landscape else (PAGE_W, PAGE_H)
    page.fig.text(MARGIN_X / w, 0.35 / h, _cut(title, 90), fontsize=7, color="#9aa5b1", parse_math=False,
                  family=BODY_FONT)
    page.fig.text((w - MARGIN_X) / w, 0.35 / h, f"page {n} of {total}", fontsize=7, color="#9aa5b1",
                  ha="right", family=BODY_FONT)


def render_pdf(report: Report, progress: bool = False) -> tuple[bytes, int, int]:
    """(PDF bytes, number of pages, pages before the appendix). `progress`: a tqdm bar over pages written."""
    import sys

    import matplotlib

    from interp.progress import progress_bar

    with warnings.catch_warnings(), matplotlib.rc_context({"pdf.fonttype": 42}):
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        warnings.filterwarnings("ignore", message=r".*not compatible with tight_layout.*")
        body = _Flow(title=report.title)
        body.new_page()
        starts = [_section(body, sec, i) for i, sec in enumerate(report.sections, 1)]
        n_body = len(body.pages)
        _appendix(body, report)
        n_title = len(_title_pages(report, starts, 0, n_body + 1).pages)  # dry run: how many title pages
        title = _title_pages(report, starts, n_title, n_body + 1)
        pages = title.pages + body.pages
        buf = io.BytesIO()
        with PdfPages(buf, metadata={"CreationDate": None, "ModDate": None, "Title": report.title,
                                     "Creator": "interp report"}) as pdf:
            for n, p in enumerate(progress_bar(pages, desc="pdf pages", unit="page", disable=not progress, file=sys.stderr), 1):
                _footer(p, report.title, n, len(pages))
                pdf.savefig(p.fig)
    return buf.getvalue(), len(pages), n_title + n_body
