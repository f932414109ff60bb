"""Figures: the result-kind → figure-builder registry, rendering, and saving (PNG + SVG, atomically).

Figure *builders* live next to their analysis (e.g. `interp.attention.plot_attention_maps`) and take a
result dict (what `to_dict()` returns / results.json holds), never a model, so reports and
`FrozenResult.plot()` / `.save()` can rebuild them. `FIGURES` maps a result `kind` to the builder
"module:function" (imported lazily), derived from each analysis unit's `figures` (`interp.units`); the
function takes the result dict and returns `list[tuple[name, matplotlib.figure.Figure]]`.

matplotlib is imported only when a figure is drawn (importing this module stays cheap), and the
Agg backend is selected only when no backend was chosen yet (so Jupyter's inline backend is kept).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from interp.atomic import atomic_write_bytes

FORMATS = ("png", "svg")


def _select_agg() -> None:
    """Agg unless a backend was already chosen (MPLBACKEND, e.g. Jupyter's inline one, or pyplot in use)."""
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"  # read when matplotlib is first imported; no import cost here


_select_agg()


def _pyplot():
    """matplotlib.pyplot (backend chosen at import of this module)."""
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's 'Glyph ... missing from font' warnings (CJK/emoji tokens) while drawing/saving."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        yield


def __getattr__(name: str) -> Any:
    """`FIGURES`: result kind → "module:function", derived from the analysis units (`interp.units`)."""
    if name == "FIGURES":
        from interp.units import figures_table

        return figures_table()
    raise AttributeError(name)


def builder_for(kind: str) -> Callable[[dict[str, Any]], list[tuple[str, Any]]] | None:
    """The declared figure builder of a result kind (None when the kind has no figures)."""
    from interp.units import figures_table, resolve

    target = figures_table().get(kind)
    return None if target is None else resolve(target)


def build_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """[(name, Figure)] for a result dict, from `FIGURES[result["kind"]]` ([] for kinds without figures)."""
    build = builder_for(str(result.get("kind", "")))
    if build is None:
        return []
    with quiet_glyphs():
        return list(build(result))


def render_figure(fig, formats: tuple[str, ...] = FORMATS, dpi: int = 120) -> dict[str, bytes]:
    """{format: bytes} of a figure; byte-stable across runs (no creation date / software metadata)."""
    out: dict[str, bytes] = {}
    with quiet_glyphs():
        for fmt in formats:
            buf = io.BytesIO()
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
            out[fmt] = buf.getvalue()
    return out


def close(fig) -> None:
    """Close a figure (free its memory in pyplot's registry)."""
    _pyplot().close(fig)


def save_figure(fig, out_dir: str | Path, name: str, formats: tuple[str, ...] = FORMATS, dpi: int = 120) -> list[Path]:
    """Write `fig` as OUT/name.png and OUT/name.svg (atomic); close it; return the paths."""
    rendered = render_figure(fig, formats, dpi)
    close(fig)
    return [atomic_write_bytes(Path(out_dir) / f"{name}.{fmt}", data) for fmt, data in rendered.items()]


def figure_to_png_bytes(fig, dpi: int = 120) -> bytes:
    """PNG bytes of a figure (closed afterwards)."""
    data = render_figure(fig, ("png",), dpi)["png"]
    close(fig)
    return data


