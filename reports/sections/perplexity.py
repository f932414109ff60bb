"""Section for `interp eval perplexity` (kind "perplexity"): perplexity with a window bootstrap, leakage."""

from __future__ import annotations

import math
from typing import Any

from reports import charts
from reports.collect import Stage
from reports.document import Paragraph
from reports.generic import kv_table, records_table
from reports.sections.base import (
    Built,
    Chart,
    Finding,
    SectionSpec,
    ci_text,
    headline,
    is_number,
    num,
    require,
)
from reports.sections.leakage import KEYS as LEAK_KEYS
from reports.sections.leakage import leakage_finding

N_BOOT = 1000


def window_samples(d: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """(per-window mean NLL, tokens per window) from the result's `windows` columns (None when absent)."""
    w = d.get("windows")
    if not isinstance(w, dict):
        return None
    nll, n = w.get("nll_sum"), w.get("n_scored")
    if not (isinstance(nll, list) and isinstance(n, list) and len(nll) == len(n) and nll):
        return None
    pairs = [(float(a) / b, float(b)) for a, b in zip(nll, n, strict=True) if is_number(a) and is_number(b) and b > 0]
    return ([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None


def ppl_interval(d: dict[str, Any], seed: int = 0) -> tuple[float, float] | None:
    """Percentile-bootstrap 95% interval of the perplexity over scoring windows (seeded; ≥ 2 windows)."""
    s = window_samples(d)
    if s is None or len(s[0]) < 2:
        return None
    from evals.stats import bootstrap

    return bootstrap(s[0], s[1], stat="exp_mean", n_boot=N_BOOT, seed=seed)


def guide(stage: Stage) -> str:
    v = num(stage.data, "d_vocab", "vocab_size")
    chance = f" (here ln({int(v)}) = {math.log(v):.3f} nats, perplexity {int(v)})" if v else ""
    return ("Perplexity = exp(mean next-token cross-entropy in nats) on the evaluated text; lower is better — it is "
            "the effective number of equally likely tokens the model hesitates between. A uniform guess over the "
            "vocabulary gives perplexity = vocabulary size" + chance + ": that is chance. The interval is a "
            "bootstrap over scoring windows. Token perplexity depends on the tokenizer; bits per byte (total NLL / "
            "ln 2 / UTF-8 bytes) does not, so compare models with different tokenizers by bits per byte. Below "
            "~0.6 bits/byte on natural text is implausible for a small model and usually means train/eval "
            "leakage: see the n-gram overlap check.")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    ppl, bpb = num(d, "perplexity"), num(d, "bits_per_byte")
    src = d.get("source") or "eval text"
    out = []
    if ppl is not None:
        ci = ppl_interval(d, int(d.get("seed") or 0))
        v = num(d, "d_vocab", "vocab_size")
        verdict = "implausibly low: check for leakage" if bpb is not None and bpb < 0.6 else "plausible for held-out text"
        base = f"{bpb:.2f} bits/byte" if bpb is not None else ""
        base += (f"; uniform guess {int(v)}" if v else "")
        out.append(Finding(f"Perplexity ({src})", f"{ppl:.1f}", verdict, interval=ci_text(*ci, digits=1) if ci else "",
                           baseline=base.strip("; ")))
    leak = d.get("leakage")
    if isinstance(leak, dict):
        out.append(leakage_finding(leak, "Leakage (eval vs train)"))
    return out


def _doc_records(d: dict[str, Any]) -> list[dict[str, Any]]:
    recs = []
    for x in d.get("documents") or []:
        n, nll = x.get("n_tokens"), x.get("nll_sum")
        ppl = math.exp(min(nll / n, 50)) if is_number(n) and n and is_number(nll) else None
        nb = x.get("n_bytes")
        bpb = nll / math.log(2) / nb if is_number(nll) and is_number(nb) and nb else None
        recs.append({"document": x.get("index"), "tokens": n, "bytes": nb, "perplexity": ppl, "bits/byte": bpb,
                     "truncated": x.get("truncated")})
    return recs


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "perplexity", "number")
    require(d, "bits_per_byte", "number")
    recs = _doc_records(d)
    samples = window_samples(d)
    nll = num(d, "nll_per_token")
    if samples:
        xs = list(range(len(samples[0])))
        hl = {f"all windows: {nll:.2f} nats/token": nll} if nll is not None else None
        series = {"mean loss in the window": (xs, samples[0])}
        b.blocks.append(Chart(caption="mean next-token loss of each scoring window, in text order (dashed: overall); "
                                      "a flat line = the text is uniformly hard, spikes = unusual passages",
                              draw=lambda fig: charts.draw_panels(fig, [("loss along the evaluated text", series,
                                                                         "nats/token", hl)], "window #"),
                              height=2.5))
    for w in d.get("warnings") or []:
        b.blocks.append(Paragraph(f"WARNING: {w}"))
    ci = ppl_interval(d, int(d.get("seed") or 0))
    pairs: list[tuple[str, Any]] = [("model", d.get("model")), ("source", d.get("source")),
                                    ("perplexity", d.get("perplexity")),
                                    ("perplexity 95% CI (window bootstrap)",
                                     f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else None),
                                    ("bits per byte", d.get("bits_per_byte")), ("nats per char", d.get("nats_per_char")),
                                    ("tokens scored", d.get("n_tokens")), ("documents", d.get("n_documents"))]
    b.blocks.append(headline(pairs))
    b.used.update({"model", "source", "perplexity", "bits_per_byte", "nats_per_char", "n_tokens", "n_documents",
                   "warnings", "documents"})
    leak = d.get("leakage")
    if isinstance(leak, dict):
        b.appendix.append(kv_table([(k, leak[k]) for k in LEAK_KEYS if k in leak], caption="train/eval leakage check"))
        b.used.add("leakage")
    if recs:
        b.appendix.append(records_table(recs, caption="per document"))
    if isinstance(d.get("windows"), dict):
        n = len(window_samples(d)[0]) if window_samples(d) else 0
        b.appendix.append(Paragraph(f"{n} scoring windows (per-window NLL sums are in results.json)."))
        b.used.add("windows")
    return b


SECTION = SectionSpec(kind="perplexity", title="Perplexity", order=30, guide=guide, findings=findings, build=build)
