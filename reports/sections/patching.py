"""Section for `interp patch` (kind "patching"): fraction of the clean−corrupt gap each component restores."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.generic import records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    grid_table,
    headline,
    is_number,
    matrix_shape,
    num,
    require,
)

LOCALISED = 0.5  # one component restoring at least half of the gap: "localised"


def guide(stage: Stage) -> str:
    d = stage.data
    way = ("run on the corrupted prompt with one clean activation patched in" if d.get("direction", "denoise") ==
           "denoise" else "run on the clean prompt with one corrupted activation patched in")
    return ("Activation patching: the model is " + way + ", one component at a time (heads = hook_z per head, resid "
            "= residual stream per position, …), and the metric is re-measured. The grid shows the fraction of the "
            "clean − corrupt gap the patch restores: 0 = no effect, 1 = the clean behaviour fully restored, < 0 = "
            "pushes the other way. A component near 1 localises the behaviour; many small ones mean it is spread "
            "out. AtP/AtP* are gradient estimates of the same quantity (compare them with exact in the appendix).")


def _first_grid(d: dict[str, Any]) -> tuple[str, str, Any] | None:
    comps = d.get("components") if isinstance(d.get("components"), dict) else {}
    for kind, per in comps.items():
        if not isinstance(per, dict):
            continue
        for method in ("exact", *[m for m in per if m != "exact"]):
            g = per.get(method)
            if isinstance(g, dict) and matrix_shape(g.get("fraction")) is not None:
                return kind, method, g["fraction"]
    return None


def gap_refusal(d: dict[str, Any]) -> str | None:
    """The reason fractions of the gap must not be shown (results with gap_meaningful = False), else None."""
    if d.get("gap_meaningful") is False:
        return str(d.get("gap_note") or "the clean − corrupt gap is noise-sized; fractions of it are not meaningful")
    return None


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    why = gap_refusal(d)
    if why:
        return [Finding(f"Patching ({d.get('metric', '?')})", "fractions of the gap not meaningful", why)]
    tops = d.get("top") if isinstance(d.get("top"), dict) else {}
    gap = num(d, "gap")
    if "exact" in tops:
        method = "exact"
        top = [t for t in (tops.get(method) or []) if isinstance(t, dict) and is_number(t.get("fraction"))]
    else:  # estimates only: a finding comes from the exactly re-measured (--verify-top) components, or none
        ver = d.get("verify") if isinstance(d.get("verify"), dict) else {}
        method = next(iter(ver), None)
        top = sorted(({**v, "fraction": v["exact"]} for v in ver.get(method) or []
                      if isinstance(v, dict) and is_number(v.get("exact"))), key=lambda v: -v["fraction"])
        if not top:
            return []  # an unverified estimate never reaches the Findings (the section shows it, labelled)
        method = f"exact, verified top-{len(ver[method])} of {method}"
    if not top:
        return [Finding("Patching", "no components scored", "nothing to judge")]
    t = top[0]
    verdict = ("the behaviour is localised in this component" if t["fraction"] >= LOCALISED else
               "no single component restores most of the gap")
    return [Finding(f"Patching ({d.get('metric', '?')}, {method})",
                    f"{t.get('kind')} {t.get('component')} restores {t['fraction']:.0%} of the gap"
                    + (f" ({gap:+.3g})" if gap is not None else ""), verdict,
                    baseline="0 = no effect, 100% = clean restored")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "components", "dict")
    require(d, "top", "dict")
    why = gap_refusal(d)
    g = None if why else _first_grid(d)
    if why:
        b.blocks.append(headline([("fractions restored", "not meaningful: " + why)]))
    if g is not None:
        kind, method, grid = g
        shp = matrix_shape(grid)
        b.blocks.append(Chart(caption=f"fraction of the clean − corrupt gap restored by patching each {kind} "
                                      f"component ({method})",
                              draw=lambda fig: charts.draw_heatmap(fig, grid, f"patching {kind} ({method})",
                                                                   xlabel="head" if kind in ("heads", "q", "k") else
                                                                   "position" if kind == "resid" else "component",
                                                                   center_zero=True, colorbar_label="fraction restored"),
                              height=min(4.2, 1.4 + 0.3 * (shp[0] if shp else 4))))
    tops = d.get("top") if isinstance(d.get("top"), dict) else {}
    pairs = [("metric", d.get("metric")), ("direction", d.get("direction")), ("pairs", d.get("n_pairs")),
             ("clean / corrupt metric", f"{d.get('clean_metric'):.4g} / {d.get('corrupt_metric'):.4g}"
              if is_number(d.get("clean_metric")) and is_number(d.get("corrupt_metric")) else None),
             ("gap (clean − corrupt)", d.get("gap"))]
    for m, top in (tops.items() if not why else ()):
        pairs.append((f"top components ({m})", ", ".join(f"{t.get('component')} {t.get('fraction'):+.2f}" for t in top[:5]
                                                       if isinstance(t, dict) and is_number(t.get("fraction")))))
    b.blocks.append(headline(pairs))
    b.used.update({"metric", "direction", "n_pairs", "clean_metric", "corrupt_metric", "gap", "top", "components",
                   "gap_meaningful", "gap_note", "logit_scale"})
    if why:
        return b
    comps = d.get("components") if isinstance(d.get("components"), dict) else {}
    for kind, per in comps.items():
        for method, gg in (per.items() if isinstance(per, dict) else []):
            if isinstance(gg, dict):
                t = grid_table(gg.get("fraction"), f"{kind} ({method}): fraction of the gap restored")
                if t is not None:
                    b.appendix.append(t)
    for m, top in tops.items():
        recs = [t for t in top if isinstance(t, dict)]
        if recs:
            b.appendix.append(records_table(recs, caption=f"top components ({m})"))
    return b


SECTION = SectionSpec(kind="patching", title="Activation patching", order=58, guide=guide, findings=findings,
                      build=build)
