"""Section for `interp attention` (kind "attention_maps"): head-mean patterns, per-head scores, live view."""

from __future__ import annotations

import math
from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Paragraph, Preformatted
from reports.generic import matrix_shape, records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, headline, is_number, require

MAX_VIEW_NUMBERS = 1_500_000  # attention values embedded in the HTML view (beyond: the view is left out)
PREV_TOKEN_HEAD = 0.5  # a head whose mean A[q, q-1] is at least this (and 2× uniform) is called a previous-token head


def uniform_causal(T: int) -> dict[str, float]:
    """Scores of a head that attends uniformly to all keys k <= q (query rows q = 1..T-1)."""
    qs = range(1, T)
    n = max(1, T - 1)
    p = sum(1 / (q + 1) for q in qs) / n
    return {"prev_token": p, "sink": p, "entropy": sum(math.log(q + 1) for q in qs) / n}


def prev_token_name(n_tokens: int, where: str = "") -> str:
    """The one name of the previous-token score in every section: what it is and on what text it is measured."""
    return f"previous-token score (mean A[q, q−1] on the {n_tokens}-token prompt{where})"


def head_scores(mat: list[list[float]]) -> dict[str, float]:
    """prev-token, first-token (sink) and entropy of one pattern (mean over query rows 1..T-1)."""
    T = len(mat)
    if T < 2:
        return {"prev_token": math.nan, "sink": math.nan, "entropy": math.nan}
    prev = sum(mat[q][q - 1] for q in range(1, T)) / (T - 1)
    sink = sum(mat[q][0] for q in range(1, T)) / (T - 1)
    ent = sum(-sum(p * math.log(p) for p in mat[q][: q + 1] if is_number(p) and p > 0) for q in range(1, T)) / (T - 1)
    return {"prev_token": prev, "sink": sink, "entropy": ent}


def layer_heads(d: dict[str, Any]) -> list[tuple[Any, list[Any], list[Any]]] | None:
    """[(layer, head ids, head patterns)] from an attention_maps result, or None if the shapes do not fit.

    `heads` is either one list for every layer (older results) or one list per selected layer."""
    tokens, pats, layers, heads = d.get("tokens"), d.get("patterns"), d.get("layers"), d.get("heads")
    if not (isinstance(tokens, list) and isinstance(pats, list) and isinstance(layers, list) and isinstance(heads, list)):
        return None
    T = len(tokens)
    if len(pats) != len(layers) or T < 1:
        return None
    per_layer = heads if heads and all(isinstance(h, list) for h in heads) else [heads] * len(layers)
    if len(per_layer) != len(layers):
        return None
    out = []
    for layer, hs, mats in zip(layers, per_layer, pats, strict=True):
        if matrix_shape(mats) != (len(hs), T, T) and not (not hs and mats == []):
            return None
        out.append((layer, list(hs), mats))
    return out


def attention_view_data(d: dict[str, Any]) -> dict[str, Any] | None:
    """Compact data for the interactive view: causal rows only (row q has q+1 values), 3 decimals."""
    lh = layer_heads(d)
    if not lh:
        return None
    tokens, hm = d["tokens"], d.get("head_mean")
    T = len(tokens)
    if sum(len(hs) + 1 for _, hs, _ in lh) * T * (T + 1) // 2 > MAX_VIEW_NUMBERS:
        return None

    def rows(mat: list[list[float]]) -> list[list[float]]:
        return [[round(float(x), 3) if is_number(x) else 0.0 for x in mat[q][: q + 1]] for q in range(T)]

    views = []
    for li, (layer, hs, mats) in enumerate(lh):
        heads = [{"name": f"head {h}", "rows": rows(m)} for h, m in zip(hs, mats, strict=True)]
        if isinstance(hm, list) and li < len(hm) and matrix_shape(hm[li]) == (T, T):
            heads.append({"name": f"mean of {d.get('n_heads', '?')} heads", "rows": rows(hm[li])})
        if heads:
            views.append({"layer": f"layer {layer}", "heads": heads})
    return {"tokens": [str(t) for t in tokens], "layers": views} if views else None


def _scores(d: dict[str, Any]) -> list[dict[str, Any]]:
    recs = []
    for layer, hs, mats in layer_heads(d) or []:
        for h, mat in zip(hs, mats, strict=True):
            sc = head_scores(mat)
            recs.append({"layer": layer, "head": h, "prev-token": sc["prev_token"], "first-token": sc["sink"],
                         "entropy (nats)": sc["entropy"]})
    return recs


