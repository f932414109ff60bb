"""Figures: nothing written over the data (legends under the panels, reference lines named in the legend), score
panels on a fixed 0–1 axis with their threshold drawn, and the ablation Δloss with a bootstrap interval over
windows (checked against an independent normal-approximation interval)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reports import charts  # noqa: E402

XS = [1, 2, 4, 8, 16, 32, 64, 128]


def _specs():
    return [("previous-token (best head)", {"best head": (XS, [0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.47])}, "score",
             {"threshold 0.5": 0.5}, (0.0, 1.0)),
            ("induction (best head)", {"best head": (XS, [0.0215, 0.022, 0.0225, 0.023, 0.0235, 0.024, 0.0245, 0.024])},
             "score", {"threshold 0.4": 0.4}, (0.0, 1.0)),
            ("learning rate", {"lr": (XS, [0.002, 0.00205, 0.0021, 0.002, 0.0019, 0.0018, 0.0015, 0.001])}, "lr", None),
            ("loss", {"train": (XS, [7.6, 7, 6, 5, 4.5, 4, 3.8, 3.6]), "val": (XS, [7.7, 7.1, 6.1, 5.1, 4.6, 4.1, 4, 3.8])},
             "loss (nats)", None)]


def _bboxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return r


def test_panels_keep_labels_off_the_data_and_fix_score_axes():
    fig = plt.figure(figsize=(7.0, 5.4))
    charts.draw_panels(fig, _specs(), "step", logx=True)
    r = _bboxes(fig)
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 4
    plot_boxes = [ax.get_window_extent(r) for ax in axes]
    for i, ax in enumerate(axes):
        leg = ax.get_legend()
        assert leg is not None
        lb = leg.get_window_extent(r)
        for pb in plot_boxes:  # a legend never covers any panel's plotting area
            assert not lb.overlaps(pb), (i, lb, pb)
        assert not ax.texts, "labels are in the legend, not written on the plot"
        for tl in ax.get_yticklabels():  # tick labels stay clear of the neighbouring panels
            tb = tl.get_window_extent(r)
            for j, pb in enumerate(plot_boxes):
                if j != i and tl.get_text():
                    assert not tb.overlaps(pb), (i, j, tl.get_text())
        assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e−3" over the title
    assert axes[1].get_ylim() == (0.0, 1.0)  # a flat 0.02 is not zoomed into a trend
    assert any(ln.get_label() == "threshold 0.4" and ln.get_ydata()[0] == 0.4 for ln in axes[1].lines)
    legends = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert legends == ["best head", "threshold 0.4"]
    plt.close(fig)


def test_ablation_delta_loss_interval_over_windows(tiny_bridge):
    import torch

    from interp.ablation import AblationConfig, ablate_windows
    from interp.ablation.ablate import window_bootstrap

    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, int(tiny_bridge.cfg.d_vocab), (12, 16), generator=g)
    r = ablate_windows(tiny_bridge, x, [(0, 0), (0, 1)], AblationConfig(max_new_tokens=0, seed=3)).to_dict()
    lo, hi = r["delta_loss_ci"]
    assert lo <= r["delta_loss"] <= hi
    per = np.array(r["window_ablated_loss"]) - np.array(r["window_clean_loss"])
    assert per.mean() == pytest.approx(r["delta_loss"], abs=1e-6)
    half = 1.96 * per.std(ddof=1) / math.sqrt(per.size)  # the independent reference: normal approximation
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.35)
    assert window_bootstrap(per, 3) == window_bootstrap(per, 3)  # seeded
    assert window_bootstrap(per[:1], 3) is None


def test_ablation_finding_carries_the_interval():
    from reports.collect import Stage
    from reports.sections import get_section

    d = {"clean_loss": 4.0, "ablated_loss": 4.4, "delta_loss": 0.4, "delta_loss_ci": [-0.05, 0.8], "n_windows": 12,
         "method": "mean", "heads_spec": "0.*"}
    (f,) = get_section("ablation").findings(Stage(rel="a", source="a/results.json", kind="ablation", data=d))
    assert "12 windows [-0.050, +0.800]" in f.interval and f.verdict == "not distinguishable from no effect"
    d["delta_loss_ci"] = [0.2, 0.6]
    (f,) = get_section("ablation").findings(Stage(rel="a", source="a/results.json", kind="ablation", data=d))
    assert f.verdict == "the model relies on these heads for this text"
