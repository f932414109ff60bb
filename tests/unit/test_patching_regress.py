"""The `patching` metric kind of `interp regress` and the named-heads patch it calls."""

from __future__ import annotations

import json

import pytest

from interp.errors import UserError

CLEAN = "The cat sat on the mat. The ball sat on"
CORRUPT = "The ball sat on the mat. The cat sat on"
PAIRS = json.dumps({"clean": CLEAN, "corrupt": CORRUPT, "answer": "the", "wrong": "cat"}) + "\n"
SUITE = """model = "unused"
[[eval]]
name = "carry"
kind = "patching"
heads = "0.*,1.*"
file = "pairs.jsonl"
"""


def test_patch_heads_all_heads_equals_patching_attention(tiny_bridge):
    from interp.patching.api import Pair, patch, patch_heads

    one = patch_heads(tiny_bridge, "1.2", pairs=[Pair(CLEAN, CORRUPT, "the", "cat")])
    grid = patch(tiny_bridge, clean=CLEAN, corrupt=CORRUPT, metric="logit-diff: the, cat").to_dict()
    assert one.fraction == pytest.approx(grid["components"]["heads"]["exact"]["fraction"][1][2], rel=1e-4, abs=1e-4)
    assert one.per_pair == pytest.approx((one.fraction,))
    # every head of every layer patched together = the clean run for attention, not for the MLPs: finite
    every = patch_heads(tiny_bridge, "*.*", pairs=[Pair(CLEAN, CORRUPT, "the", "cat")])
    assert every.n_pairs == 1 and every.heads.count(",") == 7
    with pytest.raises(UserError):
        patch_heads(tiny_bridge, "9.9", pairs=[Pair(CLEAN, CORRUPT, "the", "cat")])


def test_regress_patching_kind(tiny_bridge, tmp_path):
    from evals import regress

    (tmp_path / "pairs.jsonl").write_text(PAIRS * 3)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    first = regress.regress(suite, update_baseline=True, model=tiny_bridge)
    assert first.passed
    first.write_baseline()
    again = regress.regress(suite, model=tiny_bridge)
    assert again.passed and again.n_checks == 1


def test_regress_patching_kind_needs_one_source(tmp_path):
    from evals import regress

    (tmp_path / "pairs.jsonl").write_text(PAIRS)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE + 'probe_set = "builtin-small"\n')
    with pytest.raises(UserError, match="exactly one of"):
        regress.regress(suite, update_baseline=True)
