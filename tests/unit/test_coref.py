"""Coreference probe: data validation, token mapping, attention measure, behaviour check, CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from interp.errors import UserError
from interp.results import dumps
from probes.coref import (
    CorefConfig,
    accuracy_stats,
    behaviour_inputs,
    bos_id,
    coref_probe,
    encode,
    word_tokens,
)
from probes.coref_data import (
    PROBE_SETS,
    TEMPLATES,
    builtin_examples,
    load_jsonl,
    load_probe_set,
    make_example,
)

ROWS = [
    {"text": "Mary smiled and John lost his keys.", "pronoun": "his", "antecedent": "John", "distractor": "Mary"},
    {"text": "Mary gave her book to Tom and he read it.", "pronoun": "he", "antecedent": "Tom",
     "distractor": "Mary", "category": "subject"},
    {"text": "The ball rolled. It stopped.", "pronoun": "It", "antecedent": "ball", "distractor": "The",
     "contrast": "He"},
    {"text": "Sarah said she was tired.", "pronoun": "she", "antecedent": "Sarah", "distractor": "said"},
    {"text": "The cat sat on the mat and the dog chased it.", "pronoun": "it", "antecedent": "cat",
     "distractor": "dog", "contrast": "him"},
    {"text": "A dog chased the cat and the cat ran up the tree.", "pronoun": "cat", "antecedent": "cat",
     "distractor": "dog", "contrast": "dog"},  # a repeated noun: the second "cat" looks back at the first
]


def _write(tmp_path, rows, name="data.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


def _examples(tmp_path):
    return load_jsonl(_write(tmp_path, ROWS))


# ----------------------------------------------------------------------------------------- data
@pytest.mark.parametrize("rows, match", [
    ([ROWS[0], "{not json"], r"data\.jsonl line 2: not valid JSON"),
    ([ROWS[0], ROWS[1], {"text": "John lost his keys.", "pronoun": "his", "antecedent": "John"}],
     r"line 3: missing key\(s\) 'distractor'"),
    ([{**ROWS[0], "antecedent": "Jhon"}], r"line 1: antecedent 'Jhon' does not occur"),
    ([ROWS[1], {**ROWS[0], "pronoun": "her"}], r"line 2: pronoun 'her' does not occur"),
    ([{**ROWS[0], "distractor": "Bill"}], r"line 1: distractor 'Bill' does not occur"),
    ([{"text": "He said John left.", "pronoun": "He", "antecedent": "John", "distractor": "said"}],
     r"line 1: antecedent 'John' occurs only after the pronoun"),
    ([{**ROWS[0], "antecedant": "John"}], r"line 1: unknown key\(s\) 'antecedant'"),
    (["[1, 2]"], r"line 1: expected a JSON object"),
    ([{**ROWS[0], "pronoun": ""}], r"line 1: 'pronoun' must be a non-empty string"),
    ([{**ROWS[0], "cross_sentence": "yes"}], r"line 1: 'cross_sentence' must be true or false"),
    ([{**ROWS[0], "contrast": "his"}], r"line 1: contrast 'his' equals the pronoun"),
    ([{**ROWS[0], "distractor": "John"}], r"line 1: antecedent 'John' and distractor 'John' overlap"),
])
def test_jsonl_validation_errors_name_the_row(tmp_path, rows, match):
    with pytest.raises(UserError, match=match):
        load_jsonl(_write(tmp_path, rows))


def test_jsonl_empty_missing_and_blank_lines(tmp_path):
    with pytest.raises(UserError, match="no examples"):
        load_jsonl(_write(tmp_path, ["", "  "]))
    with pytest.raises(UserError, match="not found"):
        load_jsonl(tmp_path / "nope.jsonl")
    ex = load_jsonl(_write(tmp_path, [ROWS[0], "", ROWS[1]]))
    assert [e.where for e in ex] == ["data.jsonl line 1", "data.jsonl line 3"]


def test_jsonl_defaults(tmp_path):
    ex = _examples(tmp_path)
    assert [e.category for e in ex] == ["user", "subject", "user", "user", "user", "user"]
    assert [e.contrast for e in ex] == ["her", "she", "He", "he", "him", "dog"]
    assert [e.cross_sentence for e in ex] == [False, False, True, False, False, False]
    assert ex[0].expected == "his"


def test_occurrence_rules():
    # pronoun: last occurrence; antecedent/distractor: last occurrence before the pronoun; whole words
    text = "he met John. John saw Mary and the man; then he smiled at John."
    ex = make_example(text, "he", "John", "Mary")
    sp = ex.spans()
    assert sp["pronoun"] == (text.rindex(" he ") + 1, text.rindex(" he ") + 3)
    assert sp["antecedent"] == (13, 17)  # the second John; the third one comes after the pronoun
    assert text[slice(*sp["distractor"])] == "Mary"
    with pytest.raises(UserError, match="'the' does not occur"):
        make_example("Then he left.", "he", "the", "Then")  # "the" is not a whole word in "Then"


def test_builtin_set_is_deterministic_and_counterbalanced():
    ex = builtin_examples(4)
    assert len(ex) == 4 * len(TEMPLATES)
    assert [e.to_dict() for e in ex] == [e.to_dict() for e in builtin_examples(4)]
    assert {e.category for e in ex} == {"possessive", "subject", "object", "noun", "inanimate"}
    for cross in (False, True):
        sub = [e for e in ex if e.cross_sentence is cross]
        nearer = [e.spans()["antecedent"][0] > e.spans()["distractor"][0] for e in sub]
        assert np.mean(nearer) == 0.5, cross  # position alone scores chance
    for e in ex:
        assert e.contrast and e.contrast.lower() != e.pronoun.lower()
        assert e.antecedent != e.distractor
    # every name is antecedent as often as distractor within the name templates
    names = [e for e in ex if e.category in ("possessive", "subject", "object")]
    from collections import Counter
    assert Counter(e.antecedent for e in names) == Counter(e.distractor for e in names)


def test_registry_rejects_unknown_and_loads_all(tmp_path):
    with pytest.raises(UserError, match="unknown probe set 'bultin'"):
        load_probe_set("bultin")
    for name in PROBE_SETS:
        label, ex = load_probe_set(name)
        assert label == name and len(ex) > 0
    label, ex = load_probe_set(str(_write(tmp_path, ROWS)))
    assert len(ex) == len(ROWS)


# ----------------------------------------------------------------------------------------- tokens
def test_word_tokens_overlap_rule():
    offsets = [(0, 0), (0, 2), (2, 4), (4, 5), (5, 9), (9, 10)]  # BOS, "Jo", "hn", " ", " his"-ish, "."
    assert word_tokens(offsets, (0, 4)) == [1, 2]
    assert word_tokens(offsets, (5, 8)) == [4]
    assert word_tokens(offsets, (4, 5)) == [3]
    assert word_tokens(offsets, (10, 12)) == []


def test_multi_token_words_map_to_their_tokens(toy_tokenizer):
    ex = make_example("Sarah said she was tired. John lost his keys.", "his", "John", "Sarah")
    enc = encode(toy_tokenizer, ex, bos=toy_tokenizer.bos_token_id, n_ctx=64)
    assert enc.ids[0] == toy_tokenizer.bos_token_id
    dec = lambda idx: toy_tokenizer.decode([enc.ids[i] for i in idx]).strip()  # noqa: E731
    assert dec(enc.pronoun) == "his" and dec(enc.antecedent) == "John" and dec(enc.distractor) == "Sarah"
    assert len(enc.pronoun) > 1 and len(enc.antecedent) > 1  # the toy BPE splits these words
    assert enc.query == enc.pronoun[0]
    last = encode(toy_tokenizer, ex, bos=None, n_ctx=64, query="last")
    assert last.query == last.pronoun[-1] and last.ids[0] != toy_tokenizer.bos_token_id
    assert [i + 1 for i in last.antecedent] == list(enc.antecedent)  # BOS shifts indices by one
    with pytest.raises(UserError, match="longer than the model context 5"):
        encode(toy_tokenizer, ex, bos=None, n_ctx=5)


def test_behaviour_inputs_split_prefix_and_continuations(toy_tokenizer):
    ex = make_example("Mary smiled and John lost his keys.", "his", "John", "Mary", contrast="her")
    pre, exp, con = behaviour_inputs(toy_tokenizer, ex, bos=toy_tokenizer.bos_token_id)
    assert toy_tokenizer.decode(pre[1:]) == "Mary smiled and John lost"
    assert toy_tokenizer.decode(exp) == " his" and toy_tokenizer.decode(con) == " her"
    assert behaviour_inputs(toy_tokenizer, dataclasses.replace(ex, contrast=None), bos=None) is None


# ----------------------------------------------------------------------------------------- probe
def test_override_hook_putting_attention_on_antecedent_gives_accuracy_one(tiny_bridge, tmp_path):
    ex = _examples(tmp_path)
    enc = [encode(tiny_bridge.tokenizer, e, bos_id(tiny_bridge), tiny_bridge.cfg.n_ctx) for e in ex]

    def to_antecedent(pattern, hook):  # (B, H, T, T); one batch holds all examples
        p = torch.zeros_like(pattern) + pattern
        for b, e in enumerate(enc):
            p[b, :, e.query, :] = 0.0
            p[b, :, e.query, list(e.antecedent)] = 1.0 / len(e.antecedent)
        return p

    cfg = CorefConfig(batch_size=len(ex), behaviour=False)
    res = coref_probe(tiny_bridge, ex, cfg, fwd_hooks=[(lambda n: n.endswith("attn.hook_pattern"), to_antecedent)])
    d = res.to_dict()
    assert np.all(np.array(d["head_accuracy"]) == 1.0)
    assert d["head_mean"]["accuracy"] == 1.0 and d["best_heads"][0]["accuracy"] == 1.0
    assert all(r["best_head_antecedent"] == pytest.approx(1.0) and r["best_head_distractor"] == 0.0
               for r in d["examples"])
    # and the hook is gone afterwards: a plain run is not perfect
    plain = coref_probe(tiny_bridge, ex, cfg).to_dict()
    assert not np.all(np.array(plain["head_accuracy"]) == 1.0)


def _check_stats(s):
    assert s["chance"] == 0.5
    if s["n"]:
        assert 0.0 <= s["ci_low"] <= s["accuracy"] <= s["ci_high"] <= 1.0


def test_result_accuracies_bounded_and_chance_everywhere(tiny_bridge, tmp_path):
    d = coref_probe(tiny_bridge, _examples(tmp_path), CorefConfig(batch_size=3, top_k=3)).to_dict()
    acc = np.array(d["head_accuracy"])
    assert acc.shape == (2, 4) and np.all((acc >= 0) & (acc <= 1))
    assert d["chance"] == 0.5 and d["n_examples"] == len(ROWS)
    for s in [d["head_mean"], d["recency_baseline"], d["behaviour"], d["best_head_heldout"], *d["best_heads"]]:
        _check_stats(s)
    for group in (d["by_cross_sentence"], d["by_category"]):
        for g in group.values():
            for key in ("head_mean", "best_head", "behaviour", "recency_baseline"):
                _check_stats(g[key])
    assert d["by_cross_sentence"]["cross"]["n"] == 1 and set(d["by_category"]) == {"user", "subject"}
    assert d["behaviour"]["n"] == len(ROWS) and d["behaviour"]["n_skipped"] == 0
    assert len(d["best_heads"]) == 3
    assert d["best_heads"][0]["accuracy"] == acc.max()
    r = d["examples"][0]
    assert {"text", "pronoun", "antecedent", "distractor", "best_head_antecedent", "best_head_distractor",
            "head_mean_antecedent", "head_mean_distractor", "head_mean_correct", "behaviour_correct",
            "expected", "contrast"} <= set(r)


def test_attention_and_logprobs_match_a_manual_computation(tiny_bridge, tmp_path):
    ex = _examples(tmp_path)
    d = coref_probe(tiny_bridge, ex, CorefConfig(batch_size=4)).to_dict()
    # the toy BPE splits many pronouns: some continuations are read off the probe pass, some need a 2nd pass
    assert 0 < d["behaviour"]["n_second_pass"] < 2 * len(ex)
    best = d["best_heads"][0]
    bos = bos_id(tiny_bridge)
    with torch.no_grad():
        for e_ex, row in zip(ex, d["examples"], strict=True):
            e = encode(tiny_bridge.tokenizer, e_ex, bos, 64)
            _, cache = tiny_bridge.run_with_cache(torch.tensor([e.ids]))
            pats = torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][0, :, e.query] for layer in range(2)])
            pat = pats[best["layer"], best["head_index"]]  # (T,)
            assert row["best_head_antecedent"] == pytest.approx(pat[list(e.antecedent)].sum().item(), abs=1e-6)
            assert row["best_head_distractor"] == pytest.approx(pat[list(e.distractor)].sum().item(), abs=1e-6)
            assert row["head_mean_antecedent"] == pytest.approx(
                pats[..., list(e.antecedent)].sum(-1).mean().item(), abs=1e-6)
            pre, exp, con = behaviour_inputs(tiny_bridge.tokenizer, e_ex, bos)
            for cont, key in ((exp, "logprob_expected"), (con, "logprob_contrast")):
                lp = torch.log_softmax(tiny_bridge(torch.tensor([pre + cont]))[0].double(), -1)
                manual = sum(lp[len(pre) - 1 + i, t].item() for i, t in enumerate(cont))
                assert row[key] == pytest.approx(manual, abs=1e-5)
            assert row["behaviour_correct"] == (row["logprob_expected"] > row["logprob_contrast"])


def test_deterministic_and_batch_invariant(tiny_bridge, tmp_path):
    ex = _examples(tmp_path)
    a = coref_probe(tiny_bridge, ex, CorefConfig(batch_size=4, seed=3), model="m").to_dict()
    b = coref_probe(tiny_bridge, ex, CorefConfig(batch_size=4, seed=3), model="m").to_dict()
    assert dumps(a) == dumps(b)
    c = coref_probe(tiny_bridge, ex, CorefConfig(batch_size=1, seed=3), model="m").to_dict()
    for ra, rc in zip(a["examples"], c["examples"], strict=True):  # right padding changes nothing
        for k in ("best_head_antecedent", "head_mean_distractor", "logprob_expected", "logprob_contrast"):
            assert ra[k] == pytest.approx(rc[k], abs=1e-5)


def test_tiny_gemma(tiny_gemma_bridge, tmp_path):
    d = coref_probe(tiny_gemma_bridge, _examples(tmp_path)[:3], CorefConfig(batch_size=3)).to_dict()
    assert np.array(d["head_accuracy"]).shape == (2, 4)
    assert d["behaviour"]["n"] == 3 and d["method"]["bos"] is True


def test_config_and_stats_validation():
    with pytest.raises(UserError, match="query must be one of"):
        CorefConfig(query="middle")
    with pytest.raises(UserError, match="top_k"):
        CorefConfig(top_k=0)
    s = accuracy_stats([True] * 8 + [False] * 2)
    assert s["accuracy"] == 0.8 and s["ci_low"] == pytest.approx(0.490, abs=1e-3)
    assert accuracy_stats([])["accuracy"] is None


# ----------------------------------------------------------------------------------------- CLI
def test_cli_writes_results_and_figures(tiny_gpt2_dir, tmp_path, capsys):
    from interp.cli import run

    data = _write(tmp_path, ROWS[:4])
    out = tmp_path / "out"
    rc = run(["probe", "coref", str(tiny_gpt2_dir), "--data", str(data), "--out", str(out), "--seed", "1",
              "--top-k", "2", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "coref_probe" and d["seed"] == 1 and len(d["best_heads"]) == 2
    assert json.loads((out / "results.json").read_text()) == d
    for name in ("coref_head_accuracy", "coref_single_vs_cross", "coref_by_category"):
        assert (out / f"{name}.png").stat().st_size > 0 and (out / f"{name}.svg").exists()


@pytest.mark.parametrize("args, match", [
    (["--data", "no-such-set"], "unknown probe set 'no-such-set'"),
    (["--query", "middle"], "query must be one of"),
])
def test_cli_user_errors_exit_2_and_write_nothing(tiny_gpt2_dir, tmp_path, capsys, args, match):
    from interp.cli import run

    out = tmp_path / "out"
    rc = run(["probe", "coref", str(tiny_gpt2_dir), "--out", str(out), *args])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err
    assert not out.exists()


def test_cli_bad_jsonl_exit_2(tiny_gpt2_dir, tmp_path, capsys):
    from interp.cli import run

    rc = run(["probe", "coref", str(tiny_gpt2_dir), "--data", str(_write(tmp_path, [ROWS[0], "{oops"]))])
    assert rc == 2 and "line 2: not valid JSON" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- causal probe
def test_corrupt_candidates_rule():
    from probes.coref_data import corrupt_candidates

    ex = make_example("Emma watched as John lost his keys.", "his", "John", "Emma", contrast="her")
    cands = corrupt_candidates(ex)
    assert cands[0] == "Emma watched as Mary lost"  # same index in the other-gender list
    assert all("Emma" in c and "John" not in c for c in cands)
    assert not any(c.startswith("Emma watched as Emma") for c in cands)  # never the distractor
    noun = make_example("The king thanked the queen because he had won.", "he", "king", "queen", contrast="she")
    assert all("queen thanked the queen" not in c for c in corrupt_candidates(noun))
    thing = make_example("Tom dropped the cup and broke it.", "it", "cup", "Tom")
    assert corrupt_candidates(thing) == []  # inanimate: no gender counterpart
    given = dataclasses.replace(thing, corrupt="Tom dropped the man and broke")
    assert corrupt_candidates(given) == ["Tom dropped the man and broke"]


def test_jsonl_corrupt_field(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "Tom dropped the cup and broke it.", "pronoun": "it", "antecedent": "cup", '
                 '"distractor": "Tom", "contrast": "him", "corrupt": "Tom dropped the man and broke"}\n')
    (ex,) = load_jsonl(f)
    assert ex.corrupt == "Tom dropped the man and broke" and ex.to_dict()["corrupt"] == ex.corrupt
    f.write_text('{"text": "Tom dropped the cup and broke it.", "pronoun": "it", "antecedent": "cup", '
                 '"distractor": "Tom", "corrupt": ""}\n')
    with pytest.raises(UserError, match="'corrupt' must be a non-empty string"):
        load_jsonl(f)


@pytest.fixture(scope="module")
def coref_bridge(tmp_path_factory):
    """A tiny random GPT-2 whose BPE was trained on the built-in texts, so names and pronouns are one token."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp import hooked
    from interp.tokenizer import train_bpe

    tok = train_bpe([e.text for e in builtin_examples(8)] * 3, vocab_size=400)
    d = tmp_path_factory.mktemp("coref_tiny")
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    return hooked.load(str(d))


