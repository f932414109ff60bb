"""Section for `interp attention-evolution` (kind "attention_evolution"): head scores over checkpoints."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Preformatted
from reports.generic import records_table
from reports.sections.attention_maps import uniform_causal
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    argmax_grid,
    grid_table,
    headline,
    is_number,
    require,
)

INDUCTION_HEAD = 0.4  # max induction score at or above this: "an induction head"
WEAK_INDUCTION = 0.2
SETTLING = 0.7  # last JS distance below 0.7 × the first: "settling"
METRICS = ("entropy", "prev_token", "sink", "induction", "js_distance")


def mean(v: Any) -> float | None:
    flat: list[float] = []

    def walk(x: Any) -> None:
        if is_number(x):
            flat.append(float(x))
        elif isinstance(x, list):
            for y in x:
                walk(y)

    walk(v)
    return sum(flat) / len(flat) if flat else None


def uniform_induction(d: dict[str, Any]) -> float | None:
    S = d.get("induction_len")
    if not (is_number(S) and S >= 1):
        return None
    off = 1 if d.get("induction_bos", True) else 0
    return sum(1 / (q + 1) for q in range(off + S, off + 2 * S)) / S


def guide(stage: Stage) -> str:
    d = stage.data
    T = len(d.get("tokens") or [])
    u = uniform_causal(T) if T >= 2 else None
    ui = uniform_induction(d)
    ind = f" induction ≈ {ui:.3f}," if ui is not None else ""
    chance = (f" Uniform attention (the no-structure baseline) scores prev-token = {u['prev_token']:.3f},{ind} "
              f"entropy = {u['entropy']:.2f} nats on this prompt.") if u else ""
    return ("The same prompt run through every epoch checkpoint of a training run. Per checkpoint and head: "
            "previous-token score (mean A[q, q−1]), first-token/sink score, entropy (nats; low = focused), induction "
            "score (attention to the token after the previous occurrence of the current token, on random repeated "
            "sequences; 1 = perfect induction head, ≥ 0.4 is called an induction head here) and the Jensen–Shannon "
            "distance to the previous checkpoint's pattern (0 = unchanged, 1 = disjoint). When the JS distance "
            "flattens near 0, attention has stopped changing." + chance)


def _cks(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in d.get("checkpoints") or [] if isinstance(c, dict)]


def when(c: dict[str, Any]) -> str:
    """'step 2442' / 'epoch 3' / the checkpoint's label."""
    if c.get("step") is not None:
        return f"step {c['step']}"
    if c.get("epoch") is not None:
        return f"epoch {c['epoch']}"
    return str(c.get("label") or "?")


