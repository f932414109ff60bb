"""Every text input a user hands interp, read by one rule; and where eval text comes from.

The rule (`read_text_file`, used for training corpora, `--text`, `--train-text`, `--prompts`, probe and
eval data files): a regular file (not a directory, FIFO, device or socket), at most `MAX_TEXT_BYTES`
(env INTERP_MAX_TEXT_BYTES), no NUL byte, UTF-8 (at most `MAX_BAD_UTF8` of the bytes undecodable; those
few become U+FFFD), CRLF → LF. Strings from the command line go through `check_prompt` (no lone
surrogates, which is what undecodable argv bytes become, and no NUL).

Where eval text comes from (a file or a run split) is `interp.eval_text`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from interp.errors import UserError
from interp.jsonl import parse_jsonl

MAX_TEXT_BYTES = 1 << 30  # 1 GiB: far above any corpus interp trains on, far below "read /dev/zero forever"
MAX_BAD_UTF8 = 0.01  # a file with more undecodable bytes than this fraction is not text


def _max_bytes() -> int:
    try:
        return int(os.environ.get("INTERP_MAX_TEXT_BYTES", MAX_TEXT_BYTES))
    except ValueError:
        return MAX_TEXT_BYTES


def check_text_file(path: str | Path, what: str = "text file") -> Path:
    """`path` is an existing regular file within the size cap; else UserError. Opens nothing (a FIFO would block)."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UserError(f"{what} {str(path)!r} does not exist; pass a UTF-8 text file") from None
    except OSError as e:
        raise UserError(f"cannot read {what} {str(path)!r}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{what} {str(path)!r} is a directory; pass a UTF-8 text file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{what} {str(path)!r} is not a regular file (a FIFO, device or socket); "
                        "pass a UTF-8 text file")
    cap = _max_bytes()
    if st.st_size > cap:
        raise UserError(f"{what} {str(path)!r} is {st.st_size} bytes, over the {cap}-byte limit for text inputs; "
                        "split it or set INTERP_MAX_TEXT_BYTES")
    return p


def decode_text(raw: bytes, where: str) -> str:
    """Bytes → text by the one rule (no NUL, UTF-8 up to `MAX_BAD_UTF8` stray bytes, CRLF → LF)."""
    if b"\0" in raw:
        raise UserError(f"{where} is not text (it contains NUL bytes); give a UTF-8 text file")
    text = raw.decode("utf-8", errors="surrogateescape")  # each undecodable byte → one lone surrogate
    bad = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if bad > MAX_BAD_UTF8 * max(1, len(raw)):
        raise UserError(f"{where} is not UTF-8 text ({bad} of {len(raw)} bytes undecodable); "
                        "convert it to UTF-8 (e.g. iconv -t utf-8)")
    if bad:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def read_text_file(path: str | Path, what: str = "text file") -> str:
    """A user's text file by the one rule (see module doc); UserError naming `what` and the path otherwise."""
    p = check_text_file(path, what)
    cap = _max_bytes()
    try:
        with open(p, "rb") as f:
            raw = f.read(cap + 1)
    except OSError as e:
        raise UserError(f"cannot read {what} {str(path)!r}: {e.strerror}") from None
    if len(raw) > cap:  # grew since the stat, or a /proc-like file that reports size 0
        raise UserError(f"{what} {str(path)!r} is over the {cap}-byte limit for text inputs")
    return decode_text(raw, f"{what} {str(path)!r}")


def check_prompt(s: str, what: str = "prompt") -> str:
    """A string from the command line or an API caller: no lone surrogates (undecodable bytes), no NUL."""
    if any("\ud800" <= ch <= "\udfff" for ch in s):
        raise UserError(f"{what} holds bytes that are not UTF-8 (lone surrogates); pass UTF-8 text")
    if "\0" in s:
        raise UserError(f"{what} contains a NUL character; pass plain text")
    return s


def read_documents(path: str | Path, what: str = "--text") -> list[str]:
    """Documents of a .txt file, a folder of .txt files, or a .jsonl file ({"text": ...} per line)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(f"{what} {str(path)!r} does not exist; pass a .txt file, a folder of .txt files or a .jsonl")
    files = sorted(p.rglob("*.txt")) if p.is_dir() else [p]
    if p.is_dir() and not files:
        raise UserError(f"{what} folder {str(path)!r} has no .txt files")
    docs: list[str] = []
    for f in files:
        raw = read_text_file(f, what)
        if f.suffix == ".jsonl":
            for k, rec in parse_jsonl(raw, f"{what} {str(f)!r}"):
                if not isinstance(rec.get("text"), str):
                    raise UserError(f"{what} {str(f)!r} line {k} has no string \"text\" field")
                docs.append(rec["text"])
        else:
            docs.append(raw)
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise UserError(f"{what} {str(path)!r} is empty; give it some text")
    return docs


