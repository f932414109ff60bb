"""Versions of the software a result was made with (one place: runs, baselines and reports use it)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

__version__ = "0.1.0"  # the interp version (re-exported as interp.__version__)
PACKAGES = ("torch", "transformers", "transformer-lens", "tokenizers", "safetensors", "numpy")


def package_versions() -> dict[str, str]:
    """{"python": ..., "interp": ..., "<package>": version} for the installed packages in `PACKAGES`."""
    import importlib.metadata as md

    vs = {"python": platform.python_version(), "interp": __version__}
    for pkg in PACKAGES:
        try:
            vs[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return vs


def git_commit() -> str | None:
    """The commit of the interp checkout (None when not a git checkout or git is missing)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
