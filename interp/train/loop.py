"""The training loop for the reference GPT (GPT-2 architecture via `transformers`).

    token streams ─► shuffled non-overlapping (n_ctx+1)-token windows ─► AdamW + linear warmup + cosine
    decay, grad clipping, grad accumulation ─► RUN_DIR/{metrics.jsonl, checkpoints/epoch-NNN/, step-NNNNNN/, best/}

Data order. An *epoch* is one pass over the train tokens: the train stream is cut into non-overlapping
windows of n_ctx + 1 tokens (inputs + shifted targets), starting at a per-epoch offset; the windows are
shuffled by a generator seeded with (seed, epoch). Step s of epoch e therefore reads a batch that is a
pure function of (seed, e, s) — so `--resume` needs no data-loader state, and a resumed CPU run
reproduces an uninterrupted one exactly (tests/integration/test_train.py).

Distributed. Under `torchrun`, each rank takes every world_size-th window of the global batch
(gloo on CPU, nccl on CUDA); gradients are averaged by DDP; rank 0 alone writes files.

Precision. bf16 autocast on CUDA; fp32 on CPU.

Divergence. A non-finite loss or gradient norm stops the run before the optimizer step with a
`TrainingDiverged` error naming the step; checkpoints already written (the last good ones) are kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from interp.checkpoint import save_checkpoint
from interp.errors import UserError
from interp.train.config import TrainConfig, TrainResult, parse_save_at
from interp.train.dist import Dist, all_same, barrier
from interp.train.hooks import Hooks

# bytes per parameter on disk: fp32 weights (4) + AdamW exp_avg and exp_avg_sq (8) when resumable
_WEIGHT_BYTES, _OPTIM_BYTES = 4, 8
RESUME = "resume"  # checkpoints/resume: the rolling --resume-every checkpoint


class TrainingDiverged(UserError):
    """The loss or gradient norm became non-finite (nan/inf); the run stopped before corrupting weights."""


def epoch_windows(n_tokens: int, n_ctx: int, seed: int, epoch: int) -> np.ndarray:
    """Start offsets of this epoch's shuffled, non-overlapping (n_ctx+1)-token windows."""
    rng = np.random.default_rng([seed, epoch])
    offset = int(rng.integers(0, n_ctx)) if n_tokens > 2 * (n_ctx + 1) else 0
    starts = np.arange(offset, n_tokens - n_ctx - 1 + 1, n_ctx + 1)
    return rng.permutation(starts)


def lr_at(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Linear warmup to cfg.lr, then cosine decay to cfg.lr * min_lr_ratio at total_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on ≥2-D weights only (not biases/LayerNorm), fused kernel on CPU and CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]  # --freeze: frozen ones get no AdamW state
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True,
    )


