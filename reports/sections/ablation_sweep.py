"""Section for `interp ablate-sweep` (kind "ablation_sweep"): Δloss of every head ablated alone."""

from __future__ import annotations

import statistics

from reports import charts
from reports.collect import Stage
from reports.generic import records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    argmax_grid,
    grid_table,
    headline,
    is_number,
    num,
    require,
)


def guide(stage: Stage) -> str:
    return ("Every head is ablated alone (one at a time) and the change in mean next-token loss is recorded: the "
            "grid shows Δloss per (layer, head); red = the loss rises without the head (the model relies on it), "
            "blue = it falls; the outlined cell is the most important head. Most heads of a small model are near 0. "
            "There is no chance level: compare heads with each other and with the clean loss.")


def _cells(grid: object) -> list[float]:
    return [float(v) for row in (grid if isinstance(grid, list) else []) for v in (row if isinstance(row, list) else [])
            if is_number(v)]


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    if d.get("estimate"):  # an AtP estimate of the sweep: only the exactly verified heads may make a finding
        ver = [v for v in d.get("verify") or [] if isinstance(v, dict) and is_number(v.get("exact"))]
        if not ver:
            return []
        v = max(ver, key=lambda r: r["exact"])
        return [Finding("Most important single head (exact, verified top of the AtP estimate)",
                        f"{v['head']}: Δloss {v['exact']:+.3f} nats", f"largest of the {len(ver)} verified heads",
                        baseline=f"AtP estimate {v['estimate']:+.3f}" if is_number(v.get("estimate")) else "")]
    best = argmax_grid(d.get("delta_loss"))
    clean = num(d, "clean_loss")
    if best is None:
        return [Finding("Ablation sweep", "no heads swept", "nothing to judge")]
    layer, head, v = best
    med = statistics.median(_cells(d.get("delta_loss")))
    rel = f" ({v / clean:+.1%} of the clean loss)" if clean else ""
    verdict = (f"head {layer}.{head} matters most" if v > 3 * max(abs(med), 1e-3) else
               "no single head stands out")
    return [Finding("Most important single head", f"{layer}.{head}: Δloss {v:+.3f} nats{rel}", verdict,
                    baseline=f"median head {med:+.3f}")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    grid = require(d, "delta_loss", "grid")
    best = argmax_grid(grid)
    if best is not None:
        n_layers = len(grid)
        marks = [(best[0], best[1])]
        b.blocks.append(Chart(caption="Δloss when each head is ablated alone (nats; outlined: largest)",
                              draw=lambda fig: charts.draw_heatmap(fig, grid, "Δloss per ablated head (nats)",
                                                                   marks=marks, colorbar_label="Δloss (nats)"),
                              height=min(4.2, 1.4 + 0.32 * n_layers)))
    rank = [x for x in d.get("ranking") or [] if isinstance(x, dict)]
    pairs = [("method", d.get("method")), ("clean loss", d.get("clean_loss")),
             ("heads swept", len(_cells(grid)) or None),
             ("top heads (Δloss)", ", ".join(f"{r.get('head')} {r.get('delta_loss'):+.3f}" for r in rank[:5]
                                            if is_number(r.get("delta_loss"))) or None)]
    b.blocks.append(headline(pairs))
    b.used.update({"method", "clean_loss", "delta_loss", "ablated_loss", "frac_hurt", "ranking"})
    for key, cap in (("delta_loss", "Δloss per head (nats)"), ("frac_hurt", "share of tokens hurt per head")):
        t = grid_table(d.get(key), cap)
        if t is not None:
            b.appendix.append(t)
    if rank:
        b.appendix.append(records_table(rank, caption="heads ranked by Δloss (largest first)", max_rows=20))
    return b


SECTION = SectionSpec(kind="ablation_sweep", title="Ablation sweep (every head alone)", order=55, guide=guide,
                      findings=findings, build=build)
