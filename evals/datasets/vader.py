"""VADER's human-rated sentiment snippets (Hutto & Gilbert, ICWSM 2014) from the `vaderSentiment` 3.3.2 sdist.

The sdist on PyPI ships `additional_resources/hutto_ICWSM_2014.tar.gz`, which holds (among others)

    vader-amazon   amazonReviewSnippets_GroundTruth.txt   3,708 product-review sentences
    vader-tweets   tweets_GroundTruth.txt                 4,200 tweets

one `id<TAB>score<TAB>text` row per line, score = mean human rating in [-4, 4]. Label = sign of the score
(negative / positive); score 0 is dropped. At first use `pip download --no-deps --no-binary :all:
vaderSentiment==3.3.2` fetches the sdist into `$INTERP_CACHE/vader/` (nothing is installed or imported);
offline, with no cached sdist, that is a one-line `UserError`.

Split (documented, fixed: seed 0, independent of --seed): texts are first de-duplicated by normalised
text (`evals.datasets.dedupe`; a text rated on both sides of 0 is dropped), then per class a seeded
shuffle puts 20% in `test` and the rest in `train`, so no normalised text is in both splits.
"""

from __future__ import annotations

import functools
import io
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from evals.datasets.core import Example
from evals.datasets.dedupe import unique
from interp.errors import UserError

VADER_VERSION = "3.3.2"
SDIST_NAME = f"vaderSentiment-{VADER_VERSION}.tar.gz"
INNER_ARCHIVE = f"vaderSentiment-{VADER_VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
FILES = {"vader-amazon": "amazonReviewSnippets_GroundTruth.txt", "vader-tweets": "tweets_GroundTruth.txt"}
VADER_SPLIT_SEED = 0
VADER_TEST_FRACTION = 0.2
PIP_TIMEOUT_S = 180


def sdist_path() -> Path:
    """Where the cached sdist lives: `$INTERP_CACHE/vader/vaderSentiment-3.3.2.tar.gz`."""
    from interp.hooked import cache_dir

    return cache_dir() / "vader" / SDIST_NAME


def _run_pip(dest: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"vaderSentiment=={VADER_VERSION}", "-d", str(dest), "--quiet", "--disable-pip-version-check",
           "--retries", "0", "--timeout", "15"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)


def fetch_sdist() -> Path:
    """The sdist, downloaded with pip at first use (atomic rename into the cache)."""
    path = sdist_path()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".pip-") as tmp:
        try:
            proc = _run_pip(Path(tmp))
        except (OSError, subprocess.TimeoutExpired) as e:
            proc = subprocess.CompletedProcess([], 1, "", f"{type(e).__name__}: {e}")
        got = Path(tmp) / SDIST_NAME
        if proc.returncode != 0 or not got.is_file():
            last = (proc.stderr or proc.stdout or "").strip().splitlines()
            why = last[-1][:160] if last else f"exit {proc.returncode}"
            raise UserError(f"could not download the vaderSentiment=={VADER_VERSION} sdist with pip (offline? {why}); "
                            f"run once with network access to PyPI, or put {SDIST_NAME} at {path}")
        got.replace(path)
    return path


@functools.lru_cache(maxsize=4)
def _rows(name: str, sdist: str) -> tuple[tuple[str, float, str], ...]:
    """(id, score, text) rows of one ground-truth file inside the sdist's nested archive."""
    try:
        with tarfile.open(sdist, "r:gz") as outer:
            inner_bytes = outer.extractfile(INNER_ARCHIVE).read()  # type: ignore[union-attr]
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            member = next(m for m in inner.getmembers() if m.name.endswith("/" + FILES[name]))
            raw = inner.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, KeyError, StopIteration, AttributeError, OSError, EOFError) as e:
        raise UserError(f"{sdist} is not a usable vaderSentiment sdist ({type(e).__name__}); delete it so it is "
                        "downloaded again") from None
    out = []
    for i, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            out.append((parts[0].strip(), float(parts[1]), parts[2].strip()))
        except (IndexError, ValueError):
            raise UserError(f"{sdist}: {FILES[name]} line {i} is not id<TAB>score<TAB>text; delete the file so it "
                            "is downloaded again") from None
    return tuple(out)


def labeled(name: str) -> tuple[tuple[Example, ...], int, int]:
    """(de-duplicated examples labeled by the sign of the score, n with score 0, n duplicates dropped)."""
    rows = _rows(name, str(fetch_sdist()))
    examples = [Example(text=" ".join(t.split()), label="positive" if s > 0 else "negative")
                for _, s, t in rows if s != 0]
    kept, n_dup = unique(examples)
    return kept, len(rows) - len(examples), n_dup


def split(name: str, which: str) -> list[Example]:
    """The `train` or `test` split of `vader-amazon` / `vader-tweets` (stratified, seed 0, 20% test)."""
    examples, _, _ = labeled(name)
    rng = random.Random(VADER_SPLIT_SEED)
    chosen: list[int] = []
    for label in ("negative", "positive"):
        idx = [i for i, ex in enumerate(examples) if ex.label == label]
        rng.shuffle(idx)
        n_test = round(VADER_TEST_FRACTION * len(idx))
        chosen += idx[:n_test] if which == "test" else idx[n_test:]
    return [examples[i] for i in sorted(chosen)]


def loader(name: str):
    """A registry loader `split -> examples` for one of FILES."""
    return functools.partial(split, name)
