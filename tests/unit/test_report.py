"""`interp report`: results tree → Findings-first self-contained HTML + PDF (reports/).

The real-results contract test is tests/unit/test_report_contract.py; here: collecting, strict refusals,
HTML safety, PDF structure, verdict rules, the CLI's bad inputs. The small hand-written results below are
shaped like the commands' output (checked against the real ones by the contract test).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from interp.errors import UserError
from reports.build import build_report, make_report, parse_formats
from reports.collect import collect
from reports.html import json_for_script
from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

REPO = Path(__file__).resolve().parents[2]
XSS_PROMPT = 'The <script>alert(1)</script> "cat" & </script><img src=x onerror=alert(2)> sat on the $mat$.'
TINY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (37, 99, 235)).save(buf, format="PNG")
    return buf.getvalue()


def _write(p: Path, obj) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=2, sort_keys=True), encoding="utf-8")


def light_tree(root: Path) -> Path:
    """generation (hostile prompt), attention maps (+ a saved figure pair), a training run with metrics."""
    _write(root / "gen" / "results.json", {"schema_version": 1, "kind": "generation", "model": "m", "prompt": XSS_PROMPT,
                                           "decoding": "greedy", "seed": 0, "completion": "</pre><b>x</b>",
                                           "distinct_1": 1.0, "distinct_2": 1.0})
    pat = [[1.0, 0.0, 0.0], [0.1, 0.9, 0.0], [0.1, 0.8, 0.1]]
    _write(root / "attn" / "results.json", {
        "schema_version": 1, "kind": "attention_maps", "model": "m", "prompt": XSS_PROMPT,
        "tokens": ["<bos>", "</script><script>alert(3)</script>", "x"], "token_ids": [0, 1, 2],
        "layers": [0], "heads": [[0]], "n_heads": 1, "patterns": [[pat]], "head_mean": [pat],
        "top_next": [{"token": "<i>", "id": 1, "prob": 0.5}], "next_token": "<i>", "next_token_prob": 0.5, "seed": 0})
    (root / "attn" / "attention_L0.png").write_bytes(tiny_png())
    (root / "attn" / "attention_L0.svg").write_bytes(TINY_SVG)
    _write(root / "run" / "run.json", {"kind": "run", "seed": 7, "git_commit": "abc123",
                                       "config": {"preset": "tiny", "model": {"n_layers": 1, "d_vocab": 300}},
                                       "versions": {"torch": "2.13.0"}})
    (root / "run" / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "train_loss": 6 - s / 4, **({"val_loss": 6.1 - s / 4} if s % 2 == 0 else {})}) + "\n"
        for s in range(1, 7)))
    _write(root / "run" / "results.json", {"schema_version": 1, "kind": "training", "best_val_loss": 4.6,
                                           "best_epoch": 2, "final_val_loss": 4.6, "steps": 6})
    return root


@pytest.fixture()
def light(tmp_path):
    return light_tree(tmp_path / "results")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = light_tree(tmp_path_factory.mktemp("r") / "results")
    return root, make_report(root)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])


def _tags(html: str) -> _Tags:
    t = _Tags()
    t.feed(html)
    return t


# ----------------------------------------------------------------------------- collecting: strict
def test_collect_skips_hidden_checkpoints_and_own_report(tmp_path):
    root = light_tree(tmp_path / "r")
    _write(root / ".tmp-partial" / "results.json", {"kind": "nonsense"})
    _write(root / "run" / "checkpoints" / "epoch-001" / "results.json", {"kind": "nonsense"})
    _write(root / "results.json", {"kind": "report"})  # an old report's own results: not a section
    assert [s.source for s in collect(root).stages] == ["attn/results.json", "gen/results.json", "run/run.json"]


@pytest.mark.parametrize("make,needle", [
    ("missing", "does not exist"), ("empty", "no results.json"), ("file", "is a file"),
    ("list_json", "expected an object"), ("broken_json", "not readable JSON"),
    ("unknown_kind", "no report section for result kind 'brand_new'"),
    ("newer_schema", "schema_version 99 is newer"),
    ("svg_missing", "attention_L0.svg is missing"), ("bad_png", "not a valid PNG"),
])
def test_bad_trees_are_one_user_error(tmp_path, make, needle):
    p = tmp_path / "r"
    if make == "empty":
        p.mkdir()
        (p / "notes.txt").write_text("hi")
    elif make == "file":
        p.write_text("x")
    elif make == "list_json":
        light_tree(p)
        (p / "x").mkdir()
        (p / "x" / "results.json").write_text("[1, 2]")
    elif make == "broken_json":
        light_tree(p)
        (p / "x").mkdir()
        (p / "x" / "results.json").write_text("{not json")
    elif make == "unknown_kind":
        light_tree(p)
        _write(p / "z" / "results.json", {"schema_version": 1, "kind": "brand_new", "score": 1})
    elif make == "newer_schema":
        light_tree(p)
        d = json.loads((p / "gen" / "results.json").read_text())
        _write(p / "gen" / "results.json", {**d, "schema_version": 99})
    elif make == "svg_missing":
        light_tree(p)
        (p / "attn" / "attention_L0.svg").unlink()
    elif make == "bad_png":
        light_tree(p)
        (p / "attn" / "attention_L0.png").write_bytes(b"GIF89a not a png")
    with pytest.raises(UserError, match=re.escape(needle)):
        build_report(p)


def test_a_result_missing_its_key_field_is_an_error_not_a_generic_view(light):
    d = json.loads((light / "attn" / "results.json").read_text())
    del d["patterns"]
    _write(light / "attn" / "results.json", d)
    with pytest.raises(UserError, match=r"attn/results.json.*'patterns' is missing"):
        build_report(light)


# ----------------------------------------------------------------------------- layout: findings first, appendix last
def test_findings_come_first_then_sections_then_appendix(rendered):
    _, r = rendered
    html = r.html
    i_f, i_s, i_a = html.index('id="findings"'), html.index('<section id="s1-'), html.index('id="appendix"')
    assert i_f < i_s < i_a
    assert [s.kind for s in r.report.sections] == ["training", "generation", "attention_maps"]
    assert "best val loss 4.600" in html[i_f:i_s] and "uniform guess ln(300) = 5.70" in html[i_f:i_s]
    assert html.count('<details class="appx"') == 3  # every section's other values, collapsed
    # a saved figure is an appendix item; the section's key figure is a vector chart drawn from the data
    assert html.index("attn/attention_L0.svg") > i_a
    sec = r.report.sections[2]
    assert type(sec.blocks[0]).__name__ == "Chart"


def test_html_is_self_contained(rendered):
    _, r = rendered
    t = _tags(r.html)
    imgs = [a.get("src", "") for tag, a in t.tags if tag == "img"]
    assert len(imgs) >= 3 and all(s.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")) for s in imgs)
    for tag, a in t.tags:
        for k in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", a.get(k) or ""), (tag, k)
    assert not any(tag == "link" for tag, _ in t.tags)
    csp = next(a["content"] for tag, a in t.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp and "unsafe-inline" not in csp
    for s in r.report.sections:
        assert s.id in t.ids and f"#{s.id}" in r.html


def test_html_escapes_user_text_everywhere(light):
    html = make_report(light, ("html",)).html
    assert "<script>alert(1)</script>" not in html and "alert(3)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>x</b>" not in html
    scripts = [a.get("type") for tag, a in _tags(html).tags if tag == "script"]
    assert scripts.count(None) == 1 and scripts.count("application/json") == 1
    block = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and ">" not in block
    assert json.loads(block)["tokens"][1] == "</script><script>alert(3)</script>"


def test_json_for_script_escapes_markup_and_line_separators():
    s = json_for_script({"t": "</script><!-- & \u2028\u2029 -->"})
    assert not set("<>&\u2028\u2029") & set(s)
    assert json.loads(s) == {"t": "</script><!-- & \u2028\u2029 -->"}


# ----------------------------------------------------------------------------- PDF
def test_pdf_findings_page_then_sections_then_appendix_vector(rendered):
    _, r = rendered
    assert r.pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", r.pdf)) == r.pdf_pages
    assert 2 <= r.pdf_main_pages < r.pdf_pages  # findings + sections, then the appendix
    assert b"/Subtype /Image" in r.pdf  # the saved PNG in the appendix; charts are drawn as vectors


def test_same_input_gives_identical_bytes(light):
    a, b = make_report(light), make_report(light)
    assert a.html == b.html and a.pdf == b.pdf


def test_rendering_never_imports_torch(light):
    code = ("import sys; from reports.build import make_report; "
            f"r = make_report({str(light)!r}); assert r.html and r.pdf; "
            "bad = [m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_parse_formats():
    assert parse_formats("PDF, html,pdf") == ("pdf", "html")
    with pytest.raises(UserError):
        parse_formats("html,svg")


def test_output_paths(tmp_path):
    from reports.api import output_paths

    res = tmp_path / "res"
    assert output_paths(res, None, ("html", "pdf")) == {"html": res / "report.html", "pdf": res / "report.pdf",
                                                        "json": res / "report.json"}
    assert output_paths(res, tmp_path / "a" / "x.pdf", ("html",)) == {"html": tmp_path / "a" / "x.html",
                                                                      "json": tmp_path / "a" / "x.json"}
    assert output_paths(res, tmp_path, ("pdf",))["pdf"] == tmp_path / "report.pdf"
    assert output_paths(res, Path("out/run1"), ("html",))["html"] == Path("out/run1.html")


# ----------------------------------------------------------------------------- CLI (installed console script)
def test_cli_writes_html_pdf_and_report_json(light, tmp_path):
    out = tmp_path / "out" / "rep.html"
    r = run_cli(["report", str(light), "--out", str(out), "--json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["kind"] == "report" and data["formats"] == ["html", "pdf"]
    assert data["outputs"] == {"html": str(out), "pdf": str(out.with_suffix(".pdf"))}
    assert data["pdf_pages"] > data["pdf_main_pages"] >= 2 and len(data["findings"]) >= 3
    assert json.loads((out.parent / "rep.json").read_text()) == data


@pytest.mark.parametrize("args,needle", [
    (["report", "{missing}"], "does not exist"),
    (["report", "{empty}"], "no results.json"),
    (["report", "{light}", "--format", "docx"], "unknown report format 'docx'"),
    (["report", "{unknown}"], "no report section for result kind"),
    (["report", "{light}", "{light}"], "--compare"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(light, tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    unknown = light_tree(tmp_path / "unknown")
    _write(unknown / "z" / "results.json", {"schema_version": 1, "kind": "brand_new"})
    subs = {"missing": str(tmp_path / "nope"), "empty": str(tmp_path / "empty"), "light": str(light),
            "unknown": str(unknown)}
    before = snapshot_tree(tmp_path)
    r = run_cli([a.format(**subs) for a in args], cwd=tmp_path)
    assert_user_error(r, needle)
    assert snapshot_tree(tmp_path) == before


def test_interp_report_command_end_to_end_never_imports_torch(light):
    code = ("import sys; from interp.cli import run; "
            f"rc = run(['report', {str(light)!r}, '--format', 'html', '--json']); assert rc == 0, rc; "
            "bad = [m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120, capture_output=True)