def guide(stage: Stage) -> str:
    T = len(stage.data.get("tokens") or [])
    u = uniform_causal(T) if T >= 2 else None
    chance = (f" For this {T}-token prompt, a head that spreads attention uniformly over the visible tokens scores "
              f"prev-token = first-token = {u['prev_token']:.3f} and entropy = {u['entropy']:.2f} nats: that is the "
              "no-structure baseline.") if u else ""
    return ("Each heatmap is an attention pattern A[q, k] (here averaged over a layer's heads): how much the token at "
            "query position q (row) reads from key position k (column). Rows sum to 1 and the model is causal, so "
            "only k ≤ q is filled. A bright sub-diagonal is a previous-token head; a bright first column is an "
            "'attention sink'. Prev-token score = mean A[q, q−1]; first-token score = mean A[q, 0]; entropy in nats "
            "(0 = one key, high = diffuse)." + chance +
            " In the HTML report, hover (or tab to) a token in the interactive view to see where it attends.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    recs = [r for r in _scores(d) if is_number(r["prev-token"])]
    T = len(d.get("tokens") or [])
    if not recs or T < 2:
        return [Finding("Attention maps", "prompt too short to score", "nothing to judge")]
    best = max(recs, key=lambda r: r["prev-token"])
    u = uniform_causal(T)["prev_token"]
    is_prev = best["prev-token"] >= max(PREV_TOKEN_HEAD, 2 * u)
    verdict = "a previous-token head" if is_prev else "no clear previous-token head on this prompt"
    return [Finding(f"Attention, head {best['layer']}.{best['head']}",
                    f"{prev_token_name(T)} {best['prev-token']:.2f}", verdict, baseline=f"uniform attention {u:.2f}")]


def _pick(n: int, k: int = 4) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    tokens = [str(t) for t in require(d, "tokens", "list")]
    for key in ("patterns", "head_mean", "layers", "heads"):
        require(d, key, "list")
    lh = layer_heads(d) if len(tokens) >= 2 else None
    if lh:
        hm = d.get("head_mean") or []
        mats = [(f"layer {layer} (mean of heads)", hm[li]) for li, (layer, _, _) in enumerate(lh)
                if li < len(hm) and matrix_shape(hm[li]) == (len(tokens), len(tokens))]
        mats = [mats[i] for i in _pick(len(mats))]
        if mats and len(tokens) <= 64:
            b.blocks.append(Chart(caption="attention per layer, averaged over heads (rows: query, columns: key)",
                                  draw=lambda fig: charts.draw_attention(fig, mats, tokens, "attention on the prompt"),
                                  height=2.9 if len(mats) > 2 else 3.6))
        b.attention = attention_view_data(d)
        b.used.update({"patterns", "head_mean", "heads", "layers"})
    pairs = [("model", d.get("model")), ("prompt tokens", len(tokens) or None),
             ("next token", f"{d.get('next_token')!r} (p = {d['next_token_prob']:.3f})"
              if is_number(d.get("next_token_prob")) else None)]
    if d.get("truncated"):
        pairs.append(("truncated", f"the first {d.get('n_dropped')} tokens were dropped (longer than the context)"))
    b.blocks.append(headline(pairs))
    b.used.update({"model", "truncated", "n_dropped", "next_token", "next_token_prob", "next_token_id"})
    if isinstance(d.get("prompt"), str):
        b.appendix.append(Preformatted(d["prompt"], caption="prompt"))
        b.used.add("prompt")
    if tokens:
        b.appendix.append(Paragraph(f"{len(tokens)} tokens: " + " | ".join(tokens[:200])
                                    + (" …" if len(tokens) > 200 else "")))
        b.used.update({"tokens", "token_ids"})
    if isinstance(d.get("top_next"), list) and d["top_next"]:
        b.appendix.append(records_table(d["top_next"], caption="next-token prediction after the prompt (top-k)",
                                        columns=("token", "prob", "id")))
        b.used.add("top_next")
    recs = _scores(d)
    if recs:
        u = uniform_causal(len(tokens))
        recs.append({"layer": "uniform", "head": "baseline", "prev-token": u["prev_token"], "first-token": u["sink"],
                     "entropy (nats)": u["entropy"]})
        b.appendix.append(records_table(recs, caption="per-head scores on this prompt (last row: uniform attention)",
                                        max_rows=200))
    return b


SECTION = SectionSpec(kind="attention_maps", title="Attention maps", order=40, guide=guide, findings=findings,
                      build=build)
