"""Local CSV/TSV/JSONL files of labeled texts (the CLI's file flags; see `evals.datasets`)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

from evals.datasets.core import (
    DEFAULT_LABEL_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    FILE_SUFFIXES,
    Example,
    FileFormat,
    LabeledData,
)
from interp.errors import UserError
from interp.jsonl import parse_jsonl


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
    from interp.text_input import read_text_file

    text = read_text_file(path, "data file").removeprefix("\ufeff")
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
    from interp.text_input import read_text_file

    names = [ln.strip() for ln in read_text_file(p, "--label-names-file").splitlines() if ln.strip()]
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
    if not p.exists():
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


