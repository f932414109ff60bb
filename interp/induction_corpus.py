"""A synthetic corpus built from the embedded Shakespeare in which an induction head pays off.

`--corpus induction` (or `induction:K`, K = vocabulary size, default `DEFAULT_WORDS`) makes documents of
lines over Shakespeare's K commonest words, each line a word sequence said twice:

    w1 w2 … wn . w1 w2 … wn .        (n uniform in [N_MIN, N_MAX])

Half of the lines (`induction`, "mixed") are spans of Shakespeare's running text with the other words
dropped (`induction-text`: all lines), the rest random words drawn uniformly from the K (`induction-random`:
all lines). The second half of a line is predictable by copying from context — exactly what a previous-token
head (layer 0) feeding an induction head (layer 1) does — so the loss falls in a step when the induction head
forms (Olsson et al. 2022's "bump"). The text lines give the model bigram structure to learn first (a
previous-token head pays off early); the random lines reward exact copying only. Measured
(benchmarks/induction_formation.py, docs/induction.md): the `induction` preset trains on `induction-text`,
where (4 heads, lr 4e-3) both the previous-token and the induction head form; mixed forms strong induction
heads but, at lr 2e-3 with 2 heads, a smeared previous-token head.

Deterministic: the word list is the K most frequent lower-case alphabetic words of the 42 texts of the
`shakespeare` package (ties broken alphabetically), and the lines come from `random.Random(seed)` with a
fixed seed per document — the same text on every machine, no download. The word tokenizer
(`--tokenizer word`) makes every word and "." one token.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from functools import lru_cache

from interp.errors import UserError

NAME = "induction"
DEFAULT_WORDS = 200
N_MIN, N_MAX = 8, 20
N_DOCS = 40  # ≥ data.MIN_DOCS_FOR_DOC_SPLIT: split by whole documents
LINES_PER_DOC = 1_000  # ≈ 29 tokens a line → ~1.2M tokens in all
SEED = 1234
_WORD = re.compile(r"[a-z]+")


def parse_spec(spec: str) -> tuple[int, str] | None:
    """'induction' → (DEFAULT_WORDS, 'mixed'), 'induction:150' → (150, 'mixed'), 'induction-text:150' →
    (150, 'text'), 'induction-random' → (DEFAULT_WORDS, 'random'); None when `spec` is not this corpus."""
    for name, mode in ((NAME, "mixed"), (NAME + "-text", "text"), (NAME + "-random", "random")):
        if spec == name:
            return DEFAULT_WORDS, mode
        if spec.startswith(name + ":"):
            return _count(spec, spec.split(":", 1)[1]), mode
    return None


def _count(spec: str, k: str) -> int:
    if not k.isdigit() or not 10 <= int(k) <= 5_000:
        raise UserError(f"corpus {spec!r}: the word count after 'induction:' must be an integer in "
                        f"10..5000, e.g. induction:200")
    return int(k)


@lru_cache(maxsize=4)
def common_words(k: int, texts: tuple[str, ...]) -> tuple[str, ...]:
    """The k most frequent lower-case alphabetic words of `texts` (count desc, then alphabetical)."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(_WORD.findall(t.lower()))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) < k:
        raise UserError(f"the corpus has only {len(ranked)} distinct words; ask for at most that many")
    return tuple(w for w, _ in ranked[:k])


def make_line(rng: random.Random, words: tuple[str, ...]) -> str:
    """'w1 … wn . w1 … wn .' with n ~ U[N_MIN, N_MAX] and words drawn uniformly (with replacement)."""
    half = " ".join(rng.choice(words) for _ in range(rng.randint(N_MIN, N_MAX)))
    return f"{half} . {half} ."


def word_stream(texts: tuple[str, ...], words: tuple[str, ...]) -> list[str]:
    """Shakespeare's running text as lower-case words, keeping only those in `words` (in order)."""
    keep = set(words)
    return [w for t in texts for w in _WORD.findall(t.lower()) if w in keep]


def make_text_line(rng: random.Random, stream: list[str]) -> str:
    """'s1 … sn . s1 … sn .' where s is a random span of n ~ U[N_MIN, N_MAX] words of the running text."""
    n = rng.randint(N_MIN, N_MAX)
    i = rng.randrange(0, len(stream) - n)
    half = " ".join(stream[i:i + n])
    return f"{half} . {half} ."


def build_documents(words: tuple[str, ...], n_docs: int = N_DOCS, lines_per_doc: int = LINES_PER_DOC,
                    seed: int = SEED, stream: list[str] | None = None, text_frac: float = 1.0) -> list[tuple[str, str]]:
    """(name, text) per document; document i is seeded with (seed, i), one line per text line. Each line is a
    span of `stream` (`make_text_line`) with probability `text_frac` when `stream` is given, else random words
    (`make_line`)."""
    docs = []
    for i in range(n_docs):
        rng = random.Random(f"{seed}-{i}")
        lines = (make_text_line(rng, stream) if stream is not None and (text_frac >= 1 or rng.random() < text_frac)
                 else make_line(rng, words) for _ in range(lines_per_doc))
        docs.append((f"induction-{i:03d}", "\n".join(lines) + "\n"))
    return docs
