"""Report sections: one module per result kind, behind a small lazy registry.

Protocol — to give a new result kind its section (patching, head formation, learning curves, ...):

1. Write `reports/sections/<module>.py` defining ONE module-level `SECTION = SectionSpec(...)`
   (`reports.sections.base`), with

       kind      the result's `kind` string (must equal the registry key)
       title     section heading, e.g. "Activation patching"
       order     position in the report: training 10, generation 20, perplexity 30, attention 40–45,
                 ablation 50–55, patching 58, probes 60, sensitivity 70, trimmed 75, CI 90
       guide     (stage) -> str: the reading guide — what the number means, its chance/baseline
                 level (computed from the result where it depends on it), how to read the figure
       findings  (stage) -> list[Finding]: 1–2 lines for the report's first page, each with the number,
                 its interval, the chance/baseline and a plain verdict. Use `base.verdict_vs` for any
                 number with an interval: a CI that contains chance says "not distinguishable from
                 chance". No interval → a descriptive verdict, never "significant".
       build     (stage) -> Built: `blocks` = the key figure FIRST (a `Chart` drawn from the result
                 dict with `reports.charts.draw_*`, full width, labels ≥ 8 pt) then one SHORT headline
                 table; `appendix` = any other tables; `used` = the result keys shown (every other key
                 is added to the appendix generically, so nothing is ever dropped).

   `stage.data` is the results.json dict, `stage.figures` the PNG/SVG files saved beside it (they go
   to the appendix), `stage.run`/`stage.metrics` a training run's run.json/metrics.jsonl.
2. Declare it in the analysis unit's `sections` (`interp.units.Unit`): `"<kind>": "<module>:SECTION"`; the
   registry (`REGISTRY`) is derived from the units. A unit's section module imports only `interp.kit.*`.
3. The contract test (tests/unit/test_report_contract.py) runs every analysis on the tiny fixtures and
   asserts each section renders tailored with decodable figures — add your analysis' call there.

Rules: a builder reads only the result dict (never a model, never torch). It does not catch its own
errors: a result it cannot read is an error (`RenderError` → `interp report` exits 2, nothing written),
never a silent generic view. An unknown kind, or a schema_version newer than this interp writes, is
refused the same way.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from interp.errors import UserError
from interp.results import SCHEMA_VERSION
from reports.collect import Stage
from reports.document import Block, Figure, Paragraph, Section
from reports.generic import generic_blocks
from reports.sections.base import Built, SectionSpec


def __getattr__(name: str) -> Any:
    """`REGISTRY` (result kind → "module:attribute" of its SectionSpec, from the analysis units) and the old
    `SECTIONS` (every spec, imported on access)."""
    if name == "REGISTRY":
        return _registry()
    if name == "SECTIONS":
        return all_sections()
    raise AttributeError(name)


def _registry() -> dict[str, str]:
    from interp.units import sections_table

    return sections_table()

RAW_JSON_CHARS = 20_000  # raw results.json shown (HTML <details>) up to this many characters


class RenderError(UserError):
    """A results file the report cannot render tailored (unknown kind, newer schema, unreadable fields)."""


_LOADED: dict[str, SectionSpec] = {}  # target -> spec


def get_section(kind: str) -> SectionSpec:
    """The SectionSpec of `kind` (imported lazily); RenderError for a kind the registry does not know."""
    registry = _registry()
    if registry.get(kind) in _LOADED:
        return _LOADED[registry[kind]]
    ref = registry.get(kind)
    if ref is None:
        raise RenderError(f"no report section for result kind {kind!r} (known: {', '.join(sorted(registry))}); "
                          "upgrade interp, or remove that results.json from the folder")
    mod, _, attr = ref.partition(":")
    spec = getattr(importlib.import_module(mod), attr)
    if not isinstance(spec, SectionSpec) or spec.kind != kind:
        raise RuntimeError(f"registry entry {kind!r} → {ref} is not a SectionSpec of that kind")
    _LOADED[ref] = spec
    return spec


def all_sections() -> dict[str, SectionSpec]:
    """Every registered section (imports them all)."""
    return {k: get_section(k) for k in _registry()}


def check_stage(stage: Stage) -> None:
    """Refuse what cannot be rendered tailored: unknown kind, schema_version newer than this interp writes."""
    get_section(stage.kind)
    v = stage.data.get("schema_version")
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v > SCHEMA_VERSION):
        raise RenderError(f"{stage.source}: schema_version {v!r} is newer than this interp reads "
                          f"({SCHEMA_VERSION}); upgrade interp to report on it")


def order_key(stage: Stage) -> tuple[int, str]:
    return (get_section(stage.kind).order, stage.source)


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")[:40] or "section"


def raw_json(data: dict[str, Any]) -> str:
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    if len(text) > RAW_JSON_CHARS:
        text = text[:RAW_JSON_CHARS] + f"\n… ({len(text) - RAW_JSON_CHARS:,} more characters in the file)"
    return text


def _folder_figures(stage: Stage) -> list[Block]:
    return [Figure(caption=f.rel + (".svg" if f.svg else ".png"), png=f.png, svg=f.svg) for f in stage.figures]


_READ_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError)


def build_section(stage: Stage, index: int) -> Section:
    """One stage → its tailored Section (RenderError when its result cannot be read as its kind)."""
    check_stage(stage)
    spec = get_section(stage.kind)
    try:
        built: Built = spec.build(stage)
        findings = spec.findings(stage)
        guide = spec.guide(stage)
    except _READ_ERRORS as e:
        raise RenderError(f"{stage.source}: a {stage.kind!r} result this interp cannot read "
                          f"({type(e).__name__}: {str(e)[:120]}); was it written by another version?") from e
    sid = f"s{index}-{_slug(stage.kind)}"
    appendix: list[Block] = list(built.appendix)
    rest = generic_blocks(stage.data, skip=built.used | {"schema_version", "kind"})
    if rest:
        appendix += [Paragraph("Other values from the results file:"), *rest]
    appendix += _folder_figures(stage)
    blocks = list(built.blocks) or [Paragraph("This results file has no headline values.")]
    where = stage.rel if stage.rel != "." else "top level"
    data = stage.data if stage.kind != "training" or stage.data else (stage.run or {})
    from dataclasses import replace

    return Section(id=sid, title=f"{spec.title} ({where})", kind=stage.kind, source=stage.source, guide=guide,
                   blocks=tuple(blocks), findings=tuple(replace(f, section_id=sid) for f in findings),
                   appendix=tuple(appendix), tailored=True, attention=built.attention, features=built.features,
                   edges=built.edges,
                   raw=raw_json(data))

