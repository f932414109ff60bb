"""Render a `Report` as ONE self-contained HTML file.

Self-contained: CSS and the small attention-view script are inline, figures are `data:` URIs (PNG, or
SVG as an <img> — an SVG inside <img> cannot run scripts), nothing is fetched. A Content-Security-Policy
meta tag makes that a guarantee: no network (`default-src 'none'`), images only from `data:`, and only
the report's own style/script blocks run (pinned by their sha256), so even a mis-escaped string could
not execute.

Escaping: every piece of user text (prompts, generations, tokens, dataset rows, file names, keys) goes
through `html.escape`. The attention data for the interactive view is JSON inside
`<script type="application/json">`, with `<`, `>`, `&`, U+2028/9 written as \\uXXXX escapes, so a
token like `</script>` cannot end the block; the script reads it with JSON.parse and writes tokens
with textContent (never innerHTML).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from reports.document import Chart, Figure, Finding, Paragraph, Preformatted, Report, Section, Table
from reports.html_views import ATTENTION_JS, EDGES_JS, FEATURES_JS, VIEWS_HEAD, VIEWS_TAIL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_NUM = re.compile(r"^[-+]?(\d[\d,]*\.?\d*(e[-+]?\d+)?|\.\d+(e[-+]?\d+)?|nan|inf|—)%?$", re.IGNORECASE)

def esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


def json_for_script(obj: Any) -> str:
    """JSON safe to place inside <script type="application/json">: no '<', '>', '&' or line separators."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, rep in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        s = s.replace(ch, rep)
    return s


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def css() -> str:
    return Path(__file__).with_name("report.css").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- blocks
def _table(t: Table) -> str:
    out = ['<div class="table-wrap">']
    if t.caption:
        out.append(f'<div class="tcap">{esc(t.caption)}</div>')
    out.append("<table>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in t.columns) + "</tr></thead><tbody>")
    kv = t.columns == ("key", "value")
    for row in t.rows:
        cells = []
        for j, c in enumerate(row):
            if kv and j == 0:
                cells.append(f"<th>{esc(c)}</th>")
            else:
                cls = ' class="num"' if _NUM.match(c) else ' class="long"' if len(c) > 40 else ""
                cells.append(f"<td{cls}>{esc(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if t.note:
        out.append(f'<p class="note">{esc(t.note)}</p>')
    out.append("</div>")
    html_ = "".join(out)
    return html_.replace('<table>', '<table class="kv">', 1) if kv else html_


def figure_src(f: Figure) -> str | None:
    """data: URI for a saved figure (SVG preferred: vector; PNG as fallback), None if neither is valid."""
    if f.svg and b"<svg" in f.svg[:4096]:
        return "data:image/svg+xml;base64," + base64.b64encode(f.svg).decode("ascii")
    if f.png and f.png.startswith(PNG_MAGIC):
        return "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")
    return None


def _figure(f: Figure, cls: str = "") -> str:
    src = figure_src(f)
    if src is None:  # collect() refuses invalid files; a hand-built Report may still hold one
        return f'<p class="skipped">figure {esc(f.caption)} could not be embedded: not a valid PNG or SVG file.</p>'
    return (f'<figure{cls}><img src="{src}" alt="{esc(f.caption)}" loading="eager">'
            f"<figcaption>{esc(f.caption)}</figcaption></figure>")


def chart_svg(c: Chart, width: float | None = None) -> bytes:
    """The chart as SVG at full print width (vector; fonts as paths, so it looks the same everywhere)."""
    from reports import charts

    return charts.render(c.draw, c.height, "svg", **({"width": width} if width else {}))


def _chart(c: Chart, cls: str = "key", width: float | None = None, extra: str = "") -> str:
    src = "data:image/svg+xml;base64," + base64.b64encode(chart_svg(c, width)).decode("ascii")
    return (f'<figure class="{cls}"><img src="{src}" alt="{esc(c.caption)}" loading="eager">'
            f"<figcaption>{esc(c.caption)}{extra}</figcaption></figure>")


# the first screen shows the Findings beside ONE key figure: the first section of these kinds that has a chart
HERO_KINDS = ("ablation_sweep", "coref_probe", "patching", "attention_evolution", "trimmed_eval", "training")
HERO_WIDTH_IN = 4.8  # drawn narrower than print width so its labels stay legible beside the Findings


def hero(report: Report) -> tuple[int, Section, Chart] | None:
    """(section number, section, chart) of the figure shown beside the Findings."""
    for kind in HERO_KINDS:
        for i, s in enumerate(report.sections, 1):
            if s.kind == kind:
                c = next((b for b in s.blocks if isinstance(b, Chart)), None)
                if c is not None:
                    return i, s, c
    return None


def _block(b: Any) -> str:
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Chart):
        return _chart(b)
    if isinstance(b, Figure):
        return _figure(b)
    if isinstance(b, Preformatted):
        cap = f'<div class="pre-caption">{esc(b.caption)}</div>' if b.caption else ""
        return f"{cap}<pre>{esc(b.text)}</pre>"
    if isinstance(b, Paragraph):
        return f"<p>{esc(b.text)}</p>"
    raise TypeError(f"unknown block {type(b).__name__}")


