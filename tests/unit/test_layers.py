"""Declared layers, enforced on every import (module-level and inside functions), read with `ast`.

    shell     interp/cli/*, interp/api.py, interp/demo.py, interp/__init__.py, interp/__main__.py,
              and every analysis unit's `cli.py` module (docs/architecture.md)
    reports   reports/*, and every analysis unit's `section.py` module (which may import only core,
              i.e. `interp.kit` and the other core modules — never `reports.*` or an analysis)
    analyses  interp/<analysis package>/ (attention, ablation, patching, lens, circuits, sae, ...), evals/*, probes/*
    core      the other interp modules: loading (hooked, gguf, series), tokens, results I/O, stats, text input,
              train, importers, kit, units

Imports point only down (or within a layer), there are no cycles at all, `reports` never imports torch
(`interp --help` without torch: tests/unit/test_cli_layout.py).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "evals", "probes", "reports")
CORE, ANALYSIS, REPORT, SHELL = 0, 1, 2, 3
LAYER_NAMES = {CORE: "core", ANALYSIS: "analyses", REPORT: "reports", SHELL: "shell"}
SHELL_MODULES = ("interp.cli", "interp.api", "interp.demo", "interp", "interp.__main__")
# interp subpackages that are core (the rest — attention, ablation, patching, lens, ... — are analyses)
CORE_PACKAGES = ("interp.kit", "interp.train", "interp.importers")
# top-level interp modules that are not core, and why
NOT_CORE = {"interp.attention_scores": ANALYSIS}  # compatibility alias of interp.attention.scores


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def layer(mod: str, path: Path) -> int:
    def under(prefix: str) -> bool:
        return mod == prefix or mod.startswith(prefix + ".")

    if any(mod == s or (s != "interp" and under(s)) for s in SHELL_MODULES) or mod.endswith(".cli"):
        return SHELL
    if under("reports") or mod.endswith(".section"):
        return REPORT
    if mod in NOT_CORE:
        return NOT_CORE[mod]
    if under("evals") or under("probes"):
        return ANALYSIS
    parts = mod.split(".")
    if len(parts) >= 2 and (ROOT / "interp" / parts[1]).is_dir():  # an interp subpackage
        return CORE if any(under(c) for c in CORE_PACKAGES) else ANALYSIS
    return CORE


def imports(mod: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Project modules `mod` imports anywhere (function bodies included; `if TYPE_CHECKING:` excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        # a package re-exporting its own submodules does not depend "up" on them
        if name and name != mod and not (is_pkg and name.startswith(mod + ".")):
            found.add(name)

    for n in ast.walk(tree):
        if id(n) in typing_only:
            continue
        if isinstance(n, ast.Import):
            for a in n.names:
                add(a.name)
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = mod if is_pkg else mod.rpartition(".")[0]
                for _ in range(n.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{n.module}" if n.module else base
            else:
                target = n.module or ""
            subs = [f"{target}.{a.name}" for a in n.names if f"{target}.{a.name}" in mods]
            for sub in subs:
                add(sub)
            if len(subs) < len(n.names):  # names other than submodules come from the package itself
                add(target)
    return found


def graph() -> tuple[dict[str, Path], dict[str, set[str]]]:
    mods = modules()
    return mods, {m: imports(m, p, mods) for m, p in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _own_drawing(section: str, target: str, mods: dict[str, Path]) -> bool:
    """A unit's section may use its own unit's drawing modules: same package, importing no torch and no project
    module other than such drawing modules (they turn a results dict into markup, as the kit does)."""
    pkg = section.rpartition(".")[0]
    if target.rpartition(".")[0] != pkg or target.endswith(".section"):
        return False
    tree = ast.parse(mods[target].read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)) or "torch" in {
            x.split(".")[0] for x in names}:
        return False
    project = [x for x in names if x.split(".")[0] in PACKAGES]
    return all(x in mods and x != target and _own_drawing(section, x, mods) for x in project)


def violations(mods: dict[str, Path], edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, targets in edges.items():
        lm = layer(m, mods[m])
        for t in sorted(targets):
            lt = layer(t, mods[t])
            if lt > lm:
                bad.append(f"{m} ({LAYER_NAMES[lm]}) -> {t} ({LAYER_NAMES[lt]})")
            elif lm < SHELL and m.startswith("interp") and t.split(".")[0] in ("evals", "probes", "reports"):
                bad.append(f"{m} -> {t}: interp's analyses sit below evals/probes (move the shared piece down)")
            elif (m.endswith(".section") and not m.startswith("reports.") and lt != CORE
                  and not t.startswith("interp.kit.") and not _own_drawing(m, t, mods)):
                bad.append(f"{m} (a unit's report section) -> {t}: sections import only interp.kit / core")
    return bad


def test_no_import_cycles_counting_function_level_imports():
    _, edges = graph()
    found = cycles(edges)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_imports_point_only_down():
    mods, edges = graph()
    bad = violations(mods, edges)
    assert not bad, f"{len(bad)} upward imports:\n" + "\n".join(bad)


def test_the_checker_sees_function_level_imports_and_layers():
    mods, edges = graph()
    # interp.results imports interp.figures only inside functions
    assert "interp.figures" in edges["interp.results"]
    assert layer("interp.cli.app", mods["interp.cli.app"]) == SHELL
    assert layer("interp.hooked", mods["interp.hooked"]) == CORE
    assert layer("interp.patching.api", mods["interp.patching.api"]) == ANALYSIS
    assert layer("reports.build", mods["reports.build"]) == REPORT
    assert layer("interp.lens.cli", Path("interp/lens/cli.py")) == SHELL
    assert layer("interp.lens.section", Path("interp/lens/section.py")) == REPORT
    fake = {"a.x": Path("a/x.py"), "a.y": Path("a/y.py"), "a.z": Path("a/z.py")}
    assert cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}) == [sorted(fake)]
    assert cycles({"a.x": {"a.y"}, "a.y": set(), "a.z": {"a.x"}}) == []


def _heavy_after(code: str) -> str:
    probe = (f"import sys\n{code}\n"
             "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules))\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def test_reports_never_import_torch_even_transitively():
    """Import every reports module, every registered report section and figure builder: no torch."""
    code = ("import importlib, pathlib\n"
            "for p in sorted(pathlib.Path('reports').rglob('*.py')):\n"
            "    parts = list(p.with_suffix('').parts)\n"
            "    parts = parts[:-1] if parts[-1] == '__init__' else parts\n"
            "    importlib.import_module('.'.join(parts))\n"
            "from interp.units import resolve, sections_table\n"
            "for t in sections_table().values(): resolve(t)\n")
    assert "HEAVY []" in _heavy_after(code)


def test_building_a_report_imports_no_torch(tmp_path, tiny_gpt2_dir):
    """Results written here (attention maps, patching, ablation), the report built in a fresh process."""
    from interp.cli import run

    m, res = str(tiny_gpt2_dir), tmp_path / "results"
    for argv in (["attention", m, "--prompt", "John lost his keys", "--out", str(res / "attention")],
                 ["patch", m, "--clean", "John lost his keys", "--corrupt", "Mary lost his keys", "--metric", "loss",
                  "--out", str(res / "patching")]):
        assert run(argv) == 0, argv
    code = f"from reports.api import report\nreport({str(res)!r}, out={str(tmp_path / 'report.html')!r}, format='html')\n"
    out = _heavy_after(code)
    assert "HEAVY []" in out, out[-800:]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "patching" in html.lower() and "attention" in html.lower()
