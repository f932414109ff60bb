"""`interp sae ...` bad input through the installed console script: one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree


def _write_sae(d: Path, d_in: int, hook: str, n: int | None = None, corrupt: bool = False) -> None:
    from safetensors.torch import save_file

    n = n or d_in * 2
    d.mkdir(parents=True)
    (d / "sae.json").write_text(json.dumps({"format": "interp-sae/1", "hook": hook, "d_in": d_in,
                                            "num_latents": n, "k": 4, "expansion": 2, "transcode": False}))
    if corrupt:
        (d / "sae.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not safetensors")
    else:
        save_file({"encoder.weight": torch.zeros(n, d_in), "encoder.bias": torch.zeros(n),
                   "W_dec": torch.zeros(n, d_in), "b_dec": torch.zeros(d_in)}, str(d / "sae.safetensors"))


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gpt2_dir):
    d = tmp_path_factory.mktemp("sae_errors")
    (d / "model").symlink_to(tiny_gpt2_dir)
    (d / "text.txt").write_text("The cat sat on the mat. John lost his keys. " * 200)
    _write_sae(d / "good", 32, "blocks.0.hook_resid_post")
    _write_sae(d / "wide", 16, "blocks.0.hook_resid_post")
    _write_sae(d / "deep", 32, "blocks.5.hook_resid_post")
    _write_sae(d / "corrupt", 32, "blocks.0.hook_resid_post", corrupt=True)
    (d / "badjson").mkdir()
    (d / "badjson" / "sae.json").write_text("{oops")
    (d / "badjson" / "sae.safetensors").write_bytes(b"")
    (d / "pos.txt").write_text("happy\n")
    (d / "neg.txt").write_text("sad\n")
    return d


T = ["sae", "train", "model", "--corpus", "text.txt", "--tokens", "500", "--out", "o"]
E = ["sae", "eval", "model", "--corpus", "text.txt", "--max-tokens", "200", "--out", "o"]
S = ["sae", "steer", "model", "--corpus", "text.txt", "--out", "o"]
CASES = [
    (T + ["--hook", "blocks.0.hook_attn_out"], "unknown hook"),
    (T + ["--hook", "resid"], "unknown hook"),
    (T + ["--hook", "blocks.9.hook_resid_post"], "layers 0..1"),
    (T + ["--hook", "transcoder:2"], "layers 0..1"),
    (T + ["--k", "256", "--expansion", "8"], "fewer than the 256 latents"),
    (T + ["--k", "0"], "--k"),
    (T + ["--expansion", "0"], "--expansion"),
    (T + ["--expansion", "-2"], "--expansion"),
    (T + ["--resume"], "nothing to resume"),
    (T + ["--resample-every", "-1"], "--resample-every"),
    (T + ["--optimizer", "sgd"], "--optimizer"),
    (T + ["--init", "wide"], "d_model"),
    (E + ["nosuch"], "not an SAE directory"),
    (E + ["wide"], "d_model is 32"),
    (E + ["deep"], "layers 0..1"),
    (E + ["corrupt"], "corrupt"),
    (E + ["badjson"], "corrupt"),
    (E + ["good", "--split", "train"], "held-out"),
    (["sae", "browse", "model", "good", "--latents", "999", "--out", "o"], "out of range"),
    (["sae", "browse", "model", "corrupt", "--out", "o"], "corrupt"),
    (S + ["--sae", "good", "--latent", "1", "--coefficient", "nan"], "finite"),
    (S + ["--sae", "good", "--latent", "1", "--coefficient", "inf"], "finite"),
    (S + ["--sae", "good", "--latent", "1", "--coefficient", "-inf"], "finite"),
    (S + ["--sae", "good", "--latent", "64"], "out of range"),
    (S + ["--sae", "corrupt", "--latent", "1"], "corrupt"),
    (S + ["--positive", "pos.txt", "--negative", "neg.txt"], "--hook"),
    (S + ["--positive", "pos.txt", "--negative", "neg.txt", "--hook", "blocks.0.hook_attn_out"], "unknown hook"),
    (S, "give a direction"),
    (["sae", "formation", "model", "--out", "o"], "at least 2 checkpoints"),
]


@pytest.fixture(scope="module")
def outcomes(work, tiny_gpt2_dir):
    before = snapshot_tree(work), snapshot_tree(tiny_gpt2_dir)
    res = {tuple(a): run_cli(a, cwd=work) for a, _ in CASES}
    return res, before, (snapshot_tree(work), snapshot_tree(tiny_gpt2_dir))


@pytest.mark.parametrize(("args", "contains"), CASES, ids=[" ".join(a[1:2] + a[8:]) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(outcomes, args, contains):
    assert_user_error(outcomes[0][tuple(args)], contains)


def test_failed_commands_wrote_nothing(outcomes):
    _, before, after = outcomes
    assert after == before


def test_good_train_then_eval_json(work, tmp_path):
    r = run_cli(["sae", "train", "model", "--corpus", "text.txt", "--hook", "blocks.1.hook_resid_post", "--expansion",
                 "2", "--k", "4", "--tokens", "600", "--context", "16", "--out", str(tmp_path / "s"), "--json"],
                cwd=work)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "sae_train"
    assert (tmp_path / "s" / "sae.safetensors").is_file() and (tmp_path / "s" / "results.json").is_file()
    r = run_cli(["sae", "eval", "model", str(tmp_path / "s"), "--corpus", "text.txt", "--max-tokens", "200",
                 "--context", "16", "--n-boot", "20", "--out", str(tmp_path / "e"), "--json"], cwd=work)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metrics"]["fvu"]["value"] >= 0
