"""Train/eval leakage by normalised text: never fit or draw shots from a text that is also evaluated.

    normalise("  The  film's GREAT!! ")  ->  "the film s great"

NFKC, case-folded, every run of non-alphanumeric characters a single space, stripped. Two examples are
the same text when their normalised forms are equal (so punctuation/spacing/case variants of one
sentence count as one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from evals.datasets.core import Example

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """The comparison key of a text (see the module docstring)."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def overlap(train: Iterable[Example], evaluated: Iterable[Example]) -> int:
    """How many train rows have a normalised text that also occurs in `evaluated`."""
    keys = {normalise(ex.text) for ex in evaluated}
    return sum(normalise(ex.text) in keys for ex in train)


def drop_overlap(train: Sequence[Example], evaluated: Iterable[Example]) -> tuple[tuple[Example, ...], int]:
    """(train rows whose normalised text is not in `evaluated`, how many were dropped)."""
    keys = {normalise(ex.text) for ex in evaluated}
    kept = tuple(ex for ex in train if normalise(ex.text) not in keys)
    return kept, len(train) - len(kept)


def unique(examples: Sequence[Example]) -> tuple[tuple[Example, ...], int]:
    """First occurrence of each normalised text; a text seen with two different labels is dropped entirely.

    Returns (kept examples in their original order, number dropped).
    """
    labels: dict[str, set[str]] = {}
    for ex in examples:
        labels.setdefault(normalise(ex.text), set()).add(ex.label)
    seen: set[str] = set()
    kept = []
    for ex in examples:
        key = normalise(ex.text)
        if key in seen or len(labels[key]) > 1:
            continue
        seen.add(key)
        kept.append(ex)
    return tuple(kept), len(examples) - len(kept)
