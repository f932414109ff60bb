"""CLI contracts: the CLI composes downward, `--help`/`report` start without torch. (Import cycles and layers,
function-level imports included: tests/unit/test_layers.py.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "evals", "probes", "reports")


def test_command_modules_never_import_the_parent():
    for p in (ROOT / "interp" / "cli").glob("*.py"):
        if p.name in ("__init__.py", "__main__.py", "app.py"):
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module in ("interp.cli", "interp.cli.app"):
                names = {a.name for a in n.names}
                assert names <= {"common"}, f"{p.name} imports the parent CLI ({n.module}: {names})"
            if isinstance(n, ast.Import):
                assert all(a.name not in ("interp.cli", "interp.cli.app") for a in n.names), p.name


def test_every_command_module_is_added_to_the_app():
    from interp.cli import app as app_mod

    listed = set(app_mod.COMMANDS) | {m for _, mods in app_mod.GROUPS.values() for m in mods}
    for p in (ROOT / "interp" / "cli").glob("*.py"):
        if p.name in ("__init__.py", "__main__.py", "app.py", "common.py"):
            continue
        src = p.read_text(encoding="utf-8")
        if "app = typer.Typer(" in src:
            assert f"interp.cli.{p.stem}" in listed, f"{p.name} defines an app that interp.cli.app never adds"


@pytest.mark.parametrize("argv", [["--help"], ["report", "--help"], ["eval", "--help"], ["train", "--help"]])
def test_help_does_not_import_torch(argv):
    code = ("import sys\nfrom interp.cli import run\n"
            f"rc = run({argv!r})\n"
            "heavy = [m for m in ('torch', 'transformers', 'transformer_lens', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy)\nsys.exit(rc)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "HEAVY []" in p.stdout, p.stdout[-500:]


def test_report_command_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom interp.cli import run\n"
            f"rc = run(['report', {str(tmp_path / 'missing')!r}])\n"
            "print('HEAVY', [m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "HEAVY []" in p.stdout, p.stdout[-500:] + p.stderr[-2000:]


def test_package_versions_defined_once():
    hits = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
            if "def package_versions(" in p.read_text(encoding="utf-8")]
    assert len(hits) == 1, hits
