"""Contract test: every analysis/eval runs on the tiny random fixtures, the report is built from those REAL
results, and every section renders tailored with figures that decode — so renaming a result field fails
here instead of quietly degrading the report.

The results tree is written once per module by the real CLI commands (tests/report_tree.py, the same calls
`interp demo` makes). The kinds checked are derived from the analysis units (`interp.units.sections_table`):
every kind whose section lives in reports/sections/ must be produced here; a unit with its own package
(`interp/<name>/section.py`, docs/architecture.md) renders its section in its own test file instead.
"""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports.build import build_report, make_report
from reports.document import Chart, Figure
from reports.sections import REGISTRY
from tests.report_tree import build_tree

# kinds registered but not produced here, and why (keep this list short)
NOT_PRODUCED = {
    "regress": "needs a suite + baseline; covered by tests/unit/test_regress.py",
    "leakage": "only nested inside perplexity results by the CLI",
    **{k: "SAE kinds: rendered through reports.api.report in tests/unit/test_sae_browser.py"
       for k in ("sae_train", "sae_eval", "sae_sweep", "sae_features", "steering", "sae_formation")},
    "sweep": "a multi-run sweep; rendered from a real sweep in tests/integration/test_sweep.py",
    "finetune_compare": "needs a parent + fine-tuned child run; rendered in tests/unit/test_finetune.py",
    "training_curves": "Python-only result; rendered from a real parent/child pair in tests/unit/test_finetune.py",
    "circuit": "rendered through reports.api.report in tests/unit/test_circuits.py",
    "circuit_formation": "rendered through reports.api.report in tests/unit/test_circuit_formation.py",
    "lens": "rendered through reports.api.report in tests/unit/test_lens.py",
    "lens_series": "rendered through reports.api.report in tests/unit/test_lens.py",
}


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory, tiny_gpt2_dir) -> Path:
    return build_tree(tmp_path_factory.mktemp("contract"), tiny_gpt2_dir)


def _decodes(b: Chart | Figure) -> None:
    from PIL import Image

    from reports import charts

    if isinstance(b, Chart):
        svg, png = charts.render(b.draw, b.height, "svg"), charts.render(b.draw, b.height, "png", dpi=60)
    else:
        svg, png = b.svg, b.png
    assert svg is not None and ET.fromstring(svg).tag.endswith("svg")
    with Image.open(io.BytesIO(png)) as im:
        im.verify()


def test_every_kind_renders_tailored_with_decodable_figures(real_tree):
    rep = build_report(real_tree)
    kinds = {s.kind for s in rep.sections}
    from interp.units import sections_table

    here = {k for k, target in sections_table().items() if target.startswith("reports.sections.")}
    assert here <= set(REGISTRY)
    assert kinds >= here - set(NOT_PRODUCED), here - set(NOT_PRODUCED) - kinds
    for sec in rep.sections:
        assert sec.tailored and sec.findings, sec.kind
        assert all(f.value and f.verdict for f in sec.findings), sec.kind
        assert len(sec.guide) > 80, sec.kind
        if sec.kind != "generation":
            assert isinstance(sec.blocks[0], Chart), f"{sec.kind}: the key figure comes first"
        for b in (*sec.blocks, *sec.appendix):
            if isinstance(b, (Chart, Figure)):
                _decodes(b)


def test_findings_never_claim_more_than_the_interval(real_tree):
    """Random tiny models: coreference is at chance, so the verdict must say so."""
    rep = build_report(real_tree)
    coref = [f for f in rep.findings if f.label.startswith("Coreference")]
    assert coref and all("not distinguishable from chance" in f.verdict or "above" in f.verdict
                         or "below" in f.verdict for f in coref)
    for f in coref:
        lo, hi = (float(x) for x in f.interval.split("[")[1].rstrip("]").split(","))
        assert ("not distinguishable" in f.verdict) == (lo <= 0.5 <= hi)


def test_report_from_real_results_html_and_pdf(real_tree):
    r = make_report(real_tree)
    assert r.html.count("<section id=\"s") == len(r.report.sections)
    assert r.html.index('id="findings"') < r.html.index('id="s1-')  < r.html.index('id="appendix"')
    assert r.pdf.startswith(b"%PDF") and 1 < r.pdf_main_pages < r.pdf_pages
    assert r.pdf_main_pages <= 15


def test_renaming_a_result_field_fails_instead_of_degrading(real_tree, tmp_path):
    """A result whose fields moved is an error naming the file — never a quiet generic view."""
    from interp.errors import UserError

    tree = tmp_path / "t"
    shutil.copytree(real_tree / "coref", tree / "coref")
    p = tree / "coref" / "results.json"
    d = json.loads(p.read_text())
    d["head_accuracy"] = {"renamed": d.pop("head_accuracy")}
    d["best_head_heldout"] = [1, 2]
    p.write_text(json.dumps(d))
    with pytest.raises(UserError, match="coref/results.json"):
        build_report(tree)
