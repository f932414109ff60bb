"""The previous-token score is one quantity: one definition (interp.attention.scores.prev_token_score, mean
A[q, q−1] over q ≥ 1) used by every section, one prompt for every prompt-based demo stage, and one name that says
on what text it is measured."""

from __future__ import annotations

import pytest
import torch

from reports.collect import Stage
from reports.sections import get_section
from reports.sections.attention_maps import head_scores, uniform_causal


def test_report_score_equals_the_analysis_definition():
    from interp.attention.scores import prev_token_score

    g = torch.Generator().manual_seed(0)
    a = torch.rand(7, 7, generator=g, dtype=torch.float64).tril()
    a = a / a.sum(-1, keepdim=True)  # (T, T) causal rows summing to 1
    assert head_scores(a.tolist())["prev_token"] == pytest.approx(float(prev_token_score(a)), abs=1e-12)
    u = torch.ones(7, 7, dtype=torch.float64).tril()
    u = u / u.sum(-1, keepdim=True)
    assert uniform_causal(7)["prev_token"] == pytest.approx(float(prev_token_score(u)), abs=1e-12)


def test_demo_measures_it_on_one_prompt():
    from interp.attention.formation import DEFAULT_PROMPT
    from interp.demo import PROMPT, STAGES, DemoConfig

    assert PROMPT == DEFAULT_PROMPT
    c = DemoConfig(gemma=False)
    for name in ("attention", "attention-evolution", "head-formation"):
        argv = next(s for s in STAGES if s.name == name).argv(c)
        assert argv[argv.index("--prompt") + 1] == PROMPT, name


def test_sections_name_the_text():
    T = 30
    grid = [[[1.0 if k == q - 1 or (q == 0 and k == 0) else 0.0 for k in range(T)] for q in range(T)]]
    maps = {"tokens": [f"t{i}" for i in range(T)], "layers": [0], "heads": [0], "patterns": [grid]}
    (fa,) = get_section("attention_maps").findings(Stage(rel="a", source="a/results.json", kind="attention_maps",
                                                         data=maps))
    assert "mean A[q, q−1] on the 30-token prompt" in fa.value and fa.verdict == "a previous-token head"
    form = {"n_prompt_tokens": T, "labels": ["step-1", "step-100"], "x": "step",
            "summary": [{"type": "prev_token", "threshold": 0.5, "n_formed": 0, "n_heads_total": 4, "first": None,
                         "best_final": {"head_name": "L0.H3", "score": 0.13}}]}
    (ff,) = get_section("head_formation").findings(Stage(rel="h", source="h/results.json", kind="head_formation",
                                                          data=form))
    assert "mean A[q, q−1] on the 30-token prompt" in ff.label and "final checkpoint step-100" in ff.label
    assert f"uniform attention {uniform_causal(T)['prev_token']:.2f}" in ff.baseline
    assert ff.verdict == "no previous-token head yet"
