"""Report sections for `interp circuit` (kind circuit) and `interp circuit-formation` (kind circuit_formation)."""

from __future__ import annotations

from typing import Any

from interp.circuits.draw import draw_curve, draw_formation, draw_graph
from interp.circuits.view import edge_view_data
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


def guide(stage: Stage) -> str:
    return ("Edge attribution over the residual graph (embeddings, every head's q/k/v input per upstream head and "
            "MLP, MLP inputs, logits). An edge's score estimates how much the metric changes when that edge alone "
            "carries its corrupt-run value on the clean input (exact: measured; EAP: one gradient; EAP-IG: gradients "
            "integrated over the corrupt→clean input path). A circuit keeps its top-k edges clean and patches every "
            "other edge to its corrupt value; its faithfulness is (m(circuit) − m(corrupt)) / (m(clean) − "
            "m(corrupt)): 1 = the circuit alone carries the behaviour, 0 = nothing. The grey line (random circuits "
            "of the same size) is the baseline; the band is a 95% bootstrap interval over pairs.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    c = d.get("circuit") or {}
    if c.get("size") is None or not is_number(c.get("faithfulness")):
        return [Finding(f"Circuit ({d.get('method')})", f"no circuit on the curve reaches faithfulness {c.get('target')}",
                        "no small faithful circuit found", baseline=f"{d.get('n_edges')} edges in the graph")]
    lo, hi, r, rhi = c.get("lo"), c.get("hi"), c.get("random"), c.get("random_hi")
    if is_number(lo) and is_number(hi) and is_number(rhi):
        verdict = verdict_vs(lo, hi, rhi, "the random circuit's upper bound")
    else:
        verdict = "one pair: no interval, descriptive only"
    return [Finding(f"Circuit ({d.get('method')}, {d.get('metric')})",
                    f"{c['size']} of {d.get('n_edges')} edges: faithfulness {c['faithfulness']:.2f}",
                    verdict, interval=ci_text(lo, hi) if is_number(lo) else "",
                    baseline=f"random circuit of the same size {r:.2f}" if is_number(r) else "")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    b.blocks.append(Chart("the circuit: layered nodes, edge width ∝ |score|", lambda fig: draw_graph(fig, d), 3.6))
    b.blocks.append(Chart("faithfulness vs circuit size, with random circuits as the baseline",
                          lambda fig: draw_curve(fig, d), 3.0))
    comp = d.get("comparison") or {}
    pairs: list[tuple[str, Any]] = [("metric", d.get("metric")), ("method", d.get("method")),
                                    ("pairs", d.get("n_pairs")), ("edges", d.get("n_edges")),
                                    ("clean / corrupt metric", f"{d.get('clean_metric', 0):.4g} / "
                                                               f"{d.get('corrupt_metric', 0):.4g}")]
    for m, v in comp.items():
        pairs.append((f"{m} vs exact", f"Spearman {v.get('spearman')}, top-20 recall {v.get('recall_top20')}"))
    b.blocks.append(headline(pairs))
    top = d.get("top") or []
    b.appendix.append(Table(("edge", "score"), tuple((t["edge"], f"{t['score']:+.4g}") for t in top),
                            caption=f"top edges by |{d.get('method')} score|"))
    b.edges = edge_view_data(d)
    b.used.update({"metric", "method", "n_pairs", "n_edges", "clean_metric", "corrupt_metric", "comparison", "top",
                   "circuit", "curve", "scores", "edges"})
    return b


SECTION = SectionSpec(kind="circuit", title="Circuits (edge attribution)", order=59, guide=guide,
                      findings=findings, build=build)


def f_guide(stage: Stage) -> str:
    return ("Circuit formation: the final checkpoint's top edges (EAP-IG) and its circuit's faithfulness measured on "
            "every checkpoint. The circuit has formed at the first step from which its faithfulness stays at or "
            "above the target (0.8) to the end; the grey line is a random circuit of the same size.")


def f_findings(stage: Stage) -> list[Finding]:
    d = stage.data
    at = d.get("formed_at")
    return [Finding(f"Circuit formation ({d.get('size')} edges)",
                    f"faithfulness first ≥ {d.get('target')} and stays there at {d.get('x_name')} {at}"
                    if at is not None else f"faithfulness never stays ≥ {d.get('target')}",
                    "formed" if at is not None else "not formed over this series",
                    baseline="random circuit of the same size (figure)")]


def f_build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    b.blocks.append(Chart("circuit faithfulness, top edge scores and loss over checkpoints",
                          lambda fig: draw_formation(fig, d), 3.2))
    b.blocks.append(headline([("checkpoints", len(d.get("x", []))), ("circuit size", d.get("size")),
                              ("formed at", d.get("formed_at"))]))
    b.used.update({"x", "faithfulness", "edge_scores", "formed_at", "size"})
    return b


FORMATION = SectionSpec(kind="circuit_formation", title="Circuit formation", order=60, guide=f_guide,
                        findings=f_findings, build=f_build)
