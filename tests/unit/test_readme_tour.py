"""Every command of the README's tour runs as written after `make demo`.

The tour's command lines are read from README.md (the first ```bash block under "## A tour") and run through the
CLI (`interp.cli.run`, what the console script calls) in a folder whose `demo/run` is a run trained by `interp
train`. Fast version (default): a tiny run of a few steps, and the one Gemma-3-270M line pointed at that run
instead (the packaged Gemma weights are not a test dependency). Slow version (`-m slow`): `interp demo --preset
tiny --epochs 2` builds the demo folder, and the lines run literally (Gemma included when its extra is installed).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GEMMA = "gemma-3-270m"


def tour_lines(readme: Path = ROOT / "README.md") -> list[list[str]]:
    """argv (without the leading `interp`) of every command in the tour's first bash block."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## A tour"):]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    block = section[section.index("```bash\n") + len("```bash\n"):]
    block = block[: block.index("```")]
    out = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "interp", f"tour line does not start with interp: {line!r}"
            out.append(words[1:])
    return out


def test_tour_is_parsed():
    lines = tour_lines()
    assert len(lines) >= 15
    cmds = [a[0] for a in lines]
    assert {"info", "attention", "patch", "report", "regress"} <= set(cmds)
    regress = [a for a in lines if a[0] == "regress"]
    assert "--update-baseline" in regress[0] and "--update-baseline" not in regress[-1]  # baseline first


def _run_tour(workdir: Path, monkeypatch, substitute: dict[str, str]) -> list[tuple[str, int]]:
    import os
    import time

    from interp.cli import run

    monkeypatch.chdir(workdir)
    results = []
    for argv in tour_lines():
        argv = [substitute.get(a, a) for a in argv]
        t, c = time.perf_counter(), time.process_time()
        results.append((" ".join(argv), run(argv)))
        if os.environ.get("INTERP_TOUR_TIMES"):
            print(f"TOUR {time.perf_counter() - t:6.1f}s wall {time.process_time() - c:6.1f}s cpu  {argv[:2]}",
                  file=open(os.environ["INTERP_TOUR_TIMES"], "a"))
    return results


def _train_tiny(workdir: Path, monkeypatch) -> None:
    from interp.cli import run

    monkeypatch.chdir(workdir)
    rc = run(["train", "demo/run", "--preset", "tiny", "--epochs", "2", "--train-tokens", "2600", "--save-at", "log",
              "--eval-tokens", "2048", "--warmup-steps", "2", "--seed", "0"])
    assert rc == 0
    (workdir / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "regress-suite.toml", workdir / "examples" / "regress-suite.toml")


def test_tour_runs_on_a_tiny_run(tmp_path, monkeypatch, capsys):
    _train_tiny(tmp_path, monkeypatch)
    results = _run_tour(tmp_path, monkeypatch, {GEMMA: "demo/run"})
    captured = capsys.readouterr()
    failed = [(cmd, rc) for cmd, rc in results if rc != 0]
    assert not failed, f"tour lines failed: {failed}\n{captured.err[-3000:]}"
    assert (tmp_path / "tour" / "report.html").exists()
    assert (tmp_path / "examples" / "regress-suite.baseline.json").exists()


@pytest.mark.slow
def test_tour_runs_after_the_demo(tmp_path, monkeypatch, capsys):
    from interp.cli import run
    from interp.demo import gemma_installed

    monkeypatch.chdir(tmp_path)
    assert run(["demo", "--preset", "tiny", "--epochs", "2", "--out", "demo", "--no-gemma"]) == 0
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "regress-suite.toml", tmp_path / "examples" / "regress-suite.toml")
    results = _run_tour(tmp_path, monkeypatch, {} if gemma_installed() else {GEMMA: "demo/run"})
    failed = [(cmd, rc) for cmd, rc in results if rc != 0]
    assert not failed, f"tour lines failed: {failed}\n{capsys.readouterr().err[-3000:]}"


def readme_command_lines(readme: Path = ROOT / "README.md") -> list[tuple[str, list[str]]]:
    """(line, argv without `interp`) of every `interp …` line in every ```bash block of the README."""
    text = readme.read_text(encoding="utf-8")
    out = []
    for block in text.split("```bash\n")[1:]:
        for line in block[: block.index("```")].replace("\\\n", " ").splitlines():  # continued lines joined
            words = shlex.split(line, comments=True)
            if words and words[0] == "interp":
                out.append((line, words[1:]))
    return out


def test_every_readme_command_parses():
    """Every `interp …` line in the README (tour or not) names a real command with real flags and the required
    arguments: the CLI's own parser reads it (`make_context`, nothing runs)."""
    from interp.cli import command

    lines = readme_command_lines()
    assert len(lines) > len(tour_lines())
    root = command()
    bad = []
    for line, argv in lines:
        cmd, args = root, list(argv)
        while hasattr(cmd, "commands") and args and args[0] in cmd.commands:  # groups: `interp sae train`
            cmd = cmd.commands[args.pop(0)]
        if hasattr(cmd, "commands"):
            bad.append(f"{line!r}: no such command")
            continue
        try:
            cmd.make_context("interp", args, resilient_parsing=False)
        except Exception as e:  # noqa: BLE001 — typer's click: unknown option, missing argument, bad value
            if "does not exist" not in str(e):  # paths the user makes first (runs/small, corpus.txt)
                bad.append(f"{line!r}: {type(e).__name__}: {e}")
    assert not bad, "\n".join(bad)
