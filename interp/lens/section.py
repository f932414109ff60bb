"""Report sections for `interp lens` (kind lens) and lens over a series (kind lens_series)."""

from __future__ import annotations

from interp.kit.section import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    Table,
    ci_text,
    headline,
    is_number,
    verdict_vs,
)
from interp.kit.stage import Stage
from interp.lens.draw import draw_lens, draw_series


def guide(stage: Stage) -> str:
    return ("Logit lens: each layer's residual read through the final norm and unembedding, as if the model stopped "
            "there; tuned lens: the same after a per-layer affine translator trained to match the final "
            "distribution. Each cell shows that layer's top-1 token at that position; the colour is the answer's "
            "probability (or the KL to the final distribution). The last layer is the model's own output.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    out = []
    for lens, at in (d.get("top1_layer") or {}).items():
        if d.get("answer") is not None:
            out.append(Finding(f"Lens ({lens}): {d['answer']!r} top-1 at the last position",
                               f"from layer {at}" if at is not None else "at no layer",
                               "descriptive (one prompt)", baseline=f"{d.get('n_layers')} layers"))
    h = d.get("held_out") or {}
    if h.get("diff_lo") is not None:
        lo, hi = min(h["diff_lo"][:-1] or [0]), max(h["diff_hi"][:-1] or [0])
        j = min(range(len(h["diff"]) - 1 or 1), key=lambda i: h["diff_lo"][i]) if len(h["diff"]) > 1 else 0
        out.append(Finding("Tuned vs logit lens (held-out KL, logit − tuned, worst layer)",
                           f"layer {j}: {h['diff'][j]:+.3g} nats", verdict_vs(h["diff_lo"][j], h["diff_hi"][j], 0.0,
                                                                              "equal KL"),
                           interval=ci_text(h["diff_lo"][j], h["diff_hi"][j], 3), baseline=f"range of CIs [{lo:.3g}, {hi:.3g}]"))
    return out or [Finding("Lens", "no answer given", "descriptive")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    for lens in d.get("lenses") or {}:
        b.blocks.append(Chart(f"{lens} lens, layer × position", lambda fig, lens=lens: draw_lens(fig, d, lens),
                              1.2 + 0.35 * int(d.get("n_layers", 4))))
    b.blocks.append(headline([("prompt tokens", len(d.get("tokens", []))), ("answer", d.get("answer")),
                              ("first top-1 layer", d.get("top1_layer"))]))
    h = d.get("held_out") or {}
    if h:
        rows = tuple((str(i), f"{a:.4g}", f"{t:.4g}",
                      ci_text(h["diff_lo"][i], h["diff_hi"][i], 3) if h.get("diff_lo") else "")
                     for i, (a, t) in enumerate(zip(h["logit_kl"], h["tuned_kl"], strict=True)))
        b.blocks.append(Table(("layer", "logit-lens KL", "tuned-lens KL", "logit − tuned"), rows,
                              caption=f"held-out KL to the final layer ({h['n_windows']} windows never trained on)"))
    b.used.update({"lenses", "tokens", "answer", "top1_layer", "held_out"})
    return b


SECTION = SectionSpec(kind="lens", title="Logit and tuned lens", order=57, guide=guide, findings=findings, build=build)


def s_findings(stage: Stage) -> list[Finding]:
    d = stage.data
    t = d.get("top1_layer") or []
    last = t[-1] if t else None
    return [Finding(f"Lens over checkpoints: {d.get('config', {}).get('answer')!r}",
                    f"top-1 from layer {last} at the last checkpoint" if is_number(last) else "never top-1 at the last "
                    "checkpoint", "descriptive (one prompt)", baseline=f"{d.get('n_layers')} layers")]


def s_build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    b.blocks.append(Chart("layer at which the answer becomes top-1, per checkpoint", lambda fig: draw_series(fig, d), 2.6))
    b.used.update({"top1_layer", "x"})
    return b


SERIES = SectionSpec(kind="lens_series", title="Lens over checkpoints", order=57, guide=guide, findings=s_findings,
                     build=s_build)
