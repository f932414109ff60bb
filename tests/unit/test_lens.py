"""Logit lens / tuned lens (interp.lens): last layer = the model's logits; tuned KL <= logit KL held out."""

from __future__ import annotations

import torch

from tests.conftest import TOY_TEXT


def test_logit_lens_last_layer_is_model_logits(tiny_bridge, tiny_gemma_bridge):
    from interp.lens import core

    for b in (tiny_bridge, tiny_gemma_bridge):
        toks = torch.tensor([[0, 5, 9, 17, 30, 41]])
        with torch.no_grad():
            lg = core.lens_logits(b, core.resid_posts(b, toks))  # (L, 1, T, V)
            torch.testing.assert_close(lg[-1], b(toks), atol=1e-5, rtol=1e-5)


def test_tuned_lens_beats_logit_lens_held_out_and_is_reused(tiny_gpt2_dir, tmp_path):
    from interp.lens.api import lens

    text = tmp_path / "train.txt"
    text.write_text(TOY_TEXT, encoding="utf-8")
    res = lens(str(tiny_gpt2_dir), prompt="John lost his keys. Sarah", answer=" the", tuned=True, train_text=text,
               train_tokens=20_000, n_boot=200)
    h = res.held_out
    assert h["n_windows"] >= 2
    for a, t in zip(h["logit_kl"][:-1], h["tuned_kl"][:-1], strict=True):
        assert t <= a
    assert h["tuned_kl"][-1] == h["logit_kl"][-1] == 0.0
    assert (tiny_gpt2_dir / "tuned_lens.safetensors").is_file()
    again = lens(str(tiny_gpt2_dir), prompt="John lost his keys. Sarah", answer=" the", tuned=True, train_text=text,
                 train_tokens=20_000, n_boot=200)
    assert again.tuned_lens["reused"] is True
    assert again.to_dict()["lenses"] == res.to_dict()["lenses"]
    (tiny_gpt2_dir / "tuned_lens.safetensors").unlink()


def test_lens_report(tiny_gpt2_dir, tmp_path):
    from interp.lens.api import lens
    from reports.api import report

    res = lens(str(tiny_gpt2_dir), prompt="The cat sat on the", answer=" the")
    g = res.lenses["logit"]
    assert len(g["top_token"]) == res.n_layers and len(g["answer_rank"][0]) == len(res.tokens)
    res.save(tmp_path / "results" / "lens")
    rep = report(tmp_path / "results", out=tmp_path / "report", format="html")
    assert "Logit and tuned lens" in open(rep.outputs["html"], encoding="utf-8").read()


def test_lens_series_and_report(tiny_gpt2_dir, tmp_path):
    from interp.lens.series import lens_series
    from reports.api import report

    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(tiny_gpt2_dir)
    b.symlink_to(tiny_gpt2_dir)
    res = lens_series([str(a), str(b)], prompt="The cat sat on the", answer=" the")
    assert len(res.top1_layer) == 2 and res.top1_layer[0] == res.top1_layer[1]
    res.save(tmp_path / "results" / "ls")
    rep = report(tmp_path / "results", out=tmp_path / "report", format="html")
    assert "Lens over checkpoints" in open(rep.outputs["html"], encoding="utf-8").read()
