"""Diagnosis: are the latents that never fire on the held-out tokens dead, or rare? (issue 20)

    .venv/bin/python benchmarks/sae_rare.py --model runs/small [--tokens 200000] [--optimizer signum --resample-every 0]

Trains an SAE (resid layer 2, ×8, k 32) on the run's train split, then counts each latent's firings on the
first 16k val tokens, on all val tokens and on ≤400k train tokens; for the latents silent on the 16k val
tokens: how many fire on the train split, their median train frequency, the share of their firings on their
most frequent token. Also the variance share of the top principal components of the residual (val).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from interp import hooked
    from interp.sae.coder import load_coder, reconstruct
    from interp.sae.data import split_text, windows
    from interp.sae.hooks import capture, parse_hook
    from interp.sae.train import SAETrainConfig, train_sae

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", type=int, default=200_000)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--optimizer", default="signum")
    ap.add_argument("--resample-every", type=int, default=0)
    ap.add_argument("--out", default="/tmp/sae_rare")
    a = ap.parse_args()
    torch.set_num_threads(1)
    bridge = hooked.load(a.model)
    train, val = split_text(a.model, None, "train"), split_text(a.model, None, "val")
    cfg = SAETrainConfig(hook="blocks.2.hook_resid_post", expansion=8, k=32, tokens=a.tokens, lr=a.lr, seed=0,
                         optimizer=a.optimizer, resample_every=a.resample_every, save_every=10**9)
    coder, _ = load_coder(train_sae(bridge, cfg, text=train, out_dir=a.out).sae)
    spec = parse_hook(cfg.hook)

    def count(text, n):  # firings per latent, (latent, token) pairs, windows
        w = windows(bridge.tokenizer, text, 128, n)
        c, pairs, n_tok = torch.zeros(coder.num_latents), [], 0
        for i in range(0, w.shape[0], 8):
            with torch.no_grad():
                x, _ = capture(bridge.original_model, spec, w[i:i + 8])
            x = x[:, 1:].reshape(-1, x.shape[-1]).float()
            n_tok += x.shape[0]
            _, acts, idx = reconstruct(coder, x)
            c.index_add_(0, idx[acts > 0], torch.ones(int((acts > 0).sum())))
            tok = w[i:i + 8, 1:].reshape(-1)[:, None].expand_as(idx)
            pairs.append(torch.stack([idx[acts > 0], tok[acts > 0]], 1))
        return c, torch.cat(pairs), w, n_tok

    c16, _, w16, n16 = count(val, 16_384)
    call, _, _, nall = count(val, 10**9)
    ctr, ptr, _, ntr = count(train, 400_000)
    dead = (c16 == 0).nonzero().flatten()
    alive_tr = dead[ctr[dead] > 0]
    share = []
    for j in alive_tr.tolist():
        _, cnt = ptr[ptr[:, 0] == j, 1].unique(return_counts=True)
        share.append(float(cnt.max() / cnt.sum()))
    x, _ = capture(bridge.original_model, spec, w16[:64])
    x = x[:, 1:].reshape(-1, x.shape[-1]).float()
    s = torch.linalg.svdvals(x - x.mean(0)) ** 2
    v = (s.cumsum(0) / s.sum()).tolist()
    print(json.dumps({
        "bench": "sae_rare", "config": {"tokens": a.tokens, "lr": a.lr, "optimizer": a.optimizer,
                                        "resample_every": a.resample_every},
        "val_tokens_16k": n16, "val_tokens_all": nall, "train_tokens": ntr,
        "dead_frac_val16k": float((c16 == 0).float().mean()), "dead_frac_val_all": float((call == 0).float().mean()),
        "dead_frac_train": float((ctr == 0).float().mean()),
        "val16k_dead": int(dead.numel()), "of_which_fire_on_train": int(alive_tr.numel()),
        "median_train_freq_of_those": float(ctr[alive_tr].median() / ntr) if alive_tr.numel() else None,
        "median_top_token_share": float(torch.tensor(share).median()) if share else None,
        "pca_var_top1_5_20_64": [v[0], v[4], v[19], v[63]]}))


if __name__ == "__main__":
    main()