def test_causal_probe_on_tiny_model(coref_bridge, tmp_path):
    from probes.coref_causal import CausalConfig, build_pairs, coref_causal

    examples = [e for e in builtin_examples(1) if e.category in ("possessive", "subject")]
    pairs, used, skipped = build_pairs(coref_bridge.tokenizer, examples)
    assert pairs and len(used) + sum(skipped.values()) == len(examples)
    for p in pairs:
        assert len(coref_bridge.tokenizer(p.clean)["input_ids"]) == len(coref_bridge.tokenizer(p.corrupt)["input_ids"])
    res = coref_causal(coref_bridge, examples, CausalConfig(top_k=3, method="atp,exact"), model="tiny")
    d = res.to_dict()
    assert d["kind"] == "coref_causal" and d["n_pairs"] == len(pairs)
    assert len(d["head_fraction"]) == 2 and len(d["head_fraction"][0]) == 4
    assert len(d["top_heads"]) == 3 and all(t["ci_low"] <= t["fraction"] <= t["ci_high"] for t in d["top_heads"])
    assert d["top_heads"][0]["fraction"] >= d["top_heads"][1]["fraction"]
    assert set(d["look_vs_carry"]) >= {"spearman_attention_accuracy_vs_fraction", "overlap", "best_looker"}
    assert "atp" in d["patching"]["comparison"]["heads"]
    paths = res.save(tmp_path / "out")
    assert "coref_look_vs_carry.png" in {p.name for p in paths}
    from reports.api import report

    rep = report(tmp_path / "out", format="html")
    html = next(iter(rep.outputs.values()))
    assert "Causal coreference" in open(html, encoding="utf-8").read()
