"""Saving matplotlib figures (PNG + SVG, atomically) — the only place figures touch the disk.

Figure *builders* live next to their analysis (e.g. `interp.attention.plot_*`) and take a result
dict (what `to_dict()` returns / results.json holds), never a model, so reports can rebuild them.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from interp.results import atomic_write_bytes  # noqa: E402

FORMATS = ("png", "svg")


def save_figure(fig, out_dir: str | Path, name: str, formats: tuple[str, ...] = FORMATS, dpi: int = 120) -> list[Path]:
    """Write `fig` as OUT/name.png and OUT/name.svg (atomic); close it; return the paths."""
    paths = []
    for fmt in formats:
        buf = io.BytesIO()
        # metadata=None-ish keeps SVG/PNG byte-stable across runs (no creation date)
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
        paths.append(atomic_write_bytes(Path(out_dir) / f"{name}.{fmt}", buf.getvalue()))
    plt.close(fig)
    return paths


def figure_to_png_bytes(fig, dpi: int = 120) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
