"""Section for a hyperparameter sweep (`interp sweep`, results.json of kind "sweep")."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.generic import kv_table, records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, fmt


def guide(stage: Stage) -> str:
    d = stage.data
    return (f"Each trial is an ordinary training run with the [train] settings and one point of the search space "
            f"({d.get('sampler')}); its value is the best validation loss in nats/token (lower is better). The "
            "median pruner stops a trial whose val loss at an eval step is worse than the median of earlier trials at "
            "that step; pruned trials show their curve up to that step. Trials share the seed, so data order is the "
            "same for every trial. One trial per configuration: differences smaller than the run-to-run spread of a "
            "seed (not measured here) are not distinguishable.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    b = d.get("best")
    c = d.get("compute") or {}
    if not b:
        return [Finding("Sweep", "no completed trial", "nothing to compare")]
    vals = sorted(t["value"] for t in d["trials"] if t["state"] == "COMPLETE" and t["value"] is not None)
    worst = f"; worst completed {vals[-1]:.3f}" if len(vals) > 1 else ""
    return [Finding("Sweep best config", f"trial {b['number']} {b['params']}: val loss {b['value']:.3f}{worst}",
                    f"{c.get('trials_finished')} trials, {c.get('trials_pruned')} pruned; "
                    f"{c.get('steps_run')} of {c.get('steps_without_pruning')} steps run "
                    f"({100 * c.get('saved_frac', 0):.0f}% saved by pruning)", baseline="single seed per config")]


def _curves(d: dict[str, Any]) -> Chart | None:
    series = {}
    for t in d["trials"]:
        pts = sorted((int(k), v) for k, v in (t.get("intermediate") or {}).items())
        if pts:
            name = f"#{t['number']} " + ",".join(f"{k}={fmt(v)}" for k, v in t["params"].items())
            series[name + (" (pruned)" if t["state"] == "PRUNED" else "")] = ([p[0] for p in pts], [p[1] for p in pts])
    if not series:
        return None
    specs = [("val loss per trial (overlaid)", series, "val loss (nats/token)", None)]
    return Chart(caption="intermediate validation loss of every trial (what the median pruner compares)",
                 draw=lambda fig: charts.draw_panels(fig, specs, "optimizer step"), height=3.0)


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    ch = _curves(d)
    if ch is not None:
        b.blocks.append(ch)
    rows = [{"trial": t["number"], "state": t["state"], **t["params"], "val loss": t["value"],
             "steps": t["steps_run"], "of": t["planned_steps"]} for t in d["trials"]]
    b.blocks.append(records_table(rows, caption="trials (value = best val loss, nats/token)"))
    c = d.get("compute") or {}
    pairs = [("sampler", d.get("sampler")), ("pruner", d.get("pruner")), ("storage", d.get("storage")),
             ("steps run / without pruning", f"{c.get('steps_run')} / {c.get('steps_without_pruning')}"),
             ("importance", d.get("importance") or d.get("importance_note"))]
    if d.get("best"):
        pairs.insert(0, ("best", f"trial {d['best']['number']}: {d['best']['params']} → {d['best']['value']:.4f}"))
    if d.get("retrained"):
        pairs.append(("retrained best", d["retrained"]))
    b.appendix.append(kv_table(pairs, caption="sweep settings and outcome"))
    b.used.update({"trials", "compute", "sampler", "pruner", "storage", "importance", "importance_note", "best",
                   "retrained"})
    return b


SECTION = SectionSpec(kind="sweep", title="Hyperparameter sweep", order=12, guide=guide, findings=findings,
                      build=build)
