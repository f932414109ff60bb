"""The SAE feature browser: result contents, the report sections (HTML + PDF via reports.api.report), and the
interactive view in a real headless browser (chromium + chromedriver via Selenium; skips, saying why, where
none is installed): a click on another latent changes the detail shown, search filters the list."""

from __future__ import annotations

import json

import pytest

from tests.browser import headless_browser
from tests.conftest import TOY_TEXT


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_gpt2_dir):
    from interp.sae.browse import BrowseConfig, browse_features
    from interp.sae.data import Text
    from interp.sae.evaluate import SAEEvalConfig, evaluate_sae
    from interp.sae.train import SAETrainConfig, train_sae

    d = tmp_path_factory.mktemp("sae_browser")
    text = Text((TOY_TEXT,), "toy")
    t = train_sae(str(tiny_gpt2_dir), SAETrainConfig(hook="blocks.0.hook_resid_post", expansion=2, k=4,
                                                     tokens=2000, context=16, batch_size=4),
                  text=text, out_dir=d / "results" / "sae")
    t.save(t.sae)
    evaluate_sae(str(tiny_gpt2_dir), t.sae, text=text, config=SAEEvalConfig(max_tokens=300, context=16, n_boot=20)
                 ).save(d / "results" / "eval")
    f = browse_features(str(tiny_gpt2_dir), t.sae, text=text, config=BrowseConfig(max_tokens=400, context=16,
                                                                                  n_latents=6))
    f.save(d / "results" / "features")
    from interp.results import save_result
    from interp.sae.evaluate import sweep_dict
    from interp.sae.formation import FormationConfig, formation
    from interp.sae.steer import SteerConfig, steer

    e = evaluate_sae(str(tiny_gpt2_dir), t.sae, text=text, config=SAEEvalConfig(max_tokens=300, context=16,
                                                                               n_boot=20)).to_dict()
    save_result(sweep_dict([e | {"model": "tiny"}, e | {"model": "tiny", "k": 2}], 0), d / "results" / "sweep")
    steer(str(tiny_gpt2_dir), SteerConfig(coefficient=8.0, sae=t.sae, latent=1, max_tokens=300, context=16,
                                          n_boot=20, max_new_tokens=4), text=text).save(d / "results" / "steer")
    corpus = d / "c.txt"
    corpus.write_text(TOY_TEXT)
    for name in ("ck-1", "ck-2"):
        (d / name).symlink_to(tiny_gpt2_dir)
    formation([str(d / "ck-1"), str(d / "ck-2")],
              FormationConfig(hook="blocks.0.hook_resid_post", expansion=2, k=4, tokens=300, context=16,
                              batch_size=4, n_show=1), out_dir=d / "formation_saes", corpus=str(corpus)
              ).save(d / "results" / "formation")
    return d, f.to_dict()


def test_feature_result(results):
    _, d = results
    assert d["kind"] == "sae_features" and len(d["latents"]) == min(6, d["n_alive"]) > 1
    for f in d["latents"]:
        assert f["frequency_lo"] <= f["frequency"] <= f["frequency_hi"]
        assert f["contexts"] and f["contexts"][0]["value"] == pytest.approx(f["max_act"])
        c = f["contexts"][0]
        assert c["acts"][c["peak"]] == pytest.approx(c["value"]) and len(c["tokens"]) == len(c["acts"])
        assert sum(f["hist"]["counts"]) == f["count"]
        assert len(f["logits_up"]) == 8 and f["logits_up"][0][1] >= f["logits_up"][-1][1]


def test_report_html_and_pdf(results, tmp_path):
    from reports.api import report

    d, _ = results
    r = report(d / "results", out=tmp_path / "rep", format="html,pdf")
    html = (tmp_path / "rep.html").read_text()
    assert 'class="feat-view"' in html and "SAE evaluation" in html and "SAE training" in html
    for title in ("SAE sweep frontier", "Steering", "SAE feature formation", "SAE feature browser"):
        assert title in html, title
    blob = html.split('<script type="application/json" id="feat-')[1].split(">", 1)[1].split("</script>")[0]
    data = json.loads(blob)
    assert len(data["latents"]) > 1 and "contexts" in data["latents"][0]
    assert "<" not in blob  # tokens cannot close the script block
    assert (tmp_path / "rep.pdf").stat().st_size > 1000
    assert r.to_dict()["kind"]


def _browser():
    return headless_browser()


def test_click_and_search_in_headless_browser(results, tmp_path):
    from selenium.webdriver.common.by import By

    from reports.api import report

    d, data = results
    report(d / "results", out=tmp_path / "rep", format="html")
    drv = _browser()
    try:
        drv.get((tmp_path / "rep.html").as_uri())
        view = drv.find_element(By.CSS_SELECTOR, ".feat-view")
        items = view.find_elements(By.CSS_SELECTOR, ".feat-list li")
        assert len(items) == len(data["latents"])  # the pinned script ran under the CSP
        detail = view.find_element(By.CSS_SELECTOR, ".feat-detail")
        first = detail.text
        assert detail.get_attribute("data-latent") == str(data["latents"][0]["id"])
        items[1].click()
        assert detail.get_attribute("data-latent") == str(data["latents"][1]["id"])
        assert detail.text != first
        assert len(detail.find_elements(By.CSS_SELECTOR, ".feat-ctx")) == len(data["latents"][1]["contexts"])
        box = view.find_element(By.CSS_SELECTOR, ".feat-search")
        box.send_keys(str(data["latents"][2]["id"]))
        shown = view.find_elements(By.CSS_SELECTOR, ".feat-list li")
        assert any(li.text.startswith(f"#{data['latents'][2]['id']} ") for li in shown)
        assert len(shown) < len(data["latents"])
    finally:
        drv.quit()
