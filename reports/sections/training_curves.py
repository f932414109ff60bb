"""Section for overlaid training curves (`interp.training_curves`, results.json of kind "training_curves")."""

from __future__ import annotations

from reports import charts
from reports.collect import Stage
from reports.generic import records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec

METRICS = (("train_loss", "train loss", "nats/token"), ("val_loss", "val loss", "nats/token"), ("lr", "learning rate", "lr"),
           ("grad_norm", "gradient norm", "L2 norm"), ("tokens_per_s", "throughput", "tokens/s"))


def guide(stage: Stage) -> str:
    return ("One line per run (a sweep's trials, or a parent and its fine-tune on one axis: the fine-tune's steps and "
            "tokens continue from the checkpoint it started from, marked in the table). Loss in nats/token; gradient "
            "norm before clipping.")


def findings(stage: Stage) -> list[Finding]:
    runs = stage.data.get("runs") or []
    best = [(min(p["val_loss"] for p in r["points"] if "val_loss" in p), r["label"]) for r in runs
            if any("val_loss" in p for p in r["points"])]
    if not best:
        return [Finding("Training curves", f"{len(runs)} runs, no val loss logged", "nothing to compare")]
    v, label = min(best)
    return [Finding("Training curves", f"lowest val loss {v:.3f} ({label}) of {len(runs)} runs", "descriptive",
                    baseline="")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    for x in ("step", "tokens"):
        specs = []
        for key, title, unit in METRICS:
            series = {r["label"]: ([p[x] for p in r["points"] if key in p], [p[key] for p in r["points"] if key in p])
                      for r in d["runs"]}
            series = {k: v for k, v in series.items() if v[0]}
            if series:
                specs.append((title, series, unit, None))
        if specs:
            b.blocks.append(Chart(caption=f"training curves against {x} (overlaid runs)",
                                  draw=lambda fig, s=specs, x=x: charts.draw_panels(
                                      fig, s, "optimizer step" if x == "step" else "tokens seen"), height=4.8))
    rows = [{"run": r["label"], "parent": r["parent"], "starts at step": r["step_offset"],
             "starts at tokens": r["token_offset"], "points": len(r["points"])} for r in d["runs"]]
    b.blocks.append(records_table(rows, caption="runs"))
    b.used.update({"runs", "boundaries"})
    return b


SECTION = SectionSpec(kind="training_curves", title="Training curves", order=11, guide=guide, findings=findings,
                      build=build)
