"""Generic rendering of the values a section's builder did not show, for the report's appendix (so a
new field in an analysis never silently drops out of the report). Unknown result kinds are NOT
rendered generically: they are an error (reports.sections).

    value shape                                  rendered as
    -------------------------------------------  ---------------------------------------------------
    scalar, short list of scalars, dict of such  one row of the "values" key/value table ("a.b" keys)
    list of records (dicts)                      a table, one row per record (first MAX_ROWS rows)
    dict of records  {"val": {...}, ...}         a table, one row per key
    2-D numeric matrix (list of equal lists)     a heatmap figure (+ a table when small)
    long numeric list                            a summary cell "[N numbers: min, mean, max]"
    anything deeper (3-D arrays, ...)            a one-line note with its shape
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reports import charts
from reports.document import Block, Chart, Paragraph, Table, fmt, is_number, is_scalar, matrix_shape

MAX_ROWS = 50
MAX_COLS = 14
SMALL_MATRIX = (24, 16)  # (rows, cols): also shown as a table
HIDDEN_KEYS = frozenset({"schema_version", "kind"})
MAX_HEATMAP_CELLS = 64 * 64  # larger matrices are not drawn (they would be unreadable anyway)


def records_table(records: list[dict[str, Any]], caption: str = "", columns: Iterable[str] | None = None,
                  max_rows: int = MAX_ROWS) -> Table:
    """A table from a list of dicts: columns = keys in first-seen order (or `columns`), cells formatted."""
    if columns is None:
        cols: list[str] = []
        for r in records:
            for k in r:
                if k not in cols:
                    cols.append(str(k))
    else:
        cols = list(columns)
    note = ""
    if len(cols) > MAX_COLS:
        note = f"showing {MAX_COLS} of {len(cols)} columns"
        cols = cols[:MAX_COLS]
    shown = records[:max_rows]
    if len(records) > max_rows:
        note = "; ".join(filter(None, [note, f"showing {max_rows} of {len(records)} rows (all in results.json)"]))
    rows = tuple(tuple(fmt(r.get(c)) for c in cols) for r in shown)
    return Table(columns=tuple(cols), rows=rows, caption=caption, note=note)


def kv_table(pairs: list[tuple[str, Any]], caption: str = "") -> Table:
    return Table(columns=("key", "value"), rows=tuple((k, fmt(v)) for k, v in pairs), caption=caption)


def is_records(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _flatten_scalars(prefix: str, v: Any, depth: int, out: list[tuple[str, Any]]) -> bool:
    """Append (dotted key, value) for scalar-ish values; False if `v` needs a block of its own."""
    if is_scalar(v):
        out.append((prefix, v))
        return True
    if isinstance(v, list) and all(is_scalar(x) for x in v) and (len(v) <= 12 or all(is_number(x) for x in v)):
        out.append((prefix, v))
        return True
    if isinstance(v, dict) and len(v) >= 2 and all(
        isinstance(x, dict) and x and all(is_scalar(y) for y in x.values()) for x in v.values()
    ):
        return False  # {"val": {...}, "test": {...}}: a table with one row per key reads better
    if isinstance(v, dict) and depth < 2 and v and all(
        is_scalar(x) or (isinstance(x, list) and len(x) <= 12 and all(is_scalar(y) for y in x)) or isinstance(x, dict)
        for x in v.values()
    ):
        trial: list[tuple[str, Any]] = []
        if all(_flatten_scalars(f"{prefix}.{k}", x, depth + 1, trial) for k, x in v.items()):
            out.extend(trial)
            return True
    if isinstance(v, dict) and not v:
        out.append((prefix, "{}"))
        return True
    return False


def value_blocks(key: str, v: Any) -> list[Block]:
    """Blocks for one non-scalar value."""
    shape = matrix_shape(v)
    if shape is not None and len(shape) == 2 and shape[0] >= 2 and shape[1] >= 2:
        out: list[Block] = []
        if shape[0] * shape[1] <= MAX_HEATMAP_CELLS:
            out.append(Chart(caption=f"{key} ({shape[0]} × {shape[1]}), drawn from results.json",
                             draw=lambda fig, v=v, key=key: charts.draw_heatmap(fig, v, title=key, xlabel="index 1",
                                                                                ylabel="index 0"),
                             height=min(4.0, 1.4 + 0.25 * shape[0])))
        if shape[0] <= SMALL_MATRIX[0] and shape[1] <= SMALL_MATRIX[1]:
            out.append(Table(columns=("", *(str(j) for j in range(shape[1]))),
                             rows=tuple((str(i), *(fmt(x) for x in row)) for i, row in enumerate(v)),
                             caption=key))
        elif not out:
            out.append(Paragraph(f"{key}: numeric array of shape {shape} — too large to show; see results.json."))
        return out
    if shape is not None and len(shape) >= 3:
        return [Paragraph(f"{key}: numeric array of shape {tuple(shape)} — not shown; see results.json.")]
    if is_records(v):
        return [records_table(v, caption=key)]
    if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
        inner_scalar = all(all(is_scalar(y) or isinstance(y, list) for y in x.values()) for x in v.values())
        if inner_scalar:
            recs = [{"": k, **x} for k, x in v.items()]
            return [records_table(recs, caption=key)]
        out = []
        for k, x in v.items():
            out.extend(generic_blocks(x, prefix=f"{key}.{k}"))
        return out
    if isinstance(v, dict):
        return generic_blocks(v, prefix=key)
    if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
        width = max(len(x) for x in v)
        recs = [{str(j): (x[j] if j < len(x) else None) for j in range(width)} for x in v]
        return [records_table(recs, caption=key)]
    if isinstance(v, list):
        return [Table(columns=("#", "value"), rows=tuple((str(i), fmt(x)) for i, x in enumerate(v[:MAX_ROWS])),
                      caption=key, note=f"showing {MAX_ROWS} of {len(v)} items" if len(v) > MAX_ROWS else "")]
    return [Paragraph(f"{key}: {fmt(v)}")]


def generic_blocks(data: dict[str, Any], skip: Iterable[str] = (), prefix: str = "") -> list[Block]:
    """All of `data` (minus `skip` and bookkeeping keys) as blocks: a key/value table first, then the rest."""
    skip = set(skip) | (HIDDEN_KEYS if not prefix else set())
    pairs: list[tuple[str, Any]] = []
    rest: list[tuple[str, Any]] = []
    for k in data:  # JSON order (results are written with sorted keys, so deterministic)
        if k in skip:
            continue
        name = f"{prefix}.{k}" if prefix else str(k)
        if not _flatten_scalars(name, data[k], 0, pairs):
            rest.append((name, data[k]))
    blocks: list[Block] = []
    if pairs:
        blocks.append(kv_table(pairs, caption=f"{prefix} values" if prefix else "values"))
    for name, v in rest:
        blocks.extend(value_blocks(name, v))
    return blocks
