"""Helpers shared by the metric kinds: range checks, input fingerprints, eval text from `file` or `split`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evals.regress.protocol import EvalContext

SPLITS = ("train", "val", "test")


def heads_ok(v: str) -> str | None:
    """Check for a `heads` parameter: None when it parses as a HeadSpec, else the one-line reason."""
    from interp.errors import UserError
    from interp.heads import HeadSpec

    try:
        HeadSpec.parse(v)
    except UserError as e:
        return str(e)
    return None


def positive(v: Any) -> str | None:
    return None if v > 0 else f"must be > 0, got {v}"


def one_of(choices: tuple[str, ...]):
    """A `Param.check` accepting only `choices`."""
    return lambda v: None if v in choices else f"use one of {', '.join(choices)}"


def fingerprint(obj: Any) -> str:
    """A short hash of JSON-able `obj` (what was scored), stored beside each metric value."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def documents(p: dict[str, Any], ctx: EvalContext) -> list[str]:
    """Eval documents from `file` (.txt, folder of .txt, .jsonl) or `split` of the model's run."""
    from interp.eval_text import read_documents, split_documents

    if p.get("file") is not None:
        return read_documents(p["file"], "`file`")
    return split_documents(ctx.run_meta(), p["split"], ctx.model_ref)


def one_source(p: dict[str, Any], metrics: list[str]) -> str | None:
    """`validate` for kinds reading eval text: exactly one of `split` / `file`."""
    if (p.get("file") is None) == (p.get("split") is None):
        return "give exactly one of `split = \"val\"` (a split of the model's training run) or `file = \"PATH\"`"
    return None
