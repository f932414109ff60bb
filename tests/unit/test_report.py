"""`interp report`: results tree → one self-contained HTML file + multi-page PDF (reports/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from interp.cli import run
from interp.errors import UserError
from reports.build import build_report, make_report, parse_formats
from reports.collect import collect
from reports.html import json_for_script, render_html
from reports.sample import XSS_PROMPT, tiny_png, write_sample_tree

REPO = Path(__file__).resolve().parents[2]


def _write(p: Path, obj) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=2, sort_keys=True), encoding="utf-8")


def light_tree(root: Path) -> Path:
    """A few kinds, no chart has to be drawn (fast): generation (hostile prompt), attention maps with a
    saved figure, an unknown kind with records + a figure, and a training run without metrics."""
    _write(root / "gen" / "results.json", {"schema_version": 1, "kind": "generation", "model": "m", "prompt": XSS_PROMPT,
                                           "decoding": "greedy", "seed": 0, "completion": "</pre><b>x</b>",
                                           "distinct_1": 1.0, "distinct_2": 1.0})
    T = 3
    pat = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]
    _write(root / "attn" / "results.json", {
        "schema_version": 1, "kind": "attention_maps", "model": "m", "prompt": XSS_PROMPT,
        "tokens": ["<bos>", "</script><script>alert(3)</script>", "x"], "token_ids": list(range(T)),
        "layers": [0], "heads": [0], "n_heads": 1, "patterns": [[pat]], "head_mean": [pat],
        "top_next": [{"token": "<i>", "id": 1, "prob": 0.5}], "next_token": "<i>", "seed": 0})
    (root / "attn" / "attention_L0.png").write_bytes(tiny_png())
    _write(root / "zz" / "results.json", {"schema_version": 1, "kind": "brand_new_kind", "score": 0.5,
                                          "rows": [{"name": "<u>r1</u>", "v": 1}, {"name": "r2", "v": 2.5}],
                                          "cube": [[[1, 2]], [[3, 4]]]})
    (root / "zz" / "plot.png").write_bytes(tiny_png(16, 16))
    _write(root / "run" / "run.json", {"kind": "run", "seed": 7, "git_commit": "abc123",
                                       "config": {"preset": "tiny", "model": {"n_layers": 1, "d_vocab": 300}},
                                       "versions": {"torch": "2.13.0"}})
    return root


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The full synthetic tree rendered once (HTML + PDF) for the tests that only read the output."""
    root = write_sample_tree(tmp_path_factory.mktemp("report") / "results")
    return root, make_report(root)


@pytest.fixture()
def light(tmp_path):
    return light_tree(tmp_path / "results")


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


# ----------------------------------------------------------------------------- collecting
def test_collect_skips_hidden_checkpoints_own_report_and_lists_broken_json(tmp_path):
    root = light_tree(tmp_path / "r")
    _write(root / ".tmp-partial" / "results.json", {"kind": "generation"})
    _write(root / "run" / "checkpoints" / "epoch-001" / "results.json", {"kind": "generation"})
    _write(root / "results.json", {"kind": "report"})  # an old report's own results: not a section
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text("{not json")
    coll = collect(root)
    assert [s.source for s in coll.stages] == ["attn/results.json", "gen/results.json", "run/run.json",
                                               "zz/results.json"]
    assert len(coll.skipped) == 1 and coll.skipped[0].startswith("broken/results.json: not readable JSON")
    rep = build_report(root)
    assert rep.skipped == coll.skipped
    assert "broken/results.json" in render_html(rep)


@pytest.mark.parametrize("make", ["missing", "empty", "file", "only_broken"])
def test_nothing_to_report_is_a_user_error(tmp_path, make):
    p = tmp_path / "r"
    if make == "empty":
        p.mkdir()
        (p / "notes.txt").write_text("hi")
    elif make == "file":
        p.write_text("x")
    elif make == "only_broken":
        p.mkdir()
        (p / "results.json").write_text("[1, 2]")
    with pytest.raises(UserError):
        collect(p)


def test_sections_are_ordered_and_unknown_kinds_come_last(sample):
    _, r = sample
    kinds = [s.kind for s in r.report.sections]
    assert kinds[0] == "training" and kinds[-1] == "mystery_metric"
    assert kinds.index("generation") < kinds.index("attention_maps") < kinds.index("ablation") < kinds.index("coref_probe")
    assert all(s.tailored for s in r.report.sections[:-1]) and not r.report.sections[-1].tailored
    assert len({s.id for s in r.report.sections}) == len(r.report.sections)


