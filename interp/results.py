"""Frozen results and atomic file writes.

Every analysis/eval returns a `FrozenResult` (a frozen dataclass) whose `to_dict()` is plain JSON:
tensors/arrays become lists, floats are rounded to stable precision so the same inputs + seed give
byte-identical JSON on CPU. All writes go through a temp file in the same directory + `os.replace`,
so a crash never leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
FLOAT_DIGITS = 7  # significant digits kept in JSON: stable across runs, far below measurement noise


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, tensors, numpy values, paths and tuples into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return None
        return float(f"{obj:.{FLOAT_DIGITS}g}")
    if hasattr(obj, "tolist"):  # torch.Tensor, numpy array / scalar
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


@dataclasses.dataclass(frozen=True)
class FrozenResult:
    """Base class for analysis/eval results: subclass with more frozen fields, set `kind`."""

    kind: str = dataclasses.field(default="result", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of every field (+ schema_version): what results.json holds."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def plot(self) -> list[Any]:
        """The result's matplotlib figures (drawn from `to_dict()` by `interp.figures.FIGURES[kind]`)."""
        from interp.figures import build_figures

        return [fig for _, fig in build_figures(self.to_dict())]

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write OUT/results.json + every figure as PNG and SVG (what the CLI writes); return the paths.

        All figures are built and rendered in memory first, so a failure writes nothing; each file is
        then written atomically, results.json last.
        """
        return save_result(self.to_dict(), out_dir)

    def _repr_html_(self) -> str:
        return summary_html(self.to_dict())

    def __repr__(self) -> str:
        """A short summary (kind, model, the scalar fields); `.to_dict()` holds everything."""
        return short_repr(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # @dataclass on a subclass would generate a field-by-field __repr__ (tens of KB for a result with grids);
        # one defined in the class body is kept, so every result gets the short one
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = FrozenResult.__repr__  # type: ignore[method-assign]


def short_repr(obj: Any, limit: int = 8) -> str:
    """ClassName(kind='...', model='...', a=1, b=0.5, ..., +N fields) — scalars only, strings shortened."""
    parts, rest = [], 0
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, (bool, int, float)) or v is None or (isinstance(v, str) and v):
            if len(parts) < limit:
                text = repr(v if not isinstance(v, str) or len(v) <= 40 else v[:39] + "…")
                parts.append(f"{f.name}={text if not isinstance(v, float) else f'{v:.4g}'}")
                continue
        rest += 1
    more = f", +{rest} fields (.to_dict())" if rest else ""
    return f"{type(obj).__name__}({', '.join(parts)}{more})"


def save_result(data: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """Save a result dict like `FrozenResult.save` (figures from `interp.figures.FIGURES[data["kind"]]`)."""
    from interp.figures import FORMATS, build_figures, close, render_figure

    figs = build_figures(data)
    rendered: list[tuple[str, dict[str, bytes]]] = []
    try:
        for name, fig in figs:
            rendered.append((name, render_figure(fig, FORMATS)))
    finally:
        for _, fig in figs:
            close(fig)
    text = dumps(data)
    out = Path(out_dir)
    paths = [atomic_write_bytes(out / f"{name}.{fmt}", blob) for name, blobs in rendered for fmt, blob in blobs.items()]
    paths.append(atomic_write_text(out / "results.json", text))
    return paths


def _short(v: Any, limit: int = 80) -> str | None:
    """A one-cell rendering of a scalar / short list, or None when the value is too big to summarise."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (bool, int)) or v is None:
        return str(v)
    if isinstance(v, str):
        return v if len(v) <= limit else v[: limit - 1] + "…"
    if isinstance(v, list) and len(v) <= 8 and all(isinstance(x, (int, float, str, bool)) or x is None for x in v):
        text = ", ".join(_short(x, 24) or "" for x in v)
        return "[" + (text if len(text) <= limit else text[: limit - 1] + "…") + "]"
    if isinstance(v, dict) and len(v) <= 4 and all(isinstance(x, (int, float, str, bool)) or x is None
                                                   for x in v.values()):
        text = ", ".join(f"{k}: {_short(x, 40)}" for k, x in v.items())
        return "{" + (text if len(text) <= limit else text[: limit - 1] + "…") + "}"
    if isinstance(v, (list, dict)):
        return f"({len(v)} {'items' if isinstance(v, list) else 'keys'})"
    return None


def summary_html(data: dict[str, Any], max_rows: int = 24) -> str:
    """A short HTML table of a result dict's top-level values (every string html-escaped)."""
    from html import escape

    items = [(k, _short(v)) for k, v in data.items() if k not in ("kind", "schema_version")]
    items = [(k, cell) for k, cell in items if cell is not None]
    rows = [f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(cell)}</td></tr>"
            for k, cell in items[:max_rows]]
    if len(items) > max_rows:
        rows.append(f"<tr><td colspan='2'>… {len(items) - max_rows} more fields (see .to_dict())</td></tr>")
    kind = escape(str(data.get("kind", "result")))
    return (f"<div class='interp-result'><b>{kind}</b> <small>(.to_dict() · .plot() · .save(dir))</small>"
            f"<table>{''.join(rows)}</table></div>")


def dumps(obj: Any) -> str:
    """Canonical JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


from interp.atomic import atomic_dir, atomic_write_bytes, atomic_write_text, read_json  # noqa: E402,F401


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write `obj` (a FrozenResult, dict, ...) as canonical JSON."""
    return atomic_write_text(path, dumps(obj))
