"""Progress of long work: a tqdm bar on a terminal, progress LINES everywhere else.

`progress_bar(...)` takes tqdm's arguments. When its stream (stderr by default) is a terminal it is a tqdm bar.
When it is not (a log file, a pipe, CI, a notebook kernel's redirected stderr) a tqdm bar would either be
disabled (`disable=None`) or write carriage-return redraws; instead `LineProgress` writes one plain line

    train: 120/2442 step (4.9%) · 0.41 step/s · elapsed 4m53s · ETA 1h34m · loss=4.213

at the first update, then every `INTERP_PROGRESS_SECONDS` seconds (default 30), and a last line at the end.
`disable=True` turns both off (e.g. `--json`); `disable=None` or False means "show progress".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

DEFAULT_SECONDS = 30.0


def interval_seconds() -> float:
    try:
        v = float(os.environ.get("INTERP_PROGRESS_SECONDS", DEFAULT_SECONDS))
    except ValueError:
        return DEFAULT_SECONDS
    return v if v >= 0 else DEFAULT_SECONDS


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _hms(s: float) -> str:
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s" if m else f"{sec}s"


class LineProgress:
    """tqdm's interface (update, set_postfix, set_description, close, iteration, context manager) as log lines."""

    def __init__(self, iterable: Iterable | None = None, total: float | None = None, desc: str = "",
                 unit: str = "it", initial: float = 0, file: TextIO | None = None, every: float | None = None,
                 **_: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self.initial = initial
        self.file = file
        self.every = interval_seconds() if every is None else every
        self.postfix = ""
        self.t0 = time.monotonic()
        self.last: float | None = None
        self.closed = False

    # -- tqdm interface
    def __iter__(self) -> Iterator:
        for x in self.iterable or ():
            yield x
            self.update(1)
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.last is None or now - self.last >= self.every:
            self._write(now)

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kw: Any) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.n > self.initial or self.last is not None:
            self._write(time.monotonic(), done=True)

    # -- the line
    def line(self, now: float, done: bool = False) -> str:
        elapsed = now - self.t0
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        n = f"{self.n:g}"
        parts = [f"{self.desc}: {n}/{self.total:g} {self.unit} ({100 * self.n / self.total:.1f}%)"
                 if self.total else f"{self.desc}: {n} {self.unit}"]
        parts.append(f"{rate:.3g} {self.unit}/s" if rate else "starting")
        parts.append(f"elapsed {_hms(elapsed)}")
        if done:
            parts.append("done")
        elif self.total and rate > 0:
            parts.append(f"ETA {_hms((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        return " · ".join(parts)

    def _write(self, now: float, done: bool = False) -> None:
        self.last = now
        f = self.file or sys.stderr
        print(self.line(now, done), file=f, flush=True)


def progress_bar(iterable: Iterable | None = None, **kw: Any) -> Any:
    """A tqdm bar on a terminal, a `LineProgress` on anything else, nothing with disable=True (tqdm's args)."""
    from tqdm import tqdm

    every = kw.pop("every", None)  # LineProgress only: seconds between lines
    if kw.get("disable") is True:
        return tqdm(iterable, **kw)
    kw["disable"] = False
    stream = kw.get("file") or sys.stderr
    if _is_tty(stream):
        return tqdm(iterable, **kw)
    return LineProgress(iterable, every=every, **kw)
