"""The warm-process runner of the console-script tests (tests/cli_server.py) is the command line: for a sample of
commands — usage errors, bad files, model loading, help, a real analysis writing results — it gives the same exit
code and byte-identical stdout/stderr as the installed `interp` script in a fresh process."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import run_cli, run_script


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gpt2_dir):
    d = tmp_path_factory.mktemp("cli_server")
    (d / "model").symlink_to(tiny_gpt2_dir)
    (d / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (d / "prompts.txt").write_text("The cat sat on\nJohn lost his\n", encoding="utf-8")
    return d


CASES = [
    ["--frob"],
    ["frobnicate"],
    ["generate", "model"],
    ["generate", "model", "x", "-t", "nan"],
    ["info", "nonexistent-dir/model"],
    ["info", "model", "--json"],
    ["generate", "model", "The cat", "-n", "5", "--seed", "3"],
    ["ablate", "model", "--heads", "9.0", "--text", "prompts.txt"],
    ["eval", "perplexity", "model", "--text", "binary.txt"],
    ["attention", "model", "--prompt", "The cat sat", "--out", "att-{}", "--json"],
    ["train", "--help"],
]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(c)[:40] for c in CASES])
def test_warm_runner_equals_the_installed_script(work, i):
    args = CASES[i]
    a = run_cli([x.format("warm") for x in args], cwd=work)
    b = run_script([x.format("script") for x in args], cwd=work)
    assert a.returncode == b.returncode, (a, b)
    out_a, out_b = a.stdout.replace("att-warm", "att-X"), b.stdout.replace("att-script", "att-X")
    if "--json" in args and a.returncode == 0 and out_a.strip().startswith("{"):
        da, db = json.loads(out_a), json.loads(out_b)
        for d in (da, db):
            d.pop("seconds", None)
        assert da == db
    else:
        assert out_a == out_b
    assert a.stderr == b.stderr
