"""Section for a train/eval leakage check (kind "leakage", standalone or inside a perplexity result)."""

from __future__ import annotations

from typing import Any

from reports.collect import Stage
from reports.sections.base import Built, Finding, SectionSpec, headline, num, require

KEYS = ("flagged", "message", "ngram_overlap", "token_coverage", "documents_with_overlap", "n", "threshold",
        "n_eval_ngrams", "n_leaked_ngrams", "n_train_tokens")


def guide(stage: Stage) -> str:
    return ("Train/eval leakage check: the fraction of the eval text's token n-grams that occur verbatim in the "
            "training data. Natural held-out text shares well under a few percent of long n-grams with other "
            "documents; random overlapping windows of one text share most of them. At or above the threshold "
            "(10% by default) it is flagged: perplexity on such an eval set measures memorisation, not modelling.")


def leakage_finding(leak: dict[str, Any], label: str = "Leakage") -> Finding:
    ov = num(leak, "ngram_overlap")
    n, thr = leak.get("n", "?"), num(leak, "threshold")
    if ov is None:
        return Finding(label, "no eval n-grams", "not measurable (eval text too short)")
    base = f"flagged at ≥ {thr:.0%}" if thr is not None else ""
    verdict = "LEAKED: eval text overlaps the training data" if leak.get("flagged") else "clean split"
    return Finding(label, f"{ov:.2%} of eval {n}-grams found in train", verdict, baseline=base)


def findings(stage: Stage) -> list[Finding]:
    return [leakage_finding(stage.data)]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "ngram_overlap", "number") if d.get("ngram_overlap") is not None else require(d, "n_eval_ngrams", "number")
    b.blocks.append(headline([(k, d[k]) for k in KEYS if k in d], caption="leakage check"))
    b.used.update(KEYS)
    return b


SECTION = SectionSpec(kind="leakage", title="Leakage check", order=32, guide=guide, findings=findings, build=build)
