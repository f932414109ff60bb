"""Section for `interp regress` (kind "regress"): checks against a baseline."""

from __future__ import annotations

from reports.collect import Stage
from reports.document import Paragraph
from reports.generic import records_table
from reports.sections.base import Built, Finding, SectionSpec, headline, require


def guide(stage: Stage) -> str:
    return ("CI regression evaluation: each metric of the suite is measured on the current model and compared "
            "with a stored baseline within a tolerance (absolute, relative, or statistical). Statistical checks are "
            "PAIRED when both runs scored the same items (exact McNemar for accuracies, paired bootstrap for means), "
            "unpaired otherwise (the pairing column says which); their p-values are adjusted across the suite "
            "(Benjamini–Hochberg or Holm) and a check fails when the adjusted p < 1 − confidence on the worse side. "
            "MDE: the smallest change the suite detects with 80% power — smaller drops pass unseen.")


def _checks(d: dict) -> list[dict]:
    return [c for c in d.get("checks") or [] if isinstance(c, dict)]


def findings(stage: Stage) -> list[Finding]:
    checks = _checks(stage.data)
    failed = [c for c in checks if c.get("passed") is False]
    value = f"{len(checks) - len(failed)}/{len(checks)} checks pass"
    verdict = "no regression" if not failed else "REGRESSION: " + ", ".join(
        f"{c.get('eval', '')}.{c.get('metric', '')}" for c in failed[:4])
    return [Finding("Regression evals", value, verdict, baseline="stored baseline")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "checks", "list")
    keys = [k for k in ("passed", "n_checks", "n_failed", "suite", "model", "baseline") if k in d]
    b.blocks.append(headline([(k, d[k]) for k in keys], caption="summary"))
    b.used.update(keys)
    checks = _checks(d)
    if checks:
        cols = [c for c in ("eval", "metric", "direction", "baseline", "current", "bound", "p_value", "p_adjusted",
                            "mde", "pairing", "passed") if any(c in r for r in checks)]
        b.blocks.append(records_table(checks, caption="checks (p: two-sided raw / adjusted across the suite)",
                                      columns=cols, max_rows=40))
        for c in checks:
            if c.get("passed") is False and c.get("message"):
                b.blocks.append(Paragraph("FAILED: " + str(c["message"])))
        from evals.regress.render import changed_markdown

        changed = [x for x in changed_markdown(checks) if x.startswith("- ")]
        if changed:
            b.blocks.append(Paragraph("Changed items (ids: sha256 of the normalised item text / window): "
                                      + " ".join(x[2:].replace("**", "").replace("`", "") for x in changed)))
        b.used.add("checks")
    return b


SECTION = SectionSpec(kind="regress", title="Regression evals", order=90, guide=guide, findings=findings, build=build)
