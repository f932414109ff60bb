"""Resampling dead latents (interp/sae/resample.py): the rows it writes (checked against their definition),
optimizer state reset, latents that were dead fire again, seeded determinism and resume == uninterrupted
training with resampling on."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TOY_TEXT


@pytest.fixture(scope="module")
def toy_text():
    from interp.sae.data import Text

    return Text((TOY_TEXT,), "toy")


def _cfg(**kw):
    from interp.sae.train import SAETrainConfig

    base = dict(hook="blocks.1.hook_resid_post", expansion=2, k=4, tokens=1500, context=16, batch_size=4,
                save_every=5, seed=3, dead_tokens=60, resample_every=4)
    return SAETrainConfig(**{**base, **kw})


def _fires(coder, x: torch.Tensor) -> torch.Tensor:
    """bool (n_latents,): latent is among the active TopK latents of some row of x (N, d_in)."""
    from interp.sae.coder import reconstruct

    _, acts, idx = reconstruct(coder, x)
    out = torch.zeros(coder.num_latents, dtype=torch.bool)
    out[idx[acts > 0]] = True
    return out


def test_resample_rows_state_and_revival():
    from interp.sae.coder import new_coder
    from interp.sae.resample import resample_dead
    from interp.sae.train import _optimizer

    torch.manual_seed(0)
    x = torch.randn(200, 16) * torch.linspace(0.2, 3.0, 16) + 1.5  # (N, d_in)
    coder = new_coder(16, 4, 3, False, seed=1)  # 64 latents
    opt = _optimizer(coder, 1e-3)
    coder(x).fvu.backward()
    opt.step()  # schedule-free state z exists now
    dead = torch.zeros(64, dtype=torch.bool)
    dead[::3] = True
    with torch.no_grad():
        coder.encoder.bias[dead] = -1e4  # these can never fire
    assert not (_fires(coder, x) & dead).any()
    before = {n: p.detach().clone() for n, p in coder.named_parameters()}
    with torch.no_grad():
        acts, top, _ = coder.encode(x)
        err = x - coder.decode(acts, top)  # (N, d_in): the residuals the resampling draws from
    idx = resample_dead(coder, opt, dead, x, None, seed=0, step=7)
    assert torch.equal(idx, dead.nonzero().flatten())
    # live latents and b_dec untouched
    for n, p in coder.named_parameters():
        rows = slice(None) if n == "b_dec" else ~dead
        assert torch.equal(p.detach()[rows], before[n][rows]), n
    # decoder rows: unit-norm residuals of batch tokens; encoder rows: along their centred inputs
    err_dir = err / err.norm(dim=-1, keepdim=True)
    for j in idx.tolist():
        d = coder.W_dec.detach()[j]
        torch.testing.assert_close(d.norm(), torch.tensor(1.0))
        i = int((err_dir @ d).argmax())
        torch.testing.assert_close(d, err_dir[i])
        centred = x[i] - before["b_dec"]  # the SAE encodes x − b_dec
        enc = coder.encoder.weight.detach()[j]
        torch.testing.assert_close(enc / enc.norm(), centred / centred.norm())
        # pre-activation on its own token = ‖e_i‖, unless that needs a row longer than the live rows' mean
        cap = before["encoder.weight"][~dead].norm(dim=-1).mean()
        torch.testing.assert_close(enc.norm(), torch.minimum(err[i].norm() / centred.norm(), cap))
        assert coder.encoder.bias[j] == 0
    # optimizer state reset: z (schedule-free base iterate) equals the new rows
    for p in (coder.encoder.weight, coder.W_dec, coder.encoder.bias):
        assert torch.equal(opt.state[p]["z"][idx], p.detach()[idx])
    # the resampled latents fire again (each wins the TopK on tokens like the one it was drawn from)
    revived = (_fires(coder, x) & dead).sum()
    assert revived >= 0.8 * dead.sum(), (int(revived), int(dead.sum()))
    # seeded: the same call on the same state gives the same rows; another step another draw
    assert resample_dead(coder, opt, torch.zeros(64, dtype=torch.bool), x, None, seed=0, step=7).numel() == 0


def test_resample_is_seeded():
    from interp.sae.coder import new_coder
    from interp.sae.resample import resample_dead
    from interp.sae.train import _optimizer

    x = torch.randn(100, 8, generator=torch.Generator().manual_seed(0))
    dead = torch.arange(32) % 2 == 0
    rows = []
    for step in (5, 5, 6):
        coder = new_coder(8, 4, 2, False, seed=1)
        resample_dead(coder, _optimizer(coder, 1e-3), dead, x, None, seed=0, step=step)
        rows.append(coder.W_dec.detach().clone())
    assert torch.equal(rows[0], rows[1])
    assert not torch.equal(rows[0], rows[2])


def test_resample_resets_adam_moments():
    from interp.sae.coder import new_coder
    from interp.sae.resample import resample_dead
    from interp.sae.train import _optimizer

    x = torch.randn(100, 8, generator=torch.Generator().manual_seed(0)) + 2.0
    coder = new_coder(8, 4, 2, False, seed=1)
    opt = _optimizer(coder, 1e-3, "adam")
    coder(x).fvu.backward()
    opt.step()
    dead = torch.arange(32) % 4 == 0
    before = {p: {k: v.clone() for k, v in opt.state[p].items()} for p in coder.parameters()}
    idx = resample_dead(coder, opt, dead, x, None, seed=0, step=1)
    for p in (coder.encoder.weight, coder.encoder.bias, coder.W_dec):
        for key in ("exp_avg", "exp_avg_sq"):
            assert (opt.state[p][key][idx] == 0).all()
            assert torch.equal(opt.state[p][key][~dead], before[p][key][~dead])
            assert before[p][key][idx].abs().sum() > 0  # they were not zero before


def test_training_revives_killed_latents(tiny_gpt2_dir, toy_text, tmp_path):
    """Warm-start from an SAE whose even latents were killed (bias −1e4): with resampling they fire on
    the training windows again; without it (AuxK off) none does."""
    from safetensors.torch import load_file, save_file

    from interp import hooked
    from interp.sae.coder import load_coder
    from interp.sae.data import windows
    from interp.sae.hooks import capture, parse_hook
    from interp.sae.train import train_sae

    bridge = hooked.load(str(tiny_gpt2_dir))
    base = train_sae(bridge, _cfg(tokens=600, resample_every=0), text=toy_text, out_dir=tmp_path / "base")
    w = load_file(str(tmp_path / "base/sae.safetensors"))
    killed = torch.arange(w["encoder.bias"].numel()) % 2 == 0
    w["encoder.bias"][killed] = -1e4
    save_file(w, str(tmp_path / "base/sae.safetensors"))
    spec = parse_hook(base.hook)
    x, _ = capture(bridge.original_model, spec, windows(bridge.tokenizer, toy_text, 16, 800))
    x = x[:, 1:].reshape(-1, x.shape[-1]).float()  # (N, d_model), BOS dropped
    fires = {}
    for every in (0, 3):
        r = train_sae(bridge, _cfg(tokens=900, resample_every=every, auxk_alpha=0.0), text=toy_text,
                      out_dir=tmp_path / f"r{every}", init=tmp_path / "base")
        fires[every] = _fires(load_coder(r.sae)[0], x)
        if every:
            assert r.resampled and r.resampled[0][1] >= int(killed.sum())
    assert not (fires[0] & killed).any()
    assert (fires[3] & killed).sum() >= 0.5 * killed.sum(), int((fires[3] & killed).sum())


@pytest.mark.parametrize("optimizer", ["signum", "adam"])
def test_resample_deterministic_and_resume_bitwise(optimizer, tiny_gpt2_dir, toy_text, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from interp.sae import train as T
    from interp.sae.train import train_sae

    def _cfg_o():
        return _cfg(optimizer=optimizer)

    a = train_sae(str(tiny_gpt2_dir), _cfg_o(), text=toy_text, out_dir=tmp_path / "a")
    b = train_sae(str(tiny_gpt2_dir), _cfg_o(), text=toy_text, out_dir=tmp_path / "b")
    assert a.to_dict() | {"sae": ""} == b.to_dict() | {"sae": ""}
    assert any(n > 0 for _, n in a.resampled), a.resampled  # resampling happened (also after step 10)
    assert any(s > 10 for s, _ in a.resampled)
    wa, wb = load_file(str(tmp_path / "a/sae.safetensors")), load_file(str(tmp_path / "b/sae.safetensors"))
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    calls, real = [0], T.capture

    def crashing(*args):
        calls[0] += 1
        if calls[0] == 13:  # during step 13: the last state is from step 10 (save_every 5)
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(T, "capture", crashing)
    with pytest.raises(KeyboardInterrupt):
        train_sae(str(tiny_gpt2_dir), _cfg_o(), text=toy_text, out_dir=tmp_path / "c")
    monkeypatch.setattr(T, "capture", real)
    c = train_sae(str(tiny_gpt2_dir), _cfg_o(), text=toy_text, out_dir=tmp_path / "c", resume=True)
    wc = load_file(str(tmp_path / "c/sae.safetensors"))
    for k in wa:
        torch.testing.assert_close(wc[k], wa[k], rtol=0, atol=0)
    assert c.resampled == a.resampled and c.curve == a.curve


def test_resample_every_validated():
    from interp.errors import UserError

    with pytest.raises(UserError, match="--resample-every"):
        _cfg(resample_every=-1)
    with pytest.raises(UserError, match="--optimizer"):
        _cfg(optimizer="sgd")
