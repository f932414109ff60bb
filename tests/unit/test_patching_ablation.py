"""`ablate-sweep --estimate atp`: the gradient estimate of every head's ablation Δloss tracks the exact sweep."""

from __future__ import annotations

import numpy as np
import pytest

from interp.errors import UserError
from tests.conftest import TOY_TEXT


@pytest.mark.parametrize("method", ["zero", "mean", "resample"])
def test_atp_sweep_tracks_exact(tiny_bridge, method):
    from interp.ablation import AblationConfig, sweep
    from interp.ablation.atp import estimate_sweep
    from interp.tokens import eval_windows

    w = eval_windows(tiny_bridge.tokenizer, [TOY_TEXT], 32, 256)
    cfg = AblationConfig(method=method, max_new_tokens=0)
    exact = np.array(sweep(tiny_bridge, w, cfg).delta_loss, dtype=float)
    res = estimate_sweep(tiny_bridge, w, cfg, verify_top=3)
    est = np.array(res.delta_loss, dtype=float)
    assert res.kind == "ablation_sweep" and res.estimate == "atp"
    assert np.corrcoef(exact.ravel(), est.ravel())[0, 1] > 0.99  # random tiny model: nearly linear
    assert len(res.verify) == 3
    for v in res.verify:
        layer, head = (int(x) for x in v["head"].split("."))
        assert v["exact"] == pytest.approx(exact[layer, head], abs=1e-6)


def test_atp_sweep_verify_top_too_large(tiny_bridge):
    from interp.ablation import AblationConfig
    from interp.ablation.atp import estimate_sweep
    from interp.tokens import eval_windows

    w = eval_windows(tiny_bridge.tokenizer, [TOY_TEXT], 32, 128)
    with pytest.raises(UserError, match="verify_top"):
        estimate_sweep(tiny_bridge, w, AblationConfig(max_new_tokens=0), verify_top=9)
