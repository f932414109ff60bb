"""Registry datasets from the Hugging Face hub (`datasets.load_dataset`): sst2, ag_news.

Offline (hub unreachable) they are read from the local `datasets` cache when present; otherwise a one-line
`UserError` comes back within a couple of seconds, without importing `datasets`.
"""

from __future__ import annotations

import os
from pathlib import Path

from evals.datasets.core import Example
from interp.errors import UserError
from interp.hooked import hub_reachable


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
