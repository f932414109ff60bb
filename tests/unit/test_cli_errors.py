"""Bad input through the installed console script: one stderr line, exit 2, no traceback, nothing written.

Covers the root app, `info`, `generate`, `eval perplexity`, `eval sensitivity`, every command's usage errors,
devices and output paths. Areas with their own commands keep their tables beside their tests
(tests/unit/test_*_errors.py); all use tests/cli_helpers.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

# Commands whose usage errors (unknown option) must be one line: every leaf command of the app.
LEAVES = ["train", "info", "generate", "attention", "attention-evolution", "ablate", "ablate-sweep", "report",
          "regress", "demo", "eval perplexity", "eval sensitivity", "eval trimmed", "probe coref"]


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gpt2_dir):
    """A cwd with a tiny model, a text file, a file in the way, a binary file, a read-only dir."""
    d = tmp_path_factory.mktemp("cli_errors")
    (d / "text.txt").write_text("The cat sat on the mat. " * 20)
    (d / "afile").write_text("not a directory")
    (d / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (d / "readonly").symlink_to("/sys")  # not writable even for root (tests run as root in CI)
    (d / "model").symlink_to(tiny_gpt2_dir)
    (d / "notok").mkdir()
    for f in Path(tiny_gpt2_dir).iterdir():  # weights + config, no tokenizer files
        if f.name in ("config.json", "model.safetensors", "generation_config.json"):
            (d / "notok" / f.name).symlink_to(f)
    (d / "badcfg").mkdir()
    (d / "badcfg" / "config.json").write_text("{not json")
    (d / "badcfg" / "model.safetensors").write_bytes(b"\0" * 16)
    return d


CASES = [
    # root / usage
    (["--frob"], "no such option"),
    (["frobnicate"], "no such command"),
    (["generate", "model"], "missing argument"),
    (["info", "model", "--seed", "1.5"], "--seed"),
    (["generate", "model", "x", "-t", "-1"], "--temperature"),
    (["generate", "model", "x", "-t", "nan"], "--temperature"),
    (["generate", "model", "x", "-n", "0"], "--max-new-tokens"),
    (["generate", "model", "x", "-k", "0"], "--top-k"),
    (["generate", "model", ""], "empty"),
    (["train", "runs/x", "--lr", "inf"], "finite"),
    (["train", "runs/x", "--lr", "nan"], "finite"),
    # devices
    (["info", "model", "--device", "banana"], "unknown device"),
    (["info", "model", "--device", "cuda"], "not available"),
    (["generate", "model", "x", "--device", "cuda:3"], "not available"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--device", "tpu"], "unknown device"),
    # output paths
    (["info", "model", "--out", "afile"], "is a file"),
    (["info", "model", "--out", "afile/sub"], "is a file"),
    (["info", "model", "--out", "readonly/sub"], "not writable"),
    (["generate", "model", "x", "--out", "afile"], "is a file"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--out", "afile"], "is a file"),
    (["eval", "sensitivity", "model", "--out", "readonly"], "not writable"),
    # models
    (["info", "missing-dir/"], None),
    (["info", "afile"], None),
    (["generate", "notok", "hello"], "tokenizer"),
    (["info", "badcfg"], "config.json"),
    # eval perplexity
    (["eval", "perplexity", "model"], "run"),
    (["eval", "perplexity", "model", "--text", "nope.txt"], "does not exist"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--split", "test"], "not both"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--stride", "0"], "stride"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--context", "1"], "context"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--context", "100000"], "n_ctx"),
    (["eval", "perplexity", "model", "--text", "text.txt", "--split", "banana"], None),
    # eval sensitivity
    (["eval", "sensitivity", "model", "--prompts", "nope.txt"], "not a file"),
    (["eval", "sensitivity", "model", "--decoding", "banana"], "decoding"),
    (["eval", "sensitivity", "model", "--decoding", ""], None),
    (["eval", "sensitivity", "model", "-n", "0"], "--max-new-tokens"),
] + [([*leaf.split(), "--frobnicate"], "no such option") for leaf in LEAVES]


@pytest.fixture(scope="module")
def outcomes(work):
    """Run every case once, 4 at a time (each is a fresh interpreter), with the tree snapshotted around all."""
    before = snapshot_tree(work)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: run_cli(case[0], cwd=work), CASES))
    return {tuple(args): r for (args, _), r in zip(CASES, results, strict=True)}, before, snapshot_tree(work)


@pytest.mark.parametrize("args,contains", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(outcomes, args, contains):
    assert_user_error(outcomes[0][tuple(args)], contains)


def test_failed_commands_wrote_nothing(outcomes):
    _, before, after = outcomes
    assert after == before, "a failed command must not write anything"


def test_no_subcommand_prints_help_without_traceback(work):
    for group in (["eval"], ["probe"]):
        r = run_cli(group, cwd=work)
        assert "Traceback" not in r.stderr
        assert r.returncode == 2
        assert "Usage" in r.stdout + r.stderr


def test_good_input_still_works_and_writes(work, tmp_path):
    r = run_cli(["eval", "perplexity", "model", "--text", "text.txt", "--no-leakage-check", "--json",
                 "--out", str(tmp_path / "ppl")], cwd=work)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ppl" / "results.json").is_file()
    assert '"kind": "perplexity"' in r.stdout


def test_mistyped_local_path_is_no_such_directory_not_a_hub_lookup(work, tmp_path):
    """`interp info runs/smal` next to runs/small: "no such directory" with the close name, even with the hub
    allowed (HF_HUB_OFFLINE=0): the reference is never sent to the hub."""
    (tmp_path / "runs" / "small").mkdir(parents=True)
    r = run_cli(["info", "runs/smal"], cwd=tmp_path, env={"HF_HUB_OFFLINE": "0"}, timeout=60)
    line = assert_user_error(r, "no such directory")
    assert "did you mean 'runs/small'" in line and "hub" in line


def test_resolve_never_reaches_the_hub_for_a_path_like_reference(tmp_path, monkeypatch):
    from interp.errors import UserError
    from interp.hooked import resolve

    (tmp_path / "runs" / "small").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for ref in ("runs/smal", "./runs/smal", "runs/small/extra"):
        with pytest.raises(UserError, match="no such directory"):
            resolve(ref)
    assert resolve("google/gemma-2b") == ("hub", None)  # no local 'google' folder: a hub id
