"""Section for what fine-tuning changed (`interp report PARENT CHILD --compare`, kind "finetune_compare")."""

from __future__ import annotations

import math

from reports import charts
from reports.collect import Stage
from reports.generic import kv_table, records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec


def _ci(c: dict) -> str:
    return f"[{c['lo']:.3f}, {c['hi']:.3f}]"


def guide(stage: Stage) -> str:
    v = stage.data.get("vocab_size")
    return ("Both models are scored on the held-out TEST splits of the old (pre-training) and new (fine-tuning) "
            "corpora, the same windows for both, so differences are paired; intervals are 95% bootstrap over windows. "
            "Forgetting = child − parent loss on the old corpus (nats/token; > 0: it forgot). Per head, the attention "
            "distance is the Jensen–Shannon distance (base 2, 0 = identical pattern, 1 = disjoint) between the two "
            "models' patterns on the new corpus, and the ablation change is the child's mean-ablation Δloss minus the "
            f"parent's (> 0: the head matters more after fine-tuning). Uniform guessing has perplexity {v} (dashed).")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    f = d["forgetting"]
    new = d["perplexity"]["new"]
    top = (d.get("top_changed_heads") or [None])[0]
    out = [Finding("Fine-tune: forgetting", f"old-corpus Δloss {f['value']:+.3f} nats/token", f["verdict"],
                   interval=_ci(f), baseline="0 = no change"),
           Finding("Fine-tune: new corpus", f"perplexity {new['parent']['value']:.2f} → {new['child']['value']:.2f}",
                   "improved" if new["delta_loss"]["hi"] < 0 else "not distinguishable from no change"
                   if new["delta_loss"]["lo"] <= 0 else "worse", interval=_ci(new["delta_loss"]) + " Δloss",
                   baseline=f"uniform {d['perplexity']['chance']}")]
    if top:
        v = "changed" if top["lo"] > 0 or top["hi"] < 0 else "not distinguishable from no change"
        out.append(Finding("Fine-tune: most changed head", f"{top['head']} ablation Δloss change {top['change']:+.3f}",
                           v, interval=f"[{top['lo']:.3f}, {top['hi']:.3f}]", baseline="0 = same importance"))
    return out


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    specs = [("attention JS distance parent↔child", d["attention_distance"]["value"]),
             ("ablation Δloss change (child − parent)", d["ablation"]["change"]["value"])]
    b.blocks.append(Chart(caption="per head: how far each head's attention moved, and how its importance changed",
                          draw=lambda fig: _two_heatmaps(fig, specs), height=3.0))
    rows = []
    for corpus in ("old", "new"):
        p = d["perplexity"][corpus]
        rows.append({"corpus": f"{corpus} ({d['corpora'][corpus]['corpus']})", "parent ppl": p["parent"]["value"],
                     "parent CI": _ci(p["parent"]), "child ppl": p["child"]["value"], "child CI": _ci(p["child"]),
                     "Δloss": p["delta_loss"]["value"], "Δloss CI": _ci(p["delta_loss"]), "windows": p["n_windows"]})
    b.blocks.append(records_table(rows, caption="perplexity on both test splits (paired windows)"))
    b.appendix.append(records_table(list(d.get("top_changed_heads") or []), caption="heads with the largest change"))
    b.appendix.append(kv_table([("parent", d["parent"]), ("child", d["child"]),
                                ("parent weights sha256", d["parent_weights_sha256"])], caption="runs"))
    b.used.update({"perplexity", "forgetting", "attention_distance", "ablation", "top_changed_heads", "corpora",
                   "parent", "child", "parent_weights_sha256"})
    return b


def _two_heatmaps(fig, specs) -> None:
    axes = fig.subplots(1, 2)
    for ax, (title, m) in zip(axes, specs, strict=True):
        lim = max((abs(v) for row in m for v in row if v is not None and math.isfinite(v)), default=1e-9) or 1e-9
        im = ax.imshow(m, cmap="RdBu_r" if "change" in title else "viridis",
                       vmin=-lim if "change" in title else 0, vmax=lim, aspect="auto")
        ax.set_title(charts.esc(title), fontsize=9)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        fig.colorbar(im, ax=ax)


SECTION = SectionSpec(kind="finetune_compare", title="What fine-tuning changed", order=14, guide=guide,
                      findings=findings, build=build)
