"""Paired statistics (issue 21): literature values, independent references, pairing, BH/Holm, the paired gate,
baseline format, and paired intervals in `interp report --compare`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from evals.regress.compare import adjust_checks, compare_metric
from evals.regress.paired import align, pairing_note
from evals.regress.protocol import MetricValue, item_id, mean_of, proportion_of
from evals.regress.suite import MetricCheck, Tolerance
from interp import stats
from interp.errors import UserError


def test_newcombe_paired_literature_value():
    # Fagerland, Lydersen & Laake (2017) ch. 8 / R contingencytables: table (59, 6 | 16, 80) →
    # estimate −0.0621, 95% CI −0.1186 to −0.0046 (Newcombe square-and-add, method 10)
    lo, hi = stats.newcombe_paired_diff(59, 6, 16, 80)
    assert (round(lo, 4), round(hi, 4)) == (-0.1186, -0.0046)


def test_newcombe_paired_reduces_to_unpaired_when_phi_is_zero():
    # ad − bc = 0 → φ = 0: the paired formula is the independent one at n1 = n2 = n (statsmodels newcomb)
    lo, hi = stats.newcombe_paired_diff(10, 12, 8, 12)  # ad − bc = 24 > n/2: a small positive φ
    lo0, hi0 = stats.newcombe_paired_diff(9, 9, 9, 9)
    ind = stats.newcombe_diff(18, 36, 18, 36)
    assert lo0 == pytest.approx(ind[0], abs=1e-12) and hi0 == pytest.approx(ind[1], abs=1e-12)
    assert lo < (12 - 8) / 42 < hi


def test_mcnemar_exact_matches_binomial_and_tables():
    for b, c in ((6, 16), (0, 5), (3, 3), (1, 0)):
        ref = binomtest(b, b + c, 0.5).pvalue
        assert stats.mcnemar_p(b, c) == pytest.approx(min(1.0, ref), rel=1e-12)
    assert stats.mcnemar_p(0, 0) == 1.0
    assert stats.paired_table([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]) == (2, 1, 1, 1)


def test_adjust_bh_and_holm_hand_values():
    p = [0.01, 0.04, 0.03, 0.5]
    assert stats.adjust_pvalues(p, "bh") == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert stats.adjust_pvalues(p, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.adjust_pvalues(p, "none") == p
    with pytest.raises(UserError, match="unknown p-value adjustment"):
        stats.adjust_pvalues(p, "bonf")


def test_paired_bootstrap_is_seeded_and_tighter():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = x + 0.05 + 0.01 * rng.normal(size=300)  # a small shift on strongly correlated items
    rp = stats.bootstrap_diff(x, y, stat="mean", n_boot=500, seed=3, paired=True)
    assert np.array_equal(rp, stats.bootstrap_diff(x, y, stat="mean", n_boot=500, seed=3, paired=True))
    ru = stats.bootstrap_diff(x, y, stat="mean", n_boot=500, seed=3)
    lo, hi = stats.quantile_interval(rp, 0.95)
    assert 0 < lo < 0.05 < hi  # paired sees the shift
    ulo, uhi = stats.quantile_interval(ru, 0.95)
    assert ulo < 0 < uhi  # unpaired does not
    assert stats.mde_from_replicates(rp) < 0.2 * stats.mde_from_replicates(ru)
    same = stats.bootstrap_diff(x, x, stat="mean", n_boot=200, seed=1, paired=True)
    assert np.all(same == 0) and stats.bootstrap_p(same) == 1.0


def test_mde_formulas():
    z = stats.z_value(0.95) + 0.8416212335729143
    assert stats.mde_paired_proportion(400, 16) == pytest.approx(z * 4 / 400)
    assert stats.mde_paired_proportion(400, 0) == pytest.approx(z / 400)  # at least one discordant item
    assert stats.mde_unpaired_proportion(0.5, 400, 400) == pytest.approx(z * np.sqrt(0.25 * 2 / 400))


def test_item_ids_normalise_whitespace_and_align_pairs():
    assert item_id("The  cat\n sat ") == item_id("The cat sat") != item_id("The cat sat.")
    ids = [item_id(f"q{i}") for i in range(5)]
    b = proportion_of([1, 1, 0, 1, 0], ids)
    c = proportion_of([0, 1, 1, 1, 0][::-1], ids[::-1])  # same items, other order
    ib, ic = align(b, c)
    assert [b.items[i] for i in ib] == [c.items[i] for i in ic]
    assert pairing_note(b, c) == "paired on 5 items"
    d = proportion_of([1, 1, 0, 1, 0], ids[:4] + [item_id("other")])
    assert align(b, d) is None and "items differ (1 only in the baseline, 1 only in the current" in pairing_note(b, d)
    assert "baseline has no per-item" in pairing_note(MetricValue(0.6, 5, "proportion"), c)


def _chk(stat: str, direction: str = "higher") -> MetricCheck:
    return MetricCheck("m", direction, stat, Tolerance("statistical"))


def test_paired_gate_sees_a_drop_the_unpaired_one_misses():
    ids = [item_id(f"item {i}") for i in range(400)]
    base = [1] * 300 + [0] * 100
    cur = [0] * 14 + [1] * 286 + [0] * 100  # 14 items flipped right → wrong, none back: 0.75 → 0.715
    c = compare_metric("e", _chk("proportion"), proportion_of(base, ids), proportion_of(cur, ids))
    assert c.pairing == "paired" and not c.passed and c.p_value < 0.001
    assert c.changed["n_to_wrong"] == 14 and c.changed["to_wrong"][0] == ids[0]
    u = compare_metric("e", _chk("proportion"), MetricValue(0.75, 400, "proportion"), proportion_of(cur, ids))
    assert u.pairing == "unpaired" and u.passed  # the independent-samples test cannot see it
    assert c.mde < 0.5 * u.mde
    assert "cannot see a change smaller than" in c.message


def test_adjusted_p_drives_the_verdict():
    ids = [item_id(i) for i in range(200)]
    base = [1] * 150 + [0] * 50
    cur = [0] * 7 + [1] * 143 + [0] * 50  # raw McNemar p = 0.0156
    one = compare_metric("e", _chk("proportion"), proportion_of(base, ids), proportion_of(cur, ids))
    nulls = [compare_metric("e", _chk("proportion"), proportion_of(base, ids), proportion_of(base, ids))] * 5
    raw = adjust_checks([one, *nulls], "none")
    assert not raw[0].passed
    bh = adjust_checks([one, *nulls], "bh")
    assert bh[0].p_adjusted == pytest.approx(min(1, one.p_value * 6)) and bh[0].passed
    assert bh[0].p_value == one.p_value


def test_paired_bootstrap_check_on_windows():
    ids = [item_id("w", i) for i in range(200)]
    rng = np.random.default_rng(1)
    nll = rng.normal(3.0, 0.5, size=200)
    base = mean_of(nll, [64] * 200, "exp_mean", items=ids)
    cur = mean_of(nll + 0.01, [64] * 200, "exp_mean", items=ids)  # +1% perplexity on every window
    c = compare_metric("e", _chk("exp_mean", "lower"), base, cur, seed=0)
    assert c.pairing == "paired" and not c.passed and "windows" not in c.message
    assert c.changed["moved_most"] and c.changed["n_changed"] == 200
    again = compare_metric("e", _chk("exp_mean", "lower"), base, cur, seed=0)
    assert again == c  # seeded: identical


def test_old_baseline_format_is_refused(tmp_path):
    from evals.regress.baseline import check_baseline
    from evals.regress.suite import parse_suite

    s = parse_suite('[[eval]]\nname = "g"\nkind = "generation"\nprompts = ["a"]\n', base_dir=tmp_path)
    with pytest.raises(UserError, match="baseline format 1 .* re-run `interp regress --update-baseline`"):
        check_baseline(s, {"schema_version": 1, "kind": "regress_baseline", "evals": {}}, "b.json")
    with pytest.raises(UserError, match="`adjust` must be one of bh, holm, none"):
        parse_suite('adjust = "x"\n[[eval]]\nname = "g"\nkind = "generation"\nprompts = ["a"]\n', base_dir=tmp_path)


def _coref_rows(correct: list[bool]) -> dict:
    n = len(correct)
    return {"model": "m", "chance": 0.5, "n_examples": n, "examples_sha256": "abc", "probe_set": "builtin-small",
            "head_accuracy": [[0.5]], "head_mean": {"k": sum(correct), "n": n, "accuracy": sum(correct) / n},
            "best_heads": [], "by_cross_sentence": {}, "by_category": {},
            "examples": [{"text": f"t{i}", "head_mean_correct": c, "behaviour_correct": None}
                         for i, c in enumerate(correct)]}


def test_report_compare_states_paired_interval(tmp_path):
    from reports.compare import build_comparison

    a, b = tmp_path / "before", tmp_path / "after"
    for d, corr in ((a, [True] * 60 + [False] * 24), (b, [False] * 8 + [True] * 52 + [False] * 24)):
        from interp.results import save_result

        save_result({"schema_version": 1, "kind": "coref_probe", **_coref_rows(corr)}, d / "coref")  # + figures
    (sec,) = build_comparison(a, b).sections
    line = next(f.line for f in sec.findings if "head mean" in f.line)
    assert "Newcombe paired 95% CI" in line and "before better" in line  # 8 flips, none back: McNemar p 0.008
    table = next(bl for bl in sec.blocks if type(bl).__name__ == "Table" and "pairing" in bl.columns)
    assert "paired on 84 items: 0 right only in after, 8 only in before" in table.rows[0][5]