# ----------------------------------------------------------------------------- HTML
def test_html_is_self_contained(sample):
    _, r = sample
    html = r.html
    t = _tags(html)
    imgs = [a.get("src", "") for tag, a in t.tags if tag == "img"]
    assert len(imgs) >= 8 and all(s.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")) for s in imgs)
    for tag, a in t.tags:
        for k in ("src", "href"):
            v = a.get(k) or ""
            assert not re.match(r"\s*(https?:)?//", v), (tag, k, v)
    assert not any(tag == "link" for tag, _ in t.tags)
    assert "http://" not in html and "https://" not in html
    csp = next(a["content"] for tag, a in t.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp and "unsafe-inline" not in csp


def test_html_has_table_of_contents_linking_every_section(sample):
    _, r = sample
    t = _tags(r.html)
    nav_links = [a["href"][1:] for tag, a in t.tags if tag == "a" and a.get("href", "").startswith("#")]
    assert "metadata" in nav_links
    for s in r.report.sections:
        assert s.id in nav_links and s.id in t.ids
    # run metadata from run.json
    for needle in ("git commit", "0123456789abcdef", "torch 2.13.0", "training seed", "n_layers=2"):
        assert needle in r.html


def test_html_escapes_user_text_everywhere(light):
    html = make_report(light, ("html",)).html
    assert "<script>alert(1)</script>" not in html and "alert(3)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the prompt, shown as text
    assert "<img src=x" not in html and "<u>r1</u>" not in html and "<b>x</b>" not in html
    t = _tags(html)
    scripts = [a.get("type") for tag, a in t.tags if tag == "script"]
    assert scripts.count(None) == 1  # only the report's own (CSP-pinned) view script
    assert scripts.count("application/json") == 1
    # the JSON for the interactive view cannot close its <script> and round-trips exactly
    block = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and ">" not in block
    assert json.loads(block)["tokens"][1] == "</script><script>alert(3)</script>"


def test_json_for_script_escapes_markup_and_line_separators():
    s = json_for_script({"t": "</script><!-- & \u2028\u2029 -->"})
    assert not set("<>&\u2028\u2029") & set(s)
    assert json.loads(s) == {"t": "</script><!-- & \u2028\u2029 -->"}


def test_unknown_kind_gets_a_generic_section(light):
    rep = build_report(light)
    sec = next(s for s in rep.sections if s.kind == "brand_new_kind")
    assert not sec.tailored and "No tailored view" in sec.guide
    assert sec.n_figures == 1 and sec.n_tables == 2  # values table + records table (+ a note for the 3-D array)
    html = render_html(rep)
    assert "generic view" in html and "&lt;u&gt;r1&lt;/u&gt;" in html and "numeric array of shape (2, 1, 2)" in html


def test_tailored_sections_have_reading_guides_with_chance_levels(sample):
    _, r = sample
    guides = {s.kind: s.guide for s in r.report.sections}
    assert "ln(512) = 6.238" in guides["training"]
    assert "prev-token = first-token = 0.290" in guides["attention_maps"]  # uniform baseline for 6 tokens
    assert "chance is 0.5" in guides["coref_probe"]
    assert all(len(g) > 80 for g in guides.values())


def test_every_registered_kind_in_the_sample_gets_its_tailored_tables(sample):
    _, r = sample
    secs = {s.kind: s for s in r.report.sections}
    assert set(secs) >= {"training", "generation", "perplexity", "attention_maps", "attention_evolution", "ablation",
                         "ablation_sweep", "coref_probe", "prompt_sensitivity", "trimmed_eval", "mystery_metric"}
    for kind, sec in secs.items():
        assert sec.n_tables >= 1, kind
        assert sec.n_figures >= (0 if kind == "generation" else 1), kind
    captions = {b.caption for s in r.report.sections for b in s.blocks if hasattr(b, "caption")}
    for c in ("accuracy and macro-F1 per variant (last rows: baselines)", "heads ranked by Δloss (largest first)",
              "per-token Δloss = ablated − clean (nats)", "accuracy against chance", "pairwise BLEU and diversity per decoding",
              "train/eval leakage check", "validation evaluations (metrics.jsonl)"):
        assert c in captions
    assert "always predicting the most frequent label scores 0.500" in secs["trimmed_eval"].guide
    # whitespace-only generations are made visible
    assert any("only whitespace" in getattr(b, "text", "") for b in secs["ablation"].blocks)


@pytest.mark.parametrize("junk", [None, 7, "x", [1, "a"], [[1, "a"]], {"a": 1}, [None]])
def test_unexpected_schemas_never_crash_a_section(junk):
    """Every registered builder survives junk values (falls back to the generic view, saying so)."""
    from reports.collect import Stage
    from reports.document import Report
    from reports.sections import SECTIONS, build_section

    keys = ("tokens", "patterns", "head_mean", "layers", "heads", "checkpoints", "variants", "documents", "windows",
            "leakage", "delta", "by_position", "generation", "decodings", "prompts", "head_accuracy", "best_heads",
            "examples", "ranking", "frac_hurt", "labels", "gold", "dataset", "top_next", "prompt", "completion",
            "checks", "template", "by_category", "warnings", "head_margin", "induction_len", "full_vocab")
    secs = []
    for i, kind in enumerate(SECTIONS):
        run = {"config": junk, "data": junk, "tokenizer": junk, "versions": junk} if kind == "training" else None
        stage = Stage(rel="x", source="x/results.json", kind=kind, data={"kind": kind, **dict.fromkeys(keys, junk)},
                      run=run, metrics=({"step": junk, "train_loss": junk},) if run else ())
        sec = build_section(stage, i + 1)
        assert sec.guide and sec.blocks
        secs.append(sec)
    assert "<html" in render_html(Report(title="t", results_dir="x", metadata=(), sections=tuple(secs)))


def test_invalid_image_file_is_reported_not_embedded_broken(light):
    (light / "zz" / "fake.png").write_bytes(b"GIF89a not a png")
    html = make_report(light, ("html",)).html
    assert "zz/fake.png could not be embedded" in html
    t = _tags(html)
    assert all(a["src"].startswith("data:image/") for tag, a in t.tags if tag == "img")


def test_interactive_view_data_is_causal_rows(sample):
    _, r = sample
    sec = next(s for s in r.report.sections if s.kind == "attention_maps")
    v = sec.attention
    T = len(v["tokens"])
    assert [h["name"] for h in v["layers"][0]["heads"]] == ["head 0", "head 1", "mean of 2 heads"]
    rows = v["layers"][1]["heads"][0]["rows"]
    assert [len(r_) for r_ in rows] == list(range(1, T + 1))
    assert all(abs(sum(r_) - 1) < 5e-3 for r_ in rows)


# ----------------------------------------------------------------------------- PDF
def test_pdf_is_multipage(sample):
    _, r = sample
    assert r.pdf.startswith(b"%PDF-")
    n = len(re.findall(rb"/Type\s*/Page\b", r.pdf))
    assert n == r.pdf_pages > len(r.report.sections)  # title page + at least a page per section


def test_same_input_gives_identical_bytes(light):
    a = make_report(light)
    b = make_report(light)
    assert a.html == b.html and a.pdf == b.pdf


# ----------------------------------------------------------------------------- CLI
def test_cli_writes_html_pdf_and_report_json(light, tmp_path, capsys):
    out = tmp_path / "out" / "rep.html"
    rc = run(["report", str(light), "--out", str(out), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "report" and data["formats"] == ["html", "pdf"]
    assert data["outputs"] == {"html": str(out), "pdf": str(out.with_suffix(".pdf"))}
    assert Path(data["outputs"]["pdf"]).read_bytes().startswith(b"%PDF")
    assert data["pdf_pages"] > 1 and {s["kind"] for s in data["sections"]} >= {"generation", "brand_new_kind"}
    assert json.loads((out.parent / "rep.json").read_text()) == data
    # a second report over the same tree ignores the first one's outputs
    assert run(["report", str(light), "--format", "html"]) == 0
    assert (light / "report.html").exists() and (light / "report.json").exists()
    assert len(collect(light).stages) == 4


@pytest.mark.parametrize("args,needle", [
    (["report", "{missing}"], "does not exist"),
    (["report", "{empty}"], "no results.json or run.json"),
    (["report", "{light}", "--format", "docx"], "unknown report format 'docx'"),
    (["report", "{light}", "--format", ","], "no report format"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(light, tmp_path, capsys, args, needle):
    (tmp_path / "empty").mkdir()
    subs = {"missing": str(tmp_path / "nope"), "empty": str(tmp_path / "empty"), "light": str(light)}
    before = sorted(p for p in tmp_path.rglob("*"))
    rc = run([a.format(**subs) for a in args])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_output_paths(tmp_path):
    from interp.cli.report_cmds import output_paths

    res = tmp_path / "res"
    assert output_paths(res, None, ("html", "pdf")) == {"html": res / "report.html", "pdf": res / "report.pdf",
                                                        "json": res / "report.json"}
    assert output_paths(res, tmp_path / "a" / "x.pdf", ("html",)) == {"html": tmp_path / "a" / "x.html",
                                                                      "json": tmp_path / "a" / "x.json"}
    assert output_paths(res, tmp_path, ("pdf",))["pdf"] == tmp_path / "report.pdf"  # an existing folder
    assert output_paths(res, Path("out/run1"), ("html",))["html"] == Path("out/run1.html")


def test_parse_formats():
    assert parse_formats("PDF, html,pdf") == ("pdf", "html")
    with pytest.raises(UserError):
        parse_formats("html,svg")


def test_rendering_never_imports_torch(light):
    code = ("import sys; from reports.build import make_report; "
            f"r = make_report({str(light)!r}); assert r.html and r.pdf; "
            "bad = [m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


# ----------------------------------------------------------------------------- real browser (optional)
@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("pdftoppm")),
                    reason="needs Debian chromium + poppler-utils (apt-get install -y chromium poppler-utils)")
def test_report_in_headless_chromium_and_pdftoppm(tmp_path):
    """scripts/check_report.sh: every image decodes, nothing is fetched, the view script runs under the
    CSP, no markup is injected, the PDF rasterises to > 1 page (screenshots left in tmp_path for a look)."""
    env = {**os.environ, "PY": sys.executable}
    p = subprocess.run(["bash", str(REPO / "scripts" / "check_report.sh"), "", str(tmp_path)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "html-top.png").stat().st_size > 10_000 and len(list(tmp_path.glob("pdf-*.png"))) > 1