class Trainer:
    """Holds the prepared state of one run; `fit()` trains. Built by `interp.train.api`."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, tokenizer, train_ids: np.ndarray, val_ids: np.ndarray,
                 dist_: Dist) -> None:
        from transformers import GPT2LMHeadModel

        self.cfg, self.run_dir, self.tok, self.dist = cfg, Path(run_dir), tokenizer, dist_
        self.train_ids = torch.from_numpy(train_ids.astype(np.int64))
        self.val_ids = torch.from_numpy(val_ids.astype(np.int64))
        torch.manual_seed(cfg.seed)
        vocab = cfg.model.d_vocab if cfg.init_from is not None else len(tokenizer)  # a fine-tune: the parent's
        hf_cfg = cfg.model.to_hf_config(vocab, tokenizer.bos_token_id, tokenizer.eos_token_id)
        self.model = GPT2LMHeadModel(hf_cfg).to(cfg.device)
        self.frozen: tuple[str, ...] = ()
        if cfg.freeze:
            from interp.train.finetune import frozen_names

            self.frozen = tuple(frozen_names([n for n, _ in self.model.named_parameters()], cfg.freeze))
            for n, p in self.model.named_parameters():
                p.requires_grad_(n not in self.frozen)
        self.opt = make_optimizer(self.model, cfg)
        self.ddp = self.model
        if dist_.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [dist_.local_rank] if cfg.device.startswith("cuda") else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        self.forward = torch.compile(self.ddp) if cfg.compile else self.ddp
        n_ctx = cfg.model.n_ctx
        self._windows_epoch, self._windows = -1, np.empty(0, dtype=np.int64)
        self.windows_per_epoch = len(epoch_windows(len(self.train_ids), n_ctx, cfg.seed, 0))
        per_step = cfg.batch_size * cfg.grad_accum * dist_.world
        self.steps_per_epoch = self.windows_per_epoch // per_step
        if self.steps_per_epoch == 0:
            raise UserError(
                f"train split has {self.windows_per_epoch} windows of {n_ctx + 1} tokens, fewer than one global batch "
                f"({per_step}); lower --batch-size/--grad-accum/--n-ctx or use a larger corpus"
            )
        total = self.steps_per_epoch * cfg.max_epochs
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        self.save_at = frozenset(parse_save_at(cfg.save_at, self.total_steps))
        self.state: dict[str, Any] = {"step": 0, "epoch": 0, "tokens_seen": 0, "best_val_loss": None,
                                      "best_epoch": None, "bad_evals": 0, "stopped_early": False}

    def init_from(self, parent_dir: Path) -> None:
        """Copy a parent's weights (any HF GPT-2 dir of this shape) into the model: the fine-tune's start."""
        from transformers import GPT2LMHeadModel

        try:
            parent = GPT2LMHeadModel.from_pretrained(str(parent_dir), local_files_only=True)
            self.model.load_state_dict(parent.state_dict(), strict=True)
        except (OSError, RuntimeError, ValueError) as e:
            raise UserError(f"cannot load the weights of {parent_dir} into this model ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:160]})") from None
        self.model.tie_weights()

    # -- planning
    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def planned_checkpoints(self) -> dict[str, int]:  # (+1 rolling `resume` checkpoint with --resume-every)
        """How many checkpoints of each kind a full run writes (at most; early stopping writes fewer)."""
        ends = {s for s in range(self.steps_per_epoch, self.total_steps + 1, self.steps_per_epoch)} | {self.total_steps}
        every = {s for s in range(self.cfg.save_every, self.total_steps + 1, self.cfg.save_every)} - ends \
            if self.cfg.save_every else set()
        return {"epoch": len(ends), "save_every": len(every), "save_at": len(self.save_at - ends - every), "best": 1}

    def planned_bytes(self) -> int:
        """Disk a full run's checkpoints take (epoch/save-every with optimizer state; save-at/best weights only)."""
        n, c = self.n_params, self.planned_checkpoints()
        return n * ((_WEIGHT_BYTES + _OPTIM_BYTES) * (c["epoch"] + c["save_every"]) + _WEIGHT_BYTES * (c["save_at"] + 1))

    # -- batches
    def batch(self, epoch: int, step_in_epoch: int, micro: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) each (B, n_ctx) for this rank's share of a micro-batch — a pure function of its args."""
        cfg, n_ctx = self.cfg, self.cfg.model.n_ctx
        if self._windows_epoch != epoch:
            self._windows = epoch_windows(len(self.train_ids), n_ctx, cfg.seed, epoch)
            self._windows_epoch = epoch
        starts = self._windows
        per_step = cfg.batch_size * cfg.grad_accum * self.dist.world
        g0 = step_in_epoch * per_step + micro * cfg.batch_size * self.dist.world
        mine = starts[g0 + self.dist.rank : g0 + cfg.batch_size * self.dist.world : self.dist.world]
        idx = torch.from_numpy(mine)[:, None] + torch.arange(n_ctx + 1)[None, :]  # (B, n_ctx+1)
        w = self.train_ids[idx].to(self.cfg.device)
        return w[:, :-1], w[:, 1:]

    def _autocast(self):
        if self.cfg.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean next-token loss (nats) over the first eval_tokens of the val stream (fixed windows)."""
        n_ctx = self.cfg.model.n_ctx
        self.model.eval()
        n_win = min(max(1, self.cfg.eval_tokens // n_ctx), (len(self.val_ids) - 1) // n_ctx)
        total, count = 0.0, 0
        for i in range(0, n_win, 32):
            idx = torch.arange(i, min(n_win, i + 32))[:, None] * n_ctx + torch.arange(n_ctx + 1)[None, :]
            w = self.val_ids[idx].to(self.cfg.device)
            with self._autocast():
                logits = self.model(w[:, :-1], use_cache=False).logits
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum")
            total += loss.item()
            count += w[:, 1:].numel()
        self.model.train()
        return total / count

    # -- files
    def _log(self, rec: dict[str, Any]) -> None:
        if self.dist.main:
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    def _save(self, name: str, kind: str, with_optimizer: bool = True) -> Path:
        """Write checkpoints/NAME; its trainer_state.json carries step, tokens_seen, epoch (completed),
        epoch_progress (step / steps per epoch), kind (epoch|step|best) for ordering a checkpoint series."""
        path = self.run_dir / "checkpoints" / name
        if self.dist.main:
            st = self.state
            meta = {**st, "kind": kind, "epoch_progress": st["step"] / self.steps_per_epoch,
                    "steps_per_epoch": self.steps_per_epoch, "config": self.cfg.to_dict()}
            save_checkpoint(path, self.model, self.tok, meta, self.opt if with_optimizer else None)
        barrier(self.dist)
        return path

    def _last_good(self) -> str:
        ck = self.run_dir / "checkpoints"
        done = sorted((p for p in ck.glob("*") if not p.name.startswith(".") and p.name != "best"),
                      key=lambda p: p.stat().st_mtime) if ck.exists() else []
        return f"the last good checkpoint is {done[-1]}" if done else "no checkpoint was written yet"

    def train_step(self) -> dict[str, Any]:
        """One optimizer step (grad_accum micro-batches); returns its metrics record.

        Raises TrainingDiverged (before the optimizer step) when the loss or grad norm is not finite.
        """
        cfg, st = self.cfg, self.state
        epoch, in_epoch = divmod(st["step"], self.steps_per_epoch)
        lr = lr_at(st["step"], self.total_steps, cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr
        loss_sum = 0.0
        for micro in range(cfg.grad_accum):
            x, y = self.batch(epoch, in_epoch, micro)
            sync = micro == cfg.grad_accum - 1 or self.dist.world == 1
            ctx = self.ddp.no_sync() if (self.dist.world > 1 and not sync) else contextlib.nullcontext()
            with ctx, self._autocast():
                logits = self.forward(x, use_cache=False).logits  # (B, n_ctx, d_vocab)
                loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
                (loss / cfg.grad_accum).backward()
            loss_sum += loss.item() / cfg.grad_accum
        loss_sum = all_same(self.dist, loss_sum, cfg.device)  # log the global mean loss, not rank 0's share
        clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        gnorm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not (math.isfinite(loss_sum) and math.isfinite(gnorm)):
            self.opt.zero_grad(set_to_none=True)
            what = f"loss {loss_sum}" if not math.isfinite(loss_sum) else f"gradient norm {gnorm}"
            raise TrainingDiverged(
                f"training diverged: the {what} is not finite at step {st['step'] + 1} (lr {lr:.3g}); stopped before "
                f"updating the weights — {self._last_good()}; retrain with a lower --lr or --grad-clip"
            )
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        st["step"] += 1
        st["tokens_seen"] += cfg.batch_size * cfg.grad_accum * self.dist.world * cfg.model.n_ctx
        return {"step": st["step"], "epoch": st["step"] / self.steps_per_epoch, "lr": lr,
                "train_loss": loss_sum, "grad_norm": gnorm}

    # -- training
    def fit(self, progress: bool = True, hooks: Hooks | None = None) -> TrainResult:
        """Train until max_epochs / max_steps / early stopping. `hooks`: private seams (tests, sweeps)."""
        from interp.progress import progress_bar

        st = self.state
        bar = progress_bar(total=self.total_steps, initial=st["step"], disable=None if (progress and self.dist.main) else True,
                   desc="train", unit="step", dynamic_ncols=True)
        self.model.train()
        t0, tokens_at_t0 = time.perf_counter(), st["tokens_seen"]
        t_log, tok_log = t0, st["tokens_seen"]
        try:
            while st["step"] < self.total_steps and not st["stopped_early"]:
                rec = self.train_step()
                bar.update(1)
                self._after_step(rec, bar)
                if st["step"] % 10 == 0 or "val_loss" in rec:
                    now = time.perf_counter()
                    rec["tokens_per_s"] = (st["tokens_seen"] - tok_log) / max(now - t_log, 1e-9)
                    t_log, tok_log = now, st["tokens_seen"]
                    self._log(rec)
                self._checkpoint_after_step()
                if hooks is not None and hooks.on_eval is not None and "val_loss" in rec and self.dist.main:
                    hooks.on_eval({**rec, "tokens": st["tokens_seen"]})  # may raise: a pruned sweep trial
                if hooks is not None and hooks.interrupt_after_step is not None \
                        and st["step"] >= hooks.interrupt_after_step:
                    raise KeyboardInterrupt(f"simulated interruption after step {st['step']}")
        finally:
            bar.close()
        if self.dist.main and (self.run_dir / "checkpoints" / RESUME).is_dir():  # finished: no longer needed
            shutil.rmtree(self.run_dir / "checkpoints" / RESUME)
        wall = time.perf_counter() - t0
        final_val = self.evaluate() if st["step"] else None
        ckpts = sorted(str(p.relative_to(self.run_dir)) for p in (self.run_dir / "checkpoints").glob("epoch-*"))
        timing = {"wall_s": wall, "tokens_per_s": (st["tokens_seen"] - tokens_at_t0) / max(wall, 1e-9),
                  "tokens_this_session": st["tokens_seen"] - tokens_at_t0}
        return TrainResult(
            run_dir=str(self.run_dir), epochs_completed=st["epoch"], steps=st["step"], tokens_seen=st["tokens_seen"],
            best_val_loss=st["best_val_loss"], best_epoch=st["best_epoch"], final_val_loss=final_val,
            stopped_early=st["stopped_early"], checkpoints=tuple(ckpts), timing=timing,
        )

    def _after_step(self, rec: dict[str, Any], bar) -> None:
        """Evaluate at epoch ends / the last step / every eval_every steps; track best + early stopping."""
        cfg, st = self.cfg, self.state
        end_of_epoch = st["step"] % self.steps_per_epoch == 0
        if not (end_of_epoch or st["step"] == self.total_steps or (cfg.eval_every and st["step"] % cfg.eval_every == 0)):
            return
        val = self.evaluate()
        rec.update(val_loss=val, val_ppl=math.exp(min(val, 50)))
        if st["best_val_loss"] is None or val < st["best_val_loss"]:
            st["best_val_loss"], st["best_epoch"], st["bad_evals"] = val, rec["epoch"], 0
            self._save("best", "best", with_optimizer=False)
        else:
            st["bad_evals"] += 1
            if st["bad_evals"] >= cfg.patience:
                st["stopped_early"] = True
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val=f"{val:.3f}", lr=f"{rec['lr']:.2e}")

    def _checkpoint_after_step(self) -> None:
        """epoch-NNN at epoch ends (and the last step); else step-NNNNNN for --save-every (resumable, with
        optimizer) or --save-at (weights only). A step that ends an epoch gets only its epoch checkpoint,
        so no two checkpoints share a step."""
        cfg, st = self.cfg, self.state
        s = st["step"]
        resumable = True
        if s % self.steps_per_epoch == 0 or s == self.total_steps:
            st["epoch"] = math.ceil(s / self.steps_per_epoch)
            self._save(f"epoch-{st['epoch']:03d}", "epoch")
        elif cfg.save_every and s % cfg.save_every == 0:
            self._save(f"step-{s:06d}", "step")
        else:
            resumable = False
            if s in self.save_at:
                self._save(f"step-{s:06d}", "step", with_optimizer=False)
        if not resumable and cfg.resume_every and s % cfg.resume_every == 0:
            self._save(RESUME, "resume")  # rolling: replaces the previous one (atomic_dir)
