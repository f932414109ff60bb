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