def x_axis(d: dict[str, Any], cks: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    xs = d.get("x_values")
    if isinstance(xs, list) and len(xs) == len(cks) and all(is_number(x) for x in xs):
        return str(d.get("x") or "checkpoint"), xs
    return "epoch", [c.get("epoch") for c in cks]


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    cks = _cks(d)
    if not cks:
        return [Finding("Attention over training", "no checkpoints", "nothing to judge")]
    last = cks[-1]
    out = []
    best = argmax_grid(last.get("induction"))
    ui = uniform_induction(d)
    if best is not None:
        layer, head, v = best
        if v >= INDUCTION_HEAD:
            verdict = "an induction head has formed"
        elif v >= max(WEAK_INDUCTION, 3 * (ui or 0)):
            verdict = "weak induction, no induction head yet"
        else:
            verdict = "no induction head yet"
        out.append(Finding("Induction", f"max score {v:.2f} (head {layer}.{head}, {when(last)})", verdict,
                           baseline=f"uniform {ui:.2f}" if ui is not None else ""))
    js = [(when(c), mean(c.get("js_distance"))) for c in cks]
    js = [(e, v) for e, v in js if v is not None]
    if len(js) >= 2:
        (e0, a), (e1, z) = js[0], js[-1]
        verdict = "attention is settling" if z < SETTLING * a else "attention is still changing"
        out.append(Finding("Attention change", f"mean JS distance {a:.2f} ({e0}) → {z:.2f} ({e1})", verdict,
                           baseline="0 = unchanged"))
    elif js:
        out.append(Finding("Attention change", f"mean JS distance {js[0][1]:.2f} ({js[0][0]})",
                           "one comparison only: train more epochs to see a trend", baseline="0 = unchanged"))
    integ = d.get("integrity") if isinstance(d.get("integrity"), dict) else {}
    for group in integ.get("duplicates") or []:
        out.append(Finding("Checkpoint integrity", " = ".join(str(x) for x in group),
                           "WARNING: identical weights under different checkpoint names (mislabelled or re-served)",
                           baseline="content hash of the safetensors tensors"))
    return out


def _per_layer(cks: list[dict[str, Any]], epochs: list[Any], metric: str, how: str = "mean"
               ) -> dict[str, tuple[list, list]]:
    out: dict[str, list[float | None]] = {}
    for ci, c in enumerate(cks):
        v = c.get(metric)
        for li, row in enumerate(v if isinstance(v, list) else []):
            vals = [x for x in (row if isinstance(row, list) else []) if is_number(x)]
            agg = (max(vals) if vals else None) if how == "max" else mean(row)
            out.setdefault(f"L{li}", [None] * len(cks))[ci] = agg
    if len(out) > 6:  # many layers (Gemma): the mean over layers reads better than 18 lines
        cols = list(zip(*out.values(), strict=True))
        vals = [[x for x in col if x is not None] for col in cols]
        return {"all layers": (epochs, [(max(v) if how == "max" else sum(v) / len(v)) if v else None for v in vals])}
    return {k: (epochs, ys) for k, ys in out.items()}


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    if not require(d, "checkpoints", "list"):
        raise ValueError("no checkpoints")
    cks = _cks(d)
    for key in ("induction", "prev_token", "js_distance"):
        require(cks[-1], key, "list")
    b.used.update({"checkpoints", "prompt", "tokens", "token_ids", "integrity", "warnings"})
    for w in d.get("warnings") or []:
        b.blocks.append(Preformatted(f"WARNING: {w}"))
    if cks:
        ui = uniform_induction(d)
        xname, xs = x_axis(d, cks)
        T = len(d.get("tokens") or [])
        up = uniform_causal(T)["prev_token"] if T >= 2 else None
        # scores on a fixed 0–1 axis with their thresholds drawn: a flat 0.02 is not zoomed into a trend
        specs = [("JS distance to previous (mean)", _per_layer(cks[1:] or cks, xs[1:] or xs, "js_distance"),
                  "JS distance", None, (0.0, 1.0)),
                 ("induction score (best head)", _per_layer(cks, xs, "induction", "max"), "induction",
                  {f"induction head ≥ {INDUCTION_HEAD:g}": INDUCTION_HEAD,
                   **({f"uniform {ui:.2f}": ui} if ui is not None else {})}, (0.0, 1.0)),
                 (f"previous-token score (best head; {T}-token prompt)", _per_layer(cks, xs, "prev_token", "max"),
                  "prev-token", {f"uniform {up:.2f}": up} if up is not None else None, (0.0, 1.0))]
        logx = xname in ("tokens", "step") and len(xs) > 3 and min(x for x in xs if is_number(x)) > 0
        b.blocks.append(Chart(caption=f"head scores over the checkpoints (x: {xname}), one line per layer",
                              draw=lambda fig: charts.draw_panels(fig, specs, xname, logx=logx), height=2.7))
        recs = []
        for c in cks:
            r: dict[str, Any] = {"checkpoint": when(c), "next token": c.get("next_token"), "p": c.get("next_token_prob")}
            for m in ("js_distance", "induction", "prev_token", "entropy"):
                r[f"{m} (mean)"] = mean(c.get(m))
            recs.append(r)
        b.appendix.append(records_table(recs, caption="per checkpoint: prediction after the prompt, head scores "
                                                      "averaged over all layers and heads", max_rows=100))
        last_js = mean(cks[-1].get("js_distance"))
        b.blocks.append(headline([("checkpoints", f"{len(cks)} ({when(cks[0])} … {when(cks[-1])})"),
                                  ("mean JS distance to previous, last checkpoint", last_js),
                                  ("max induction score, last checkpoint", (argmax_grid(cks[-1].get("induction"))
                                                                           or (0, 0, None))[2]),
                                  ("prediction after the prompt, last checkpoint",
                                   f"{cks[-1].get('next_token')!r} (p = {cks[-1].get('next_token_prob')})")]))
        last = cks[-1]
        for m in ("induction", "prev_token", "sink", "entropy"):
            t = grid_table(last.get(m), f"{m} score per head at the last checkpoint ({when(last)})")
            if t is not None:
                b.appendix.append(t)
    if isinstance(d.get("prompt"), str):
        b.appendix.append(Preformatted(d["prompt"], caption="prompt"))
    return b


SECTION = SectionSpec(kind="attention_evolution", title="Attention over training", order=45, guide=guide,
                      findings=findings, build=build)
