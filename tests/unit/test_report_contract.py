"""Contract test: every analysis/eval runs on the tiny random fixtures, the report is built from those REAL
results, and every section renders tailored with figures that decode — so renaming a result field fails
here instead of quietly degrading the report.

The results tree is written once per module by the real CLI commands (the same calls `interp demo` makes).
A new result kind: add its command to `COMMANDS` (and its section module + registry line, see
reports/sections/__init__.py).
"""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from interp.cli import run
from reports.build import build_report, make_report
from reports.document import Chart, Figure
from reports.sections import REGISTRY
from tests.conftest import TOY_TEXT

# kinds registered but not produced here, and why (keep this list short)
NOT_PRODUCED = {
    "regress": "needs a suite + baseline; covered by tests/unit/test_regress.py",
    "leakage": "only nested inside perplexity results by the CLI",
}


def _trimmed_files(d: Path) -> tuple[Path, Path]:
    rows = []
    for i in range(48):
        lab = ("cat", "dog")[i % 2]
        rows.append(f"The {lab} sat on the mat {i}.\t{lab}" if lab == "cat" else f"A dog chased the ball {i}.\t{lab}")
    dev, train = d / "dev.tsv", d / "train.tsv"
    dev.write_text("text\tlabel\n" + "\n".join(rows[:24]) + "\n")
    train.write_text("text\tlabel\n" + "\n".join(rows[24:]) + "\n")
    return dev, train


def commands(m: str, run_dir: Path, txt: Path, dev: Path, train: Path, root: Path) -> dict[str, list[str]]:
    t = str(txt)
    return {
        "training": ["train", str(run_dir), "--preset", "tiny", "--corpus", t, "--epochs", "2", "--vocab-size", "300",
                     "--batch-size", "8", "--warmup-steps", "5", "--eval-tokens", "2048"],
        "generation": ["generate", m, "John lost his", "-n", "6", "--out", str(root / "generate")],
        "attention_maps": ["attention", m, "--prompt", "John lost his keys and he", "--out", str(root / "attention")],
        "attention_evolution": ["attention-evolution", str(run_dir), "--prompt", "John lost his keys",
                                "--out", str(root / "evolution")],
        "ablation": ["ablate", m, "--heads", "0.*", "--method", "mean", "--text", t, "--max-tokens", "256", "-n", "6",
                     "--out", str(root / "ablation")],
        "ablation_sweep": ["ablate-sweep", m, "--text", t, "--max-tokens", "256", "--out", str(root / "sweep")],
        "patching": ["patch", m, "--clean", "John lost his keys", "--corrupt", "Mary lost his keys", "--metric", "loss",
                     "--out", str(root / "patching")],
        "coref_probe": ["probe", "coref", m, "--data", "builtin-small", "--out", str(root / "coref")],
        "perplexity": ["eval", "perplexity", m, "--text", t, "--max-tokens", "400", "--train-text", t,
                       "--out", str(root / "perplexity")],
        "prompt_sensitivity": ["eval", "sensitivity", m, "--out", str(root / "sensitivity")],
        "trimmed_eval": ["eval", "trimmed", m, "--dataset", str(dev), "--train-file", str(train), "--text-column", "text",
                         "--label-column", "label", "--template", "Text: {text}\\nAnimal:", "--calibrate",
                         "--fit-head", "4", "--no-cache", "--out", str(root / "trimmed")],
    }


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory, tiny_gpt2_dir) -> Path:
    base = tmp_path_factory.mktemp("contract")
    root = base / "results"
    root.mkdir()
    txt = base / "toy.txt"
    txt.write_text(TOY_TEXT)
    dev, train = _trimmed_files(base)
    failed = {}
    for kind, argv in commands(str(tiny_gpt2_dir), root / "run", txt, dev, train, root).items():
        rc = run(argv)
        if rc != 0:
            failed[kind] = rc
    assert not failed, f"commands failed: {failed}"
    shutil.rmtree(root / "run" / "checkpoints", ignore_errors=True)  # weights: never read by a report
    return root


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
    assert kinds >= set(REGISTRY) - set(NOT_PRODUCED), set(REGISTRY) - set(NOT_PRODUCED) - kinds
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
