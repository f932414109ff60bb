"""Architecture contracts: the CLI composes downward, `--help`/`report` start without torch, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "evals", "probes", "reports")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            rel = p.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _top_level_imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Project modules imported at module level (not inside functions) by `name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def add(mod: str) -> None:
        while mod and mod not in modules:
            mod = mod.rpartition(".")[0]
        if mod and mod != name:
            found.add(mod)

    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If | ast.Try):  # `if TYPE_CHECKING:` blocks are not runtime imports
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes = list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.Import):
                for a in n.names:
                    add(a.name)
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    base = name if is_pkg else name.rpartition(".")[0]
                    for _ in range(n.level - 1):
                        base = base.rpartition(".")[0]
                    mod = f"{base}.{n.module}" if n.module else base
                else:
                    mod = n.module or ""
                add(mod)
                for a in n.names:
                    if f"{mod}.{a.name}" in modules:
                        add(f"{mod}.{a.name}")
    return found


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _top_level_imports(p, m, modules) for m, p in modules.items()}
    # a package importing its own submodules (re-exports) is not a cycle through the package
    for m in graph:
        graph[m] = {d for d in graph[m] if not (d.startswith(m + ".") and modules[m].name == "__init__.py")}
    color: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        color[m] = 1
        for d in sorted(graph.get(m, ())):
            if color.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d] if d in stack else [m, d])
            elif d not in color:
                visit(d, stack + [d])
        color[m] = 2

    for m in sorted(graph):
        if m not in color:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


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
