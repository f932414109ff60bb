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
            "induction 'bump' (Olsson et al. 2022) appears in the loss when induction heads form. The in-context-"
            "learning (ICL) score is the held-out loss late in a context minus early in it (negative = the context "
            "helps); dotted vertical lines mark the checkpoints where the induction score, the ICL score and the "
            "loss change (rules in the 'phase-change markers' table).")


MARKERS = {"prev_token": "previous-token head", "induction": "induction head", "icl": "ICL score",
           "loss_bump": "loss bump", "circuit": "prev-token → induction circuit"}


def _vlines(d: dict[str, Any]) -> dict[str, float]:
    return {MARKERS[k]: m["x"] for k, m in (d.get("markers") or {}).items()
            if k in MARKERS and isinstance(m, dict) and is_number(m.get("x"))}


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
    marks = {k: m for k, m in (d.get("markers") or {}).items() if isinstance(m, dict)}
    if marks:
        out.append(Finding("phase change", "; ".join(f"{MARKERS.get(k, k)} at {m['label']}" for k, m in marks.items()),
                           "marked", baseline="rules in the phase-change markers table"))
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
    icl = d.get("icl") or []
    if any(isinstance(c, dict) for c in icl):
        xs_all = d.get("x_values") or list(range(len(icl)))
        pts = [(x, c) for x, c in zip(xs_all, icl, strict=False) if isinstance(c, dict) and is_number(x)]
        specs.append(("in-context learning (late − early loss)",
                      {"ICL score": ([p[0] for p in pts], [p[1]["score"] for p in pts]),
                       "95% low": ([p[0] for p in pts], [p[1]["low"] for p in pts]),
                       "95% high": ([p[0] for p in pts], [p[1]["high"] for p in pts])}, "nats", {"no ICL": 0.0}))
    xs = [x for x in d.get("x_values") or [] if is_number(x)]
    logx = xname in ("tokens", "step") and len(xs) > 3 and min(xs) > 0
    b.blocks.append(Chart(caption=f"head scores over the checkpoints (x: {xname}) and the loss curve",
                          draw=lambda fig: charts.draw_panels(fig, specs, xname, logx=logx, vlines=_vlines(d)),
                          height=2.7))
    marks = d.get("markers") or {}
    if marks:
        b.blocks.append(headline(
            [(MARKERS.get(k, k), f"{m['label']} (step {m.get('step')}, tokens {m.get('tokens_seen')}) — {m.get('rule', '')}"
              if isinstance(m, dict) else ("not measured here (interp circuit-formation fills it)" if k == "circuit"
                                           else "no change found")) for k, m in marks.items()],
            caption="phase-change markers: the checkpoint where each signal changes"))
    if d.get("induction_sampling"):
        b.blocks.append(headline([("induction / duplicate-token tokens", d["induction_sampling"]),
                                  ("previous-token / sink text", d.get("prev_token_sampling") or "the prompt"),
                                  ("ICL windows", d.get("icl_source") or "none (no held-out text given)")],
                                 caption="what each score was measured on"))
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
    b.used.update({"scores", "summary", "formed", "thresholds", "loss_curve", "x", "x_values", "labels", "icl",
                   "markers", "induction_sampling", "prev_token_sampling", "icl_source", "circuit_hook",
                   "n_prompt_tokens"})
    return b


SECTION = SectionSpec(kind="head_formation", title="Head formation over training", order=46, guide=guide,
                      findings=findings, build=build)
