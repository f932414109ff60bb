"""Section for `interp ablate` (kind "ablation"): clean vs ablated loss, Δ by position, generations."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Preformatted
from reports.generic import kv_table, records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, fmt, headline, is_number, num, require
from reports.sections.generation import visible

MATTERS = 0.02  # relative loss increase (2%) above which the heads are said to matter for this text


def heads_text(v: Any) -> str:
    if isinstance(v, list) and all(isinstance(h, list) and len(h) == 2 for h in v):
        s = ", ".join(f"{h[0]}.{h[1]}" for h in v[:8])
        return s + (f" … ({len(v)} heads)" if len(v) > 8 else "")
    return fmt(v)


def guide(stage: Stage) -> str:
    return ("The selected heads' outputs (hook_z) are replaced — zero: by 0; mean: by their mean over the eval "
            "positions; resample: by their value at another random position — and the mean next-token loss (nats) "
            "on the eval text is compared with the clean model. Δloss = ablated − clean: > 0 means the heads help, "
            "≈ 0 that the model does not rely on them. There is no chance level; judge Δloss against the clean loss, "
            "the share of tokens it hurts and the single-head sweep. The figure shows where in the context window "
            "the loss changes; the continuations (appendix) show the behavioural effect (e.g. more repetition).")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    clean, abl = num(d, "clean_loss"), num(d, "ablated_loss")
    if clean is None or abl is None:
        return [Finding("Ablation", "no losses recorded", "nothing to judge")]
    delta = abl - clean
    rel = delta / clean if clean else 0.0
    hurt = num(d.get("delta") or {}, "frac_hurt")
    what = f"heads {d.get('heads_spec') or heads_text(d.get('heads'))} ({d.get('method', '?')})"
    value = f"loss {clean:.3f} → {abl:.3f} nats (Δ {delta:+.3f}, {rel:+.1%})"
    if hurt is not None:
        value += f", {hurt:.0%} of tokens worse"
    ci = d.get("delta_loss_ci")
    ci = ci if isinstance(ci, list) and len(ci) == 2 and all(is_number(v) for v in ci) else None
    if ci is not None and ci[0] <= 0 <= ci[1]:
        verdict = "not distinguishable from no effect"
    else:
        verdict = ("the model relies on these heads for this text" if rel > MATTERS else
                   "ablating them helps (they hurt on this text)" if rel < -MATTERS else "little effect on the loss")
    interval = f"Δ 95% bootstrap over {d.get('n_windows')} windows [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    return [Finding(f"Ablation of {what}", value, verdict, interval=interval, baseline="clean model (Δ 0)")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "clean_loss", "number")
    require(d, "ablated_loss", "number")
    buckets = [x for x in d.get("by_position") or [] if isinstance(x, dict)]
    if len(buckets) >= 2:
        xs = [x.get("start") for x in buckets]
        series = {"clean": (xs, [x.get("clean_loss") for x in buckets]),
                  "ablated": (xs, [x.get("ablated_loss") for x in buckets])}
        b.blocks.append(Chart(caption="mean loss by position in the window, clean vs ablated",
                              draw=lambda fig: charts.draw_panels(
                                  fig, [("loss by position in the window", series, "loss (nats/token)", None)],
                                  "position in the window (bucket start)"), height=2.6))
    elif num(d, "clean_loss") is not None:
        vals = [d.get("clean_loss"), d.get("ablated_loss")]
        b.blocks.append(Chart(caption="mean loss, clean vs ablated",
                              draw=lambda fig: charts.draw_bars(fig, ["clean", "ablated"], vals, "mean loss",
                                                                "nats/token"), height=2.2))
    g = d.get("generation") if isinstance(d.get("generation"), dict) else {}
    dist = {n: num(g.get(n) or {}, "distinct_2") for n in ("clean", "ablated")}
    pairs = [("heads ablated", heads_text(d.get("heads"))), ("method", d.get("method")),
             ("clean loss", d.get("clean_loss")), ("ablated loss", d.get("ablated_loss")),
             ("Δloss (nats)", d.get("delta_loss")),
             ("Δloss 95% bootstrap over windows", f"[{d['delta_loss_ci'][0]:+.4f}, {d['delta_loss_ci'][1]:+.4f}]"
              if isinstance(d.get("delta_loss_ci"), list) and len(d["delta_loss_ci"]) == 2 else None),
             ("clean → ablated perplexity",
                                                    f"{fmt(d.get('clean_perplexity'))} → {fmt(d.get('ablated_perplexity'))}"),
             ("share of tokens hurt", num(d.get("delta") or {}, "frac_hurt")),
             ("distinct-2 of the continuation, clean → ablated",
              f"{fmt(dist['clean'])} → {fmt(dist['ablated'])}" if dist["clean"] is not None else None)]
    b.blocks.append(headline(pairs))
    b.used.update({"heads", "method", "clean_loss", "ablated_loss", "delta_loss", "delta_loss_ci", "clean_perplexity",
                   "ablated_perplexity", "delta", "by_position", "generation"})
    if isinstance(d.get("delta"), dict):
        order = ("mean", "median", "p90", "max", "frac_hurt", "frac_helped")
        items = sorted(d["delta"].items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
        b.appendix.append(kv_table(items, caption="per-token Δloss = ablated − clean (nats)"))
    if buckets:
        b.appendix.append(records_table(buckets, caption="Δloss by position in the window", columns=[
            c for c in ("start", "end", "n_tokens", "clean_loss", "ablated_loss", "delta_mean", "frac_hurt")
            if any(c in x for x in buckets)]))
    if g:
        if isinstance(g.get("prompt"), str):
            b.appendix.append(Preformatted(g["prompt"], caption=f"prompt ({g.get('decoding', '')}, "
                                                                f"{g.get('max_new_tokens', '?')} new tokens)"))
        for name in ("clean", "ablated"):
            c = g.get(name)
            if isinstance(c, dict):
                b.appendix.append(Preformatted(visible(str(c.get("text", ""))), caption=f"{name} continuation"))
    return b


SECTION = SectionSpec(kind="ablation", title="Head ablation", order=50, guide=guide, findings=findings, build=build)
