"""Checkpoint integrity (issue 21): identical weights under different checkpoint names are found by content hash."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from interp.errors import UserError
from interp.series import from_dirs
from interp.series_integrity import check_integrity, safetensors_content_sha256
from tests.cli_helpers import assert_user_error, run_cli


@pytest.fixture()
def three(tmp_path, tiny_gpt2_dir):
    """step-100 and step-300 hold the same weights; step-200 differs in one value."""
    dirs = []
    for name in ("step-100", "step-200", "step-300"):
        d = tmp_path / name
        shutil.copytree(tiny_gpt2_dir, d)
        dirs.append(d)
    st = load_file(dirs[1] / "model.safetensors")
    k = sorted(st)[0]
    st[k] = st[k].clone()
    st[k].view(-1)[0] += 1.0
    save_file(st, dirs[1] / "model.safetensors", metadata={"format": "pt"})
    return dirs


def test_hash_is_content_not_file(tmp_path, three):
    st = load_file(three[0] / "model.safetensors")
    reordered = dict(reversed(list(st.items())))  # other tensor order + other header metadata: same content
    save_file(reordered, tmp_path / "re.safetensors", metadata={"note": "copied"})
    a = safetensors_content_sha256([three[0] / "model.safetensors"])
    assert a == safetensors_content_sha256([tmp_path / "re.safetensors"])
    assert a != safetensors_content_sha256([three[1] / "model.safetensors"])
    st[sorted(st)[1]] = st[sorted(st)[1]].to(torch.float16)  # another dtype: another hash
    save_file(st, tmp_path / "half.safetensors")
    assert a != safetensors_content_sha256([tmp_path / "half.safetensors"])


def test_duplicates_named_and_strict_refuses(three):
    s = from_dirs([str(d) for d in three], "three", ordered=True)
    got = check_integrity(s)
    labels = [c.label for c in s.checkpoints]
    assert got["duplicates"] == [[labels[0], labels[2]]] and got["n_hashed"] == 3 and got["n_unhashed"] == 0
    assert "identical weights" in got["warning"] and labels[0] in got["warning"]
    with pytest.raises(UserError, match="--strict: checkpoints with identical weights"):
        check_integrity(s, strict=True)
    clean = from_dirs([str(three[0]), str(three[1])], "two", ordered=True)
    assert check_integrity(clean, strict=True)["duplicates"] == []


def test_cli_strict_exit_2_and_nothing_written(tmp_path, three):
    out = tmp_path / "o"
    r = run_cli(["attention-evolution", *map(str, three), "--prompt", "The cat", "--strict", "--out", str(out)], tmp_path)
    assert_user_error(r, "identical weights")
    assert not out.exists()
