"""Resampling dead latents (Anthropic, "Towards Monosemanticity", 2023), adapted to TopK coders trained
with SignSGD in a schedule-free wrapper (interp/sae/train.py).

At a resample step every latent silent for more than `dead_tokens` training tokens is re-initialised
toward a token the coder reconstructs badly: tokens of the current batch are drawn without replacement
(with replacement only if there are more dead latents than tokens) with probability ∝ their squared
reconstruction error ‖y − ŷ‖². For a drawn token i:

- decoder row  = e_i / ‖e_i‖ with e_i = y_i − ŷ_i, the direction the coder misses there (SAE: y = x);
- encoder row  = c_i ‖e_i‖ / ‖c_i‖² with c_i = x_i − centre (SAE: centre = b_dec, which the encoder
  subtracts; transcoder: the batch mean, subtracted through the bias), so that the latent's pre-activation
  on its own token is ‖e_i‖ and, with the unit decoder row, it adds exactly e_i there; on other tokens it
  fires in proportion to their projection on c_i, if that is among the k largest (TopK).

Anthropic use the input direction for both rows and 0.2 × the live encoder norm (ReLU SAEs); with TopK and a
coder that already reconstructs most of the variance, a row at the live norm adds an activation of the
input's size along the residual (measured: training FVU 7.6 instead of 0.007), so the scale is the
residual's instead.

Optimizer state is reset for those rows: SignSGD keeps none; the schedule-free wrapper keeps z (the base
iterate) and the parameter holds y = lerp(x, z, 1 − momentum); both are set to the new row, so the
averaged weights x equal it too. The draw is seeded by (seed, step), so `--resume` stays bit-identical.
"""

from __future__ import annotations

from typing import Any

import torch


def resample_dead(coder: Any, opt: Any, dead: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None,
                  *, seed: int, step: int) -> torch.Tensor:
    """Re-initialise `dead` latents (bool (n_latents,)) of `coder` from the batch x (N, d_in) [target y
    (N, d_in) for a transcoder, None for an SAE] and reset their optimizer state in `opt`.

    Returns the indices of the resampled latents (int64, possibly empty)."""
    idx = dead.nonzero().flatten()  # (n_dead,)
    if idx.numel() == 0 or x.shape[0] == 0:
        return idx[:0]
    target = x if y is None else y
    with torch.no_grad():
        acts, top, _ = coder.encode(x)
        err = target - coder.decode(acts, top)  # (N, d_in)
        w = err.pow(2).sum(-1).double()  # (N,)
        if not bool((w > 0).any()):
            return idx[:0]
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
        n = idx.numel()
        pick = torch.multinomial(w, n, replacement=n > int((w > 0).sum()), generator=gen)  # (n_dead,)
        eps = torch.finfo(x.dtype).eps
        e = err[pick]  # (n_dead, d_in)
        e_norm = e.norm(dim=-1, keepdim=True)
        centre = x.mean(0) if y is not None else coder.b_dec.detach()  # an SAE encodes x − b_dec
        c = x[pick] - centre  # (n_dead, d_in)
        # encoder row: along the centred input, scaled so that the latent's pre-activation on its own token is
        # ‖e_i‖ (with the unit decoder row it then adds exactly that token's residual e_i)
        c_norm = c.norm(dim=-1, keepdim=True)
        live = ~dead
        cap = coder.encoder.weight[live].norm(dim=-1).mean() if bool(live.any()) else torch.tensor(1.0)
        enc = c / (c_norm + eps) * torch.minimum(e_norm / (c_norm + eps), cap)  # norm ≤ live rows' mean
        bias = -(enc @ centre) if y is not None else torch.zeros(idx.numel())  # transcoder: centred by bias
        new = {coder.encoder.weight: enc.to(coder.encoder.weight.dtype),
               coder.encoder.bias: bias.to(coder.encoder.bias.dtype),
               coder.W_dec: (e / (e_norm + eps)).to(coder.W_dec.dtype)}
        for p, rows in new.items():
            p.data[idx] = rows
            for key, v in opt.state.get(p, {}).items():
                if key == "z":  # schedule-free base iterate: reset so that x = y = z = the new row
                    v[idx] = rows
                elif torch.is_tensor(v) and v.shape == p.shape:  # Adam moments: zeroed
                    v[idx] = 0
    return idx
