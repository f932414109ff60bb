"""Feature formation: optimal matching recovers a known permutation, births follow the definition on a
constructed series, and the end-to-end run over two checkpoints."""

from __future__ import annotations

import shutil

import numpy as np
import torch

from tests.conftest import TOY_TEXT


def test_match_recovers_permutation():
    from interp.sae.formation import match

    g = torch.Generator().manual_seed(0)
    a = torch.randn(20, 8, generator=g)
    perm = torch.randperm(20, generator=g)
    b = a[perm] * 3.0  # B[j] = A[perm[j]]: scale does not matter (cosine)
    got, cos = match(b, a)  # B latent j ↔ A latent got[j]
    assert (got == perm.numpy()).all()
    np.testing.assert_allclose(cos, 1.0, rtol=1e-5)


def test_births_by_definition():
    from interp.sae.formation import births

    g = torch.Generator().manual_seed(1)
    d0 = torch.nn.functional.normalize(torch.randn(6, 64, generator=g), dim=1)
    d1, d2 = d0.clone(), d0.clone()
    # latent 0 is new at checkpoint 2 (random there); latent 1 new at checkpoint 1 (random at 0)
    d2[0] = torch.nn.functional.normalize(torch.randn(64, generator=g), dim=0)
    d0[1] = torch.nn.functional.normalize(torch.randn(64, generator=g), dim=0)
    p = torch.tensor([3, 0, 1, 2, 5, 4])  # shuffle the middle checkpoint's order (matching must undo it)
    birth, cos = births([d0, d1[p], d2], 0.7)
    assert birth.tolist() == [2, 1, 0, 0, 0, 0]
    assert len(cos) == 2


def test_formation_end_to_end(tiny_gpt2_dir, tmp_path):
    from transformers import GPT2LMHeadModel

    from interp.sae.formation import FormationConfig, formation

    a, b = tmp_path / "ck-1", tmp_path / "ck-2"
    shutil.copytree(tiny_gpt2_dir, a)
    shutil.copytree(tiny_gpt2_dir, b)
    m = GPT2LMHeadModel.from_pretrained(b)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    m.save_pretrained(b)
    corpus = tmp_path / "c.txt"
    corpus.write_text(TOY_TEXT)
    r = formation([str(a), str(b)], FormationConfig(hook="blocks.1.hook_resid_post", expansion=2, k=4, tokens=600,
                                                    context=16, batch_size=4, n_show=2),
                  out_dir=tmp_path / "saes", corpus=str(corpus))
    d = r.to_dict()
    assert d["kind"] == "sae_formation" and len(d["checkpoints"]) == 2
    assert sum(d["born_per_checkpoint"]) == d["num_latents"] == 64
    assert d["earliest"] and d["latest"] and d["earliest"][0]["birth"] <= d["latest"][0]["birth"]
    r.plot()


def _two_checkpoints(tiny_gpt2_dir, d):
    from transformers import GPT2LMHeadModel

    a, b = d / "series" / "checkpoint-1", d / "series" / "checkpoint-2"  # a folder of checkpoint-N dirs
    shutil.copytree(tiny_gpt2_dir, a)
    shutil.copytree(tiny_gpt2_dir, b)
    m = GPT2LMHeadModel.from_pretrained(b)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    m.save_pretrained(b)
    (d / "c.txt").write_text(TOY_TEXT)
    return a, b


def test_independent_saes_are_the_ones_trained_alone(tiny_gpt2_dir, tmp_path):
    """--independent: each checkpoint's SAE is exactly the one `train_sae` gives that checkpoint from scratch."""
    from safetensors.torch import load_file

    from interp.sae.data import split_text
    from interp.sae.formation import FormationConfig, formation
    from interp.sae.train import SAETrainConfig, train_sae

    a, b = _two_checkpoints(tiny_gpt2_dir, tmp_path)
    cfg = FormationConfig(hook="blocks.1.hook_resid_post", expansion=2, k=4, tokens=600, context=16, batch_size=4,
                          n_show=2, warm_start=False)
    r = formation([str(a), str(b)], cfg, out_dir=tmp_path / "saes", corpus=str(tmp_path / "c.txt"))
    alone = train_sae(str(b), SAETrainConfig(hook=cfg.hook, expansion=2, k=4, tokens=600, context=16, batch_size=4),
                      text=split_text(str(b), str(tmp_path / "c.txt"), "train"), out_dir=tmp_path / "alone")
    got = {p.name: load_file(str(p)) for p in sorted(__import__("pathlib").Path(r.checkpoints[1]["sae"]).glob(
        "*.safetensors"))}
    ref = {p.name: load_file(str(p)) for p in sorted(__import__("pathlib").Path(alone.sae).glob("*.safetensors"))}
    assert got.keys() == ref.keys() and got
    for name in got:
        for k in got[name]:
            torch.testing.assert_close(got[name][k], ref[name][k], atol=0, rtol=0)


def test_torchrun_two_ranks_byte_identical_and_warm_start_refused(tiny_gpt2_dir, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    a, b = _two_checkpoints(tiny_gpt2_dir, tmp_path)
    exe = Path(sys.executable)
    args = ["sae", "formation", str(a.parent), "--hook", "blocks.1.hook_resid_post", "--expansion", "2", "--k", "4",
            "--tokens", "600", "--corpus", str(tmp_path / "c.txt"), "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    torchrun = [str(exe.with_name("torchrun")), "--nproc_per_node=2", "--master_port=29741", "-m", "interp.cli"]
    one = subprocess.run([str(exe.with_name("interp")), *args, "--independent", "--out", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([*torchrun, *args, "--independent", "--out", str(tmp_path / "two")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    d1 = (tmp_path / "one" / "results.json").read_text().replace(str(tmp_path / "one"), "OUT")
    d2 = (tmp_path / "two" / "results.json").read_text().replace(str(tmp_path / "two"), "OUT")
    assert d1 == d2
    warm = subprocess.run([*torchrun, *args, "--out", str(tmp_path / "warm")], env=env, capture_output=True,
                          text=True, timeout=300)
    # each rank exits 2 with the one-line error (torchrun itself then reports the failed ranks)
    assert warm.returncode != 0 and "error: warm-started SAEs chain the checkpoints" in warm.stderr
    assert not (tmp_path / "warm" / "results.json").exists()
