"""Reading user JSONL files: one JSON object per line, errors that name the file and line."""

from __future__ import annotations

import json

from interp.errors import UserError


def parse_jsonl(text: str, where: str) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of `text`.

    Bad JSON or a non-object line → UserError "`where` line N: …" (1-based, blank lines counted).
    """
    rows: list[tuple[int, dict]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where} line {lineno}: not valid JSON ({e.msg} at column {e.colno}); "
                            "one JSON object per line") from None
        if not isinstance(obj, dict):
            raise UserError(f"{where} line {lineno}: expected a JSON object, got {type(obj).__name__}")
        rows.append((lineno, obj))
    return rows
