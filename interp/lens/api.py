"""`lens(model, prompt=..., answer=...)`: logit lens (and tuned lens) per layer × position; `lens_series` over
checkpoints: the layer at which the answer becomes the top-1 token at the last position (interp.lens.core).

Per layer L (blocks.L.hook_resid_post) and position: the top token, the answer's probability and rank (0 = top-1)
and KL(final ‖ layer L) in nats. With a tuned lens (`tuned=True`): the same grids through the translators, and on
HELD-OUT text windows (the last `held_out` share of `train_text`, never trained on) the mean KL per layer of both
lenses, with a 95% bootstrap interval over windows of the paired difference (logit − tuned).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult


@dataclass(frozen=True)
class LensConfig:
    prompt: str = ""
    answer: str | None = None
    tuned: bool = False
    train_tokens: int = 100_000
    held_out: float = 0.1
    batch: int = 8
    lr: float = 1e-3
    retrain: bool = False
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise UserError("give a non-empty --prompt")
        if self.answer is not None and not self.answer.strip():
            raise UserError("--answer is empty; give a word (one token after the prompt)")
        if not isinstance(self.train_tokens, int) or self.train_tokens < 1:
            raise UserError(f"--train-tokens must be a positive integer, got {self.train_tokens!r}")
        if not 0 < self.held_out < 1:
            raise UserError(f"held_out must be in (0, 1), got {self.held_out}")
        if self.batch < 1 or not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError("batch must be >= 1 and lr a positive number")


@dataclass(frozen=True)
class LensResult(FrozenResult):
    kind: str = "lens"
    model: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    n_layers: int = 0
    tokens: tuple[str, ...] = ()
    answer: str | None = None
    answer_id: int | None = None
    lenses: dict = field(default_factory=dict)  # "logit"/"tuned" → {top_token, answer_prob, answer_rank, kl} grids
    top1_layer: dict = field(default_factory=dict)  # lens → first layer with the answer top-1 at the last position
    held_out: dict = field(default_factory=dict)  # tuned: held-out KL per layer of both lenses + paired CI
    tuned_lens: dict = field(default_factory=dict)  # path, reused, tokens trained on, text hash


def _grids(bridge: Any, logits, tok: Any, answer_id: int | None) -> dict[str, Any]:
    import torch

    from interp.lens.core import kl_to_final

    lg = logits[:, 0].float()  # (L, T, V)
    top = lg.argmax(-1)  # (L, T)
    out: dict[str, Any] = {"top_token": [[tok.decode([int(i)]) for i in row] for row in top],
                           "kl": kl_to_final(lg).tolist()}
    if answer_id is not None:
        p = torch.softmax(lg, -1)[..., answer_id]
        out["answer_prob"] = p.tolist()
        out["answer_rank"] = (lg > lg[..., answer_id:answer_id + 1]).sum(-1).tolist()
    return out


def _top1(g: dict[str, Any]) -> int | None:
    ranks = g.get("answer_rank")
    if ranks is None:
        return None
    return next((i for i, row in enumerate(ranks) if row[-1] == 0), None)


def lens(model: Any, *, prompt: str, answer: str | None = None, tuned: bool = False,
         train_text: str | Path | None = None, train_tokens: int = 100_000, held_out: float = 0.1,
         retrain: bool = False, n_boot: int = 1000, seed: int = 0, device: str = "cpu",
         progress: bool = False) -> LensResult:
    """Logit lens (and, with tuned=True, a tuned lens trained on `train_text`, saved beside the model)."""
    import numpy as np
    import torch

    from interp.lens import core
    from interp.patching.api import model_and_name
    from interp.tokens import encode, single_token

    config = LensConfig(prompt=prompt, answer=answer, tuned=tuned, train_tokens=train_tokens, held_out=held_out,
                        retrain=retrain, n_boot=n_boot, seed=seed)
    text = None
    if tuned:
        if train_text is None:
            raise UserError("--tuned needs --train-text FILE (the model's own kind of text: its training corpus)")
        p = Path(train_text)
        if not p.is_file():
            raise UserError(f"train text {str(p)!r} not found")
        text = p.read_text(encoding="utf-8", errors="replace")
    name, bridge = model_and_name(model, device)
    tok = bridge.tokenizer
    ids = encode(tok, prompt)
    n_ctx = int(bridge.cfg.n_ctx)
    if len(ids) > n_ctx:
        raise UserError(f"the prompt is {len(ids)} tokens, more than the model context {n_ctx}; shorten it")
    answer_id = single_token(tok, answer, after=prompt, what="answer") if answer is not None else None
    tuned_info: dict[str, Any] = {}
    held: dict[str, Any] = {}
    lens_t = None
    if tuned:
        assert text is not None
        all_ids = encode(tok, text)
        win = core.windows(all_ids, min(n_ctx, 128))
        n_hold = max(1, int(round(win.shape[0] * held_out)))
        if win.shape[0] - n_hold < 1:
            raise UserError(f"train text gives only {win.shape[0]} windows of {win.shape[1]} tokens; give more text")
        train, test = win[: win.shape[0] - n_hold], win[win.shape[0] - n_hold:]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        path = Path(name) / core.LENS_FILE if Path(name).is_dir() else None
        loaded = core.load_lens(path, int(bridge.cfg.n_layers), int(bridge.cfg.d_model)) if path and not retrain \
            else None
        if loaded is not None and loaded[1].get("text_sha256") == digest:
            lens_t, meta = loaded
            tuned_info = {"path": str(path), "reused": True, **meta}
        else:
            steps = max(1, train_tokens // (config.batch * train.shape[1]))
            lens_t = core.train_tuned_lens(bridge, train, steps, batch=config.batch, lr=config.lr, seed=seed)
            meta = {"tokens": str(steps * config.batch * train.shape[1]), "text_sha256": digest, "seed": str(seed),
                    "held_out_windows": str(n_hold)}
            if path is not None:
                core.save_lens(lens_t, path, meta)
            tuned_info = {"path": str(path) if path else None, "reused": False, **meta}
        with torch.no_grad():
            kls = {"logit": [], "tuned": []}
            for i in range(0, test.shape[0], 8):
                r = core.resid_posts(bridge, test[i:i + 8])
                kls["logit"].append(core.kl_to_final(core.lens_logits(bridge, r)).mean(-1))  # (L, b)
                kls["tuned"].append(core.kl_to_final(core.lens_logits(bridge, r, lens_t)).mean(-1))
        lk = torch.cat(kls["logit"], 1).double().numpy()  # (L, n_windows)
        tk = torch.cat(kls["tuned"], 1).double().numpy()
        rng = np.random.default_rng(seed)
        diff = lk - tk
        boots = np.array([diff[:, rng.integers(0, diff.shape[1], diff.shape[1])].mean(1) for _ in range(n_boot)]) \
            if n_boot and diff.shape[1] > 1 else None
        held = {"n_windows": int(diff.shape[1]), "window": int(test.shape[1]), "logit_kl": lk.mean(1).tolist(),
                "tuned_kl": tk.mean(1).tolist(), "diff": diff.mean(1).tolist(),
                "diff_lo": np.percentile(boots, 2.5, axis=0).tolist() if boots is not None else None,
                "diff_hi": np.percentile(boots, 97.5, axis=0).tolist() if boots is not None else None}
    with torch.no_grad():
        r = core.resid_posts(bridge, torch.tensor([ids]))  # (L, 1, T, d)
        grids = {"logit": _grids(bridge, core.lens_logits(bridge, r), tok, answer_id)}
        if lens_t is not None:
            grids["tuned"] = _grids(bridge, core.lens_logits(bridge, r, lens_t), tok, answer_id)
    return LensResult(model=name, config={k: getattr(config, k) for k in ("prompt", "answer", "tuned", "train_tokens",
                                                                       "held_out", "batch", "lr", "n_boot")},
                      seed=seed, n_layers=int(bridge.cfg.n_layers), tokens=tuple(tok.decode([i]) for i in ids),
                      answer=answer, answer_id=answer_id, lenses=grids,
                      top1_layer={k: _top1(g) for k, g in grids.items()}, held_out=held, tuned_lens=tuned_info)
