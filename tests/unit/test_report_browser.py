"""The report's interactive attention view in a real headless browser (Debian's chromium + chromedriver, driven by
Selenium): on a report built from real tiny results, after the page's script ran, selecting another layer / head
changes the shaded tokens, hovering a token changes the info line, and the Content-Security-Policy blocks an
injected inline script while the report's own (hash-pinned) script runs.

Skips, saying why, only where no browser can be installed (CI installs one: .ci/run).
scripts/check_report.sh is the manual, visual companion (screenshots, PDF pages)."""

from __future__ import annotations

import pytest

from tests.browser import headless_browser

PROMPT = "The cat sat on the mat. The cat sat"


def _browser():
    return headless_browser()


@pytest.fixture(scope="module")
def report_html(tmp_path_factory, toy_tokenizer):
    """A report of real `interp attention` results on a tiny GPT-2 with init std 0.5 (peaked, head-specific
    attention; the default std 0.02 model attends almost uniformly, so every head would shade alike)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp.cli import run

    d = tmp_path_factory.mktemp("browser")
    cfg = GPT2Config(vocab_size=len(toy_tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     initializer_range=0.5, bos_token_id=toy_tokenizer.bos_token_id,
                     eos_token_id=toy_tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d / "model")
    toy_tokenizer.save_pretrained(d / "model")
    assert run(["attention", str(d / "model"), "--prompt", PROMPT, "--out", str(d / "results" / "attention"),
                "--json"]) == 0
    assert run(["report", str(d / "results"), "--out", str(d / "report.html"), "--format", "html"]) == 0
    return d / "report.html"


@pytest.fixture(scope="module")
def browser():
    drv = _browser()
    yield drv
    drv.quit()


def _shades(view) -> list[str]:
    from selenium.webdriver.common.by import By

    return [s.value_of_css_property("background-color") for s in view.find_elements(By.CSS_SELECTOR, ".tok")]


def test_layer_and_head_selection_change_the_shading(browser, report_html):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(report_html.as_uri())
    view = browser.find_element(By.CSS_SELECTOR, ".attn-view")
    tokens = view.find_elements(By.CSS_SELECTOR, ".tok")
    assert len(tokens) >= 8  # the page's script built the view (so the CSP let the pinned script run)
    layer, head = Select(view.find_element(By.CSS_SELECTOR, ".attn-layer")), \
        Select(view.find_element(By.CSS_SELECTOR, ".attn-head"))
    assert len(layer.options) == 2 and len(head.options) >= 4
    before = _shades(view)
    assert len(set(before)) > 2  # graded shading, not one colour
    head.select_by_index(0)
    after_head = _shades(view)
    assert after_head != before
    layer.select_by_index(1)
    after_layer = _shades(view)
    assert after_layer != after_head


def test_hovering_a_token_changes_the_info_line(browser, report_html):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(report_html.as_uri())
    view = browser.find_element(By.CSS_SELECTOR, ".attn-view")
    info = view.find_element(By.CSS_SELECTOR, ".attn-info")
    tokens = view.find_elements(By.CSS_SELECTOR, ".tok")
    start = info.text
    assert start.startswith(f"query {len(tokens) - 1} ")
    ActionChains(browser).move_to_element(tokens[2]).perform()
    assert info.text.startswith("query 2 ") and info.text != start
    assert "future" in (tokens[5].get_attribute("class") or "")  # keys after the query are masked


def test_csp_blocks_an_injected_inline_script(browser, report_html, tmp_path):
    from selenium.webdriver.common.by import By

    html = report_html.read_text(encoding="utf-8")
    evil = "<script>document.body.setAttribute('data-pwned', '1')</script>"
    bad = tmp_path / "injected.html"
    bad.write_text(html.replace("</body>", evil + "</body>"), encoding="utf-8")
    browser.get(bad.as_uri())
    assert browser.find_elements(By.CSS_SELECTOR, ".attn-view .tok")  # the report's own script still ran
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-pwned") is None
    logs = " ".join(e.get("message", "") for e in browser.get_log("browser"))
    assert "Content Security Policy" in logs


def test_the_injection_runs_without_the_csp(browser, report_html, tmp_path):
    """The control for the test above: the same injection with the CSP meta tag removed does run."""
    import re

    from selenium.webdriver.common.by import By

    html = report_html.read_text(encoding="utf-8")
    no_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert no_csp != html
    bad = tmp_path / "injected-no-csp.html"
    bad.write_text(no_csp.replace("</body>", "<script>document.body.setAttribute('data-pwned', '1')</script></body>"),
                   encoding="utf-8")
    browser.get(bad.as_uri())
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-pwned") == "1"
