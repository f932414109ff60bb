"""The circuit report's interactive edge view: its data (top edges by |score|, node positions of the static graph,
the faithfulness curve) and, in a real headless browser, that the slider changes the edges drawn and listed and
clicking a node keeps only its edges. Browser part skips (saying why) where no chromium can be installed."""

from __future__ import annotations

import json

import pytest

from tests.browser import headless_browser as _browser

PAIR = ("John lost his keys. Sarah said", "Mary lost his keys. Sarah said", " the", " cat")


@pytest.fixture(scope="module")
def circuit_run(tiny_gpt2_dir, tmp_path_factory):
    from interp.circuits.api import circuit
    from interp.patching.api import Pair
    from reports.api import report

    d = tmp_path_factory.mktemp("edge_view")
    res = circuit(str(tiny_gpt2_dir), pairs=[Pair(*PAIR)], method="eap", curve_points=4, n_boot=0, size=5)
    res.save(d / "results" / "circuit")
    rep = report(d / "results", out=d / "report", format="html")
    return res.to_dict(), rep.outputs["html"]


def test_view_data_is_the_top_edges_by_magnitude(circuit_run):
    from interp.circuits.view import edge_view_data

    d, _ = circuit_run
    v = edge_view_data(d, max_edges=30)
    mags = [abs(e["score"]) for e in v["edges"]]
    assert len(v["edges"]) == 30 and mags == sorted(mags, reverse=True)
    assert mags[0] == pytest.approx(max(abs(s) for s in d["scores"]["eap"]))
    names = {n["name"] for n in v["nodes"]}
    assert all(e["src"] in names and e["dst"] in names for e in v["edges"])  # every edge drawable
    assert v["start"] == d["circuit"]["size"] == 5
    assert len(names) == 2 + d["n_layers"] * (d["n_heads"] + 1)


def test_report_embeds_the_view_safely(circuit_run):
    _, html_path = circuit_run
    html = open(html_path, encoding="utf-8").read()
    assert 'class="edge-view"' in html
    blob = html.split('<script type="application/json" id="edges-')[1].split(">", 1)[1].split("</script>")[0]
    data = json.loads(blob)
    assert data["edges"] and "<" not in blob


def test_slider_and_node_click_in_a_browser(circuit_run):
    from selenium.webdriver.common.by import By

    _, html_path = circuit_run
    drv = _browser()
    try:
        drv.get("file://" + str(html_path))
        view = drv.find_element(By.CSS_SELECTOR, ".edge-view")
        rows = lambda: view.find_elements(By.CSS_SELECTOR, ".edge-list tbody tr")  # noqa: E731
        lines = lambda: view.find_elements(By.CSS_SELECTOR, ".edge-line")  # noqa: E731
        assert len(rows()) == 5 and len(lines()) == 5  # starts at the named circuit's size
        info = view.find_element(By.CSS_SELECTOR, ".edge-info").text
        assert info.startswith("5 of ") and "faithfulness at" in info
        slider = view.find_element(By.CSS_SELECTOR, ".edge-k")
        drv.execute_script("arguments[0].value = 12; arguments[0].dispatchEvent(new Event('input'));", slider)
        assert len(rows()) == 12 and len(lines()) == 12
        first = rows()[0].find_elements(By.TAG_NAME, "td")[1].text  # the top edge: SRC->DST
        src = first.split("->")[0]
        view.find_element(By.CSS_SELECTOR, f'.edge-node[data-node="{src}"]').click()
        kept = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows()]
        assert kept and len(kept) <= 12 and all(src in (e.split("->")[0], e.split("->")[1].rsplit(".", 1)[0]
                                                        if e.split("->")[1].count(".") == 2 else e.split("->")[1])
                                                for e in kept)
        assert "edges of " + src in view.find_element(By.CSS_SELECTOR, ".edge-info").text
    finally:
        drv.quit()
