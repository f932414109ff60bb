"""Prompt pairs for patching: read a JSONL file, validate and tokenize (`interp.tokens`), group by length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.patching.schema import Pair


def load_pairs(path: str | Path) -> list[Pair]:
    """A JSONL file of pairs: keys clean, corrupt (required), answer, wrong (optional). Errors name the line."""
    from interp.jsonl import parse_jsonl

    p = Path(path)
    if not p.exists():
        raise UserError(f"pairs file {str(p)!r} not found; pass a .jsonl file with clean/corrupt per line")
    from interp.text_input import read_text_file

    text = read_text_file(p, "pairs file")
    out = [pair_from_row(row, f"{p.name} line {lineno}") for lineno, row in parse_jsonl(text, p.name)]
    if not out:
        raise UserError(f"{p} has no pairs; write one JSON object per line")
    return out


def pair_from_row(row: Any, where: str) -> Pair:
    """One pair from a dict with keys clean, corrupt (required), answer, wrong (optional); errors name `where`."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: a pair is an object with clean/corrupt (answer, wrong optional), got {row!r}")
    unknown = sorted(set(row) - {"clean", "corrupt", "answer", "wrong"})
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: clean, corrupt, "
                        "answer, wrong")
    for k in ("clean", "corrupt"):
        if not isinstance(row.get(k), str) or not row[k].strip():
            raise UserError(f"{where}: {k!r} must be a non-empty string")
    for k in ("answer", "wrong"):
        if k in row and not (isinstance(row[k], str) and row[k].strip()):
            raise UserError(f"{where}: {k!r} must be a non-empty string, got {row[k]!r}")
    return Pair(row["clean"], row["corrupt"], row.get("answer"), row.get("wrong"), where)


def resolve_pairs(clean: str | None, corrupt: str | None, pairs: Any) -> list[Pair]:
    """The pairs an analysis gets: one `clean`/`corrupt` pair, or `pairs` (see `as_pairs`), never both."""
    if pairs is None:
        if clean is None or corrupt is None:
            raise UserError("give --clean and --corrupt prompts, or --pairs FILE.jsonl")
        return [Pair(clean, corrupt, where="the pair")]
    if clean is not None or corrupt is not None:
        raise UserError("give either --clean/--corrupt or --pairs, not both")
    out = as_pairs(pairs)
    if not out:
        raise UserError("no pairs given")
    return out


def as_pairs(pairs: Any) -> list[Pair]:
    """`pairs` as the API takes it: a JSONL path, or a sequence of `Pair` or dicts (as in a JSONL line)."""
    if isinstance(pairs, (str, Path)):
        return load_pairs(pairs)
    return [p if isinstance(p, Pair) else pair_from_row(p, f"pair {i + 1}") for i, p in enumerate(pairs)]


@dataclass(frozen=True)
class _Encoded:
    clean: list[int]
    corrupt: list[int]
    answer: int | None
    wrong: int | None


def encode_pairs(tokenizer, pairs: Sequence[Pair], spec: MetricSpec, n_ctx: int) -> list[_Encoded]:
    """Validate and tokenize every pair (interp.tokens); UserError naming the pair on any problem."""
    from interp.tokens import encode, single_token

    out = []
    for i, p in enumerate(pairs):
        at = p.where or f"pair {i + 1}"
        if p.clean == p.corrupt:
            raise UserError(f"{at}: clean and corrupt are the same text, so the clean−corrupt gap is 0 and "
                            "'fraction restored' is undefined; change the corrupt prompt")
        c, r = encode(tokenizer, p.clean), encode(tokenizer, p.corrupt)
        if len(c) != len(r):
            raise UserError(f"{at}: clean is {len(c)} tokens but corrupt is {len(r)} tokens; patching needs the "
                            "same token length (positions must line up) — reword one of them")
        if len(c) > n_ctx:
            raise UserError(f"{at}: {len(c)} tokens exceed the model context {n_ctx}; shorten the prompts")
        if c == r:
            raise UserError(f"{at}: clean and corrupt tokenize identically (gap 0: 'fraction restored' undefined)")
        ids: list[int | None] = [None, None]
        if spec.n_words:
            words = [p.answer or spec.answer, p.wrong or spec.wrong][: spec.n_words]
            for j, (w, what) in enumerate(zip(words, ("answer", "wrong"), strict=False)):
                if w is None:
                    raise UserError(f"{at}: metric {spec.kind} needs {'an answer' if j == 0 else 'a wrong'} word; "
                                    f'give it in --metric ("{spec.kind}: his, her") or as "{what}" in the pair')
                ids[j] = single_token(tokenizer, w, after=p.clean, what=f"{what} of {at}")
            if spec.kind == "logit-diff" and ids[0] == ids[1]:
                raise UserError(f"{at}: answer and wrong are the same token; give two different words")
        out.append(_Encoded(c, r, ids[0], ids[1]))
    return out


def groups(enc: Sequence[_Encoded]) -> list[list[int]]:
    by_len: dict[int, list[int]] = {}
    for i, e in enumerate(enc):
        by_len.setdefault(len(e.clean), []).append(i)
    return [by_len[k] for k in sorted(by_len)]


_groups = groups  # old private name
