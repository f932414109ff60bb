"""Section for `interp head-formation` (kind "head_formation"): when heads form over a checkpoint series."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.generic import records_table
from reports.sections.attention_maps import prev_token_name, uniform_causal
from reports.sections.base import Built, Chart, Finding, SectionSpec, headline, is_number, require

NAMES = {"prev_token": "previous-token", "induction": "induction", "duplicate_token": "duplicate-token",
         "sink": "sink (first token)"}


def guide(stage: Stage) -> str:
    thr = stage.data.get("thresholds") or {}
    t = ", ".join(f"{NAMES.get(k, k)} ≥ {v:g}" for k, v in thr.items() if is_number(v))
    return ("Per checkpoint and head: previous-token (mean A[q, q−1]) and sink scores on the prompt (the same "
            "prompt and definition as the attention sections); induction and duplicate-token "
            "scores on random tokens repeated twice (a head with no structure scores about 1/position there, far "
            "below the thresholds). A head has FORMED at the first checkpoint where its score crosses the threshold "
            f"and stays above it at every later checkpoint ({t}). The loss curve is drawn on the same x axis: the "
            "induction 'bump' (Olsson et al. 2022) appears in the loss when induction heads form.")


def _series(d: dict[str, Any], t: str) -> dict[str, tuple[list, list]]:
    xs = d.get("x_values") or list(range(len(d.get("labels") or [])))
    per = d["scores"].get(t) or []
    best = [max((v for row in m for v in row if is_number(v)), default=None) if m else None for m in per]
    return {"best head": (xs, best)}


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    out = []
    for s in d.get("summary") or []:
        if s.get("type") not in ("prev_token", "induction"):
            continue
        f, best = s.get("first"), s.get("best_final") or {}
        name = short = NAMES.get(s["type"], s["type"])
        base = f"threshold {s['threshold']:g}"
        n_tok = d.get("n_prompt_tokens")
        if s["type"] == "prev_token" and isinstance(n_tok, int) and n_tok >= 2:
            last = (d.get("labels") or ["the last checkpoint"])[-1]
            name = prev_token_name(n_tok, f", final checkpoint {last}").replace(" score", "")
            base += f"; uniform attention {uniform_causal(n_tok)['prev_token']:.2f}"
        if f:
            out.append(Finding(f"{name} heads", f"{s['n_formed']}/{s['n_heads_total']} formed; first {f['head_name']} "
                               f"at {f['label']} ({d.get('x')} {f.get('x')})", "formed", baseline=base))
        else:
            out.append(Finding(f"{name} heads", f"none formed (best final {best.get('head_name')} "
                               f"{best.get('score', float('nan')):.2f})", f"no {short} head yet", baseline=base))
    return out


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "scores", "dict")
    require(d, "summary", "list")
    xname = str(d.get("x") or "checkpoint")
    specs: list[tuple] = [(f"{NAMES.get(t, t)} (best head)", _series(d, t), "score",
                           {f"threshold {d['thresholds'][t]:g}": d["thresholds"][t]}
                           if t in (d.get("thresholds") or {}) else None, (0.0, 1.0))  # scores: fixed 0–1 axis
                          for t in ("prev_token", "induction", "duplicate_token", "sink") if d["scores"].get(t)]
    curve = [p for p in d.get("loss_curve") or [] if isinstance(p, dict)]
    xk = {"tokens": "tokens", "step": "step", "epoch": "epoch"}.get(xname)
    if xk and curve:
        loss = {k: ([p.get(xk) for p in curve if is_number(p.get(k))], [p[k] for p in curve if is_number(p.get(k))])
                for k in ("train_loss", "val_loss")}
        specs.append(("loss", {k: v for k, v in loss.items() if v[0]}, "loss (nats)", None))
    xs = [x for x in d.get("x_values") or [] if is_number(x)]
    logx = xname in ("tokens", "step") and len(xs) > 3 and min(xs) > 0
    b.blocks.append(Chart(caption=f"head scores over the checkpoints (x: {xname}) and the loss curve",
                          draw=lambda fig: charts.draw_panels(fig, specs, xname, logx=logx), height=2.7))
    rows = []
    for s in d["summary"]:
        f, best = s.get("first") or {}, s.get("best_final") or {}
        rows.append((NAMES.get(s["type"], s["type"]),
                     f"{s['n_formed']}/{s['n_heads_total']} formed (≥ {s['threshold']:g})"
                     + (f"; first {f['head_name']} at {f['label']}" if f else "")
                     + (f"; best final {best['head_name']} {best['score']:.2f}" if best else "")))
    b.blocks.append(headline(rows, caption="heads formed"))
    if d.get("formed"):
        b.appendix.append(records_table(
            [{k: r.get(k) for k in ("type", "head_name", "label", "step", "tokens_seen", "epoch", "score_at_crossing",
                                    "final_score")} for r in d["formed"]],
            caption="every formed head: the checkpoint where it crossed and stayed above the threshold", max_rows=200))
    b.used.update({"scores", "summary", "formed", "thresholds", "loss_curve", "x", "x_values", "labels",
                   "n_prompt_tokens"})
    return b


SECTION = SectionSpec(kind="head_formation", title="Head formation over training", order=46, guide=guide,
                      findings=findings, build=build)