def _attention_view(sec: Section) -> str:
    if not sec.attention:
        return ""
    data_id = f"attn-{sec.id}"
    return (f'<div class="attn-view" data-attn="{esc(data_id)}"><h3>Interactive attention view</h3>'
            '<div class="attn-controls"><label>layer <select class="attn-layer"></select></label>'
            '<label>head <select class="attn-head"></select></label>'
            '<span>hover or tab to a token: key tokens are shaded by how much it attends to them</span></div>'
            '<div class="attn-tokens"></div><p class="attn-info"></p></div>'
            f'<script type="application/json" id="{esc(data_id)}">{json_for_script(sec.attention)}</script>')


def _feature_view(sec: Section) -> str:
    if not sec.features:
        return ""
    data_id = f"feat-{sec.id}"
    return (f'<div class="feat-view" data-feat="{esc(data_id)}"><h3>Interactive feature browser</h3>'
            '<div class="feat-controls"><label>search latent id or context text '
            '<input class="feat-search" type="search"></label></div>'
            '<div class="feat-body"><ol class="feat-list"></ol><div class="feat-detail"></div></div></div>'
            f'<script type="application/json" id="{esc(data_id)}">{json_for_script(sec.features)}</script>')


def _edge_view(sec: Section) -> str:
    if not sec.edges:
        return ""
    data_id = f"edges-{sec.id}"
    return (f'<div class="edge-view" data-edges="{esc(data_id)}"><h3>Interactive edge view</h3>'
            '<div class="edge-controls"><label>top edges <input class="edge-k" type="range" min="1" step="1">'
            '</label> <span class="edge-info"></span></div>'
            '<div class="edge-body"><div class="edge-svg"></div><div class="edge-list"><table><thead><tr><th>#</th>'
            '<th>edge</th><th>score</th></tr></thead><tbody></tbody></table></div></div>'
            '<p class="edge-help">red: patching the edge to its corrupt value raises the metric, blue: lowers it; '
            'q solid, k dashed, v dotted; click a node to keep only its edges.</p></div>'
            f'<script type="application/json" id="{esc(data_id)}">{json_for_script(sec.edges)}</script>')


def _section(sec: Section, number: int) -> str:
    """Heading, key figure(s) first, then the reading guide, the headline table and short notes."""
    parts = [f'<section id="{esc(sec.id)}"><h2>{number}. {esc(sec.title)}</h2>']
    figs = [b for b in sec.blocks if isinstance(b, (Chart, Figure))]
    rest = [b for b in sec.blocks if not isinstance(b, (Chart, Figure))]
    parts += [_block(b) for b in figs]
    parts.append(f'<div class="guide"><strong>How to read this.</strong> {esc(sec.guide)}</div>')
    parts.append(_attention_view(sec))
    parts.append(_feature_view(sec))
    parts.append(_edge_view(sec))
    parts += [_block(b) for b in rest]
    if sec.appendix or sec.raw:
        parts.append(f'<p class="source">source: {esc(sec.source)} · every other value: '
                     f'<a href="#appx-{esc(sec.id)}">appendix</a></p>')
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _appendix(sec: Section, number: int) -> str:
    body = "".join(_block(b) for b in sec.appendix)
    if sec.raw:
        body += f"<details><summary>raw {esc(Path(sec.source).name)}</summary><pre>{esc(sec.raw)}</pre></details>"
    return (f'<details class="appx" id="appx-{esc(sec.id)}"><summary>{number}. {esc(sec.title)} — '
            f"{len(sec.appendix)} more tables/figures ({esc(sec.source)})</summary>{body}</details>")


def findings_groups(report: Report) -> list[tuple[str, list[tuple[Finding, int]]]]:
    """Findings grouped by the results sub-folder of their section ('' = top level), in report order."""
    groups: dict[str, list[tuple[Finding, int]]] = {}
    for i, s in enumerate(report.sections, 1):
        parts = s.source.split("/")
        g = parts[0] if len(parts) > 2 else ""  # gemma/coref/results.json → "gemma"
        for f in s.findings:
            groups.setdefault(g, []).append((f, i))
    return list(groups.items())


def _findings(report: Report) -> str:
    out = ['<section id="findings" class="findings"><div class="hero"><div class="hero-text"><h2>Findings</h2>']
    for group, items in findings_groups(report):
        if group:
            out.append(f"<h3>{esc(group)}</h3>")
        out.append("<table><tbody>")
        for f, _ in items:
            extra = " ".join(x for x in (esc(f.interval), f"<span class=base>{esc(f.baseline)}</span>" if f.baseline else "") if x)
            out.append(f'<tr><th><a href="#{esc(f.section_id)}">{esc(f.label)}</a></th><td>{esc(f.value)} {extra}</td>'
                       f'<td class="verdict">{esc(f.verdict)}</td></tr>')
        out.append("</tbody></table>")
    out.append("</div>")
    h = hero(report)
    if h is not None:
        i, sec, c = h
        out.append('<div class="hero-fig">' + _chart(c, "hero-chart", HERO_WIDTH_IN, f' — <a href="#{esc(sec.id)}">{i}. '
                                                                         f"{esc(sec.title)}</a>") + "</div>")
    out.append("</div></section>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- page
def render_html(report: Report) -> str:
    """The whole report as one HTML document (str): Findings, one section per analysis, appendix."""
    style = css()
    script = (ATTENTION_JS if any(s.attention for s in report.sections) else "") + (
        FEATURES_JS if any(s.features for s in report.sections) else "") + (
        EDGES_JS if any(s.edges for s in report.sections) else "")
    script = VIEWS_HEAD + script + VIEWS_TAIL if script else ""
    csp = f"default-src 'none'; img-src data:; style-src {_csp_hash(style)}; base-uri 'none'; form-action 'none'"
    if script:
        csp += f"; script-src {_csp_hash(script)}"
    toc = [f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in report.sections]
    meta_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in report.metadata)
    skipped = ""
    if report.skipped:
        skipped = ('<p class="skipped">Inputs left out:</p><ul class="skipped">'
                   + "".join(f"<li>{esc(x)}</li>" for x in report.skipped) + "</ul>")
    body = "\n".join(_section(s, i) for i, s in enumerate(report.sections, 1))
    appendix = "\n".join(_appendix(s, i) for i, s in enumerate(report.sections, 1))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(report.title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f'<header class="top"><h1>{esc(report.title)}</h1>'
        f"<p>{len(report.sections)} analyses from {esc(report.results_dir)} · "
        '<a href="#appendix">appendix</a> · <a href="#metadata">run metadata</a></p></header>\n'
        '<div class="layout">\n<main>\n'
        f"{_findings(report)}\n{body}\n"
        f'<section id="appendix"><h2>Appendix</h2><nav class="toc" aria-label="Contents"><ol>{"".join(toc)}</ol></nav>'
        f"{appendix}"
        f'<details id="metadata" open><summary>Run metadata</summary><div class="table-wrap"><table class="kv"><tbody>'
        f"{meta_rows}</tbody></table></div>{skipped}</details></section>\n</main>\n</div>\n"
        "<footer>Generated by interp from the results files listed above; figures are embedded, nothing is "
        "loaded from the network.</footer>\n"
        + (f"<script>{script}</script>\n" if script else "")
        + "</body>\n</html>\n"
    )
