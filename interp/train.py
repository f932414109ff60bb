"""Trainer for the reference GPT (GPT-2 architecture via `transformers`).

    corpus ─► split by document ─► BPE (trained on train split only) ─► token streams
           ─► AdamW + linear warmup + cosine decay, grad clipping, grad accumulation
           ─► RUN_DIR/{run.json, metrics.jsonl, checkpoints/epoch-NNN/, checkpoints/best/}

Data order. An *epoch* is one pass over the train tokens: the train stream is cut into non-overlapping
windows of n_ctx + 1 tokens (inputs + shifted targets), starting at a per-epoch offset; the windows are
shuffled by a generator seeded with (seed, epoch). Step s of epoch e therefore reads a batch that is a
pure function of (seed, e, s) — so `--resume` needs no data-loader state, and a resumed CPU run
reproduces an uninterrupted one exactly (tests/integration/test_train.py).

Distributed. Under `torchrun`, each rank takes every world_size-th window of the global batch
(gloo on CPU, nccl on CUDA); gradients are averaged by DDP; rank 0 alone writes files.

Precision. bf16 autocast on CUDA; fp32 on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from interp import __version__, data
from interp.checkpoint import load_trainer_state, resumable_checkpoints, save_checkpoint
from interp.errors import UserError
from interp.presets import ModelConfig
from interp.results import FrozenResult, atomic_write_text, write_json


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig
    preset: str = "small"
    corpus: str | None = None  # None → embedded Shakespeare
    batch_size: int = 16  # windows per micro-batch (per process)
    grad_accum: int = 1
    lr: float = 2e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    max_epochs: int = 4
    max_steps: int | None = None  # caps total optimizer steps (schedule length = min(epochs*steps/epoch, this))
    train_tokens: int | None = None  # use only the first N train tokens (an epoch = one pass over them)
    eval_every: int = 0  # extra val evals every N steps (0: only at epoch ends)
    eval_tokens: int = 32_768  # val tokens scored per eval (fixed prefix of val windows)
    patience: int = 2  # stop after this many evals without val improvement
    save_every: int = 0  # extra checkpoints every N steps (0: epochs only)
    val_frac: float = 0.05
    test_frac: float = 0.05
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        positive = ("batch_size", "grad_accum", "max_epochs", "eval_tokens", "patience")
        for name in positive:
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise UserError(f"invalid training option {name.replace('_', '-')}={v!r}: must be a positive integer")
        for name in ("warmup_steps", "eval_every", "save_every"):
            if getattr(self, name) < 0:
                raise UserError(f"invalid training option {name.replace('_', '-')}: must be >= 0")
        if self.max_steps is not None and self.max_steps <= 0:
            raise UserError("invalid training option max-steps: must be a positive integer")
        if self.train_tokens is not None and self.train_tokens <= 0:
            raise UserError("invalid training option train-tokens: must be a positive integer")
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1:
            raise UserError("invalid learning rate: lr must be > 0 and min-lr-ratio in [0, 1]")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise UserError("grad-clip and weight-decay must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = dataclasses.asdict(self.model)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**{**d, "model": ModelConfig(**d["model"])})


@dataclass(frozen=True)
class TrainResult(FrozenResult):
    kind: str = "training"
    run_dir: str = ""
    epochs_completed: int = 0
    steps: int = 0
    tokens_seen: int = 0
    best_val_loss: float | None = None
    best_epoch: int | None = None
    final_val_loss: float | None = None
    stopped_early: bool = False
    checkpoints: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- distributed
@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Initialise torch.distributed when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def _barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


# ----------------------------------------------------------------------------- data → tokens
def encode_split(tokenizer, split: data.Split) -> np.ndarray:
    """Documents → one int32 stream, each document followed by <|endoftext|>."""
    eot = tokenizer.eos_token_id
    out: list[int] = []
    for doc in split.documents:
        out.extend(tokenizer(doc.text)["input_ids"])
        out.append(eot)
    return np.asarray(out, dtype=np.int32)


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


# ----------------------------------------------------------------------------- run metadata
def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    vs = {"python": platform.python_version(), "interp": __version__}
    for pkg in ("torch", "transformers", "transformer-lens", "tokenizers", "safetensors", "numpy"):
        try:
            vs[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return vs


# ----------------------------------------------------------------------------- the loop
class Trainer:
    """Holds the prepared state of one run; `fit()` trains. Built by `prepare()` or `resume()`."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, tokenizer, train_ids: np.ndarray, val_ids: np.ndarray,
                 dist_: Dist) -> None:
        from transformers import GPT2LMHeadModel

        self.cfg, self.run_dir, self.tok, self.dist = cfg, run_dir, tokenizer, dist_
        self.train_ids = torch.from_numpy(train_ids.astype(np.int64))
        self.val_ids = torch.from_numpy(val_ids.astype(np.int64))
        torch.manual_seed(cfg.seed)
        hf_cfg = cfg.model.to_hf_config(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
        self.model = GPT2LMHeadModel(hf_cfg).to(cfg.device)
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=cfg.device.startswith("cuda") or None,
        )
        self.ddp = self.model
        if dist_.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(self.model, device_ids=[dist_.local_rank] if cfg.device.startswith("cuda") else None)
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
        self.state: dict[str, Any] = {"step": 0, "epoch": 0, "tokens_seen": 0, "best_val_loss": None,
                                      "best_epoch": None, "bad_evals": 0, "stopped_early": False}

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
        return torch.autocast("cpu", enabled=False)

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

    def _save(self, name: str, with_optimizer: bool = True) -> Path | None:
        path = self.run_dir / "checkpoints" / name
        if self.dist.main:
            save_checkpoint(path, self.model, self.tok, {**self.state, "config": self.cfg.to_dict()},
                            self.opt if with_optimizer else None)
        _barrier(self.dist)
        return path

    def train_step(self) -> dict[str, Any]:
        """One optimizer step (grad_accum micro-batches); returns its metrics record."""
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
                logits = self.ddp(x, use_cache=False).logits
                loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
                (loss / cfg.grad_accum).backward()
            loss_sum += loss.item() / cfg.grad_accum
        if self.dist.world > 1:  # log the global mean loss, not rank 0's share
            import torch.distributed as dist

            t = torch.tensor([loss_sum], device=cfg.device)
            dist.all_reduce(t)
            loss_sum = t.item() / self.dist.world
        clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        st["step"] += 1
        st["tokens_seen"] += cfg.batch_size * cfg.grad_accum * self.dist.world * cfg.model.n_ctx
        return {"step": st["step"], "epoch": st["step"] / self.steps_per_epoch, "lr": lr,
                "train_loss": loss_sum, "grad_norm": float(gnorm)}

    # -- training
    def fit(self, progress: bool = True, interrupt_after_step: int | None = None) -> TrainResult:
        """Train until max_epochs / max_steps / early stopping. `interrupt_after_step` simulates a kill (tests)."""
        from tqdm.auto import tqdm

        cfg, st = self.cfg, self.state
        bar = tqdm(total=self.total_steps, initial=st["step"], disable=not (progress and self.dist.main),
                   desc="train", unit="step", dynamic_ncols=True)
        self.model.train()
        t0, tokens_at_t0 = time.perf_counter(), st["tokens_seen"]
        t_log, tok_log = t0, st["tokens_seen"]
        while st["step"] < self.total_steps and not st["stopped_early"]:
            rec = self.train_step()
            bar.update(1)
            end_of_epoch = st["step"] % self.steps_per_epoch == 0
            last = st["step"] == self.total_steps
            do_eval = end_of_epoch or last or (cfg.eval_every and st["step"] % cfg.eval_every == 0)
            if do_eval:
                val = self.evaluate()
                rec.update(val_loss=val, val_ppl=math.exp(min(val, 50)))
                if st["best_val_loss"] is None or val < st["best_val_loss"]:
                    st["best_val_loss"], st["best_epoch"], st["bad_evals"] = val, rec["epoch"], 0
                    self._save("best", with_optimizer=False)
                else:
                    st["bad_evals"] += 1
                    if st["bad_evals"] >= cfg.patience:
                        st["stopped_early"] = True
                bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val=f"{val:.3f}", lr=f"{rec['lr']:.2e}")
            if st["step"] % 10 == 0 or do_eval:
                now = time.perf_counter()
                rec["tokens_per_s"] = (st["tokens_seen"] - tok_log) / max(now - t_log, 1e-9)
                t_log, tok_log = now, st["tokens_seen"]
                self._log(rec)
            if end_of_epoch or last:
                st["epoch"] = math.ceil(st["step"] / self.steps_per_epoch)
                self._save(f"epoch-{st['epoch']:03d}")
            elif cfg.save_every and st["step"] % cfg.save_every == 0:
                self._save(f"step-{st['step']:06d}")
            if interrupt_after_step is not None and st["step"] >= interrupt_after_step:
                bar.close()
                raise KeyboardInterrupt(f"simulated interruption after step {st['step']}")
        bar.close()
        wall = time.perf_counter() - t0
        final_val = self.evaluate() if st["step"] else None
        ckpts = sorted(str(p.relative_to(self.run_dir)) for p in (self.run_dir / "checkpoints").glob("epoch-*"))
        result = TrainResult(
            run_dir=str(self.run_dir), epochs_completed=st["epoch"], steps=st["step"], tokens_seen=st["tokens_seen"],
            best_val_loss=st["best_val_loss"], best_epoch=st["best_epoch"], final_val_loss=final_val,
            stopped_early=st["stopped_early"], checkpoints=tuple(ckpts),
        )
        # timing is not part of the (deterministic) result: it goes to timing.json beside it
        self.timing = {"wall_s": wall, "tokens_per_s": (st["tokens_seen"] - tokens_at_t0) / max(wall, 1e-9),
                       "tokens_this_session": st["tokens_seen"] - tokens_at_t0}
        return result


# ----------------------------------------------------------------------------- entry points
def _prepare_data(cfg: TrainConfig):
    """Load + split the corpus, train the tokenizer on train, encode; validate sizes. Writes nothing."""
    from interp.tokenizer import train_bpe

    docs = data.load_corpus(cfg.corpus)
    splits = data.split_corpus(docs, cfg.val_frac, cfg.test_frac, cfg.seed)
    if not splits["train"].documents or not splits["val"].documents:
        raise UserError("corpus too small to split into train and validation; add text or documents")
    tok = train_bpe([d.text for d in splits["train"].documents], vocab_size=cfg.model.d_vocab)
    ids = {k: encode_split(tok, s) for k, s in splits.items()}
    n_ctx = cfg.model.n_ctx
    for k in ("train", "val"):
        if len(ids[k]) < n_ctx + 2:
            raise UserError(
                f"corpus is smaller than one context window: the {k} split has {len(ids[k])} tokens but "
                f"n_ctx={n_ctx} needs at least {n_ctx + 2}; use a larger corpus or a smaller --n-ctx"
            )
    if cfg.train_tokens is not None:
        ids["train"] = ids["train"][: cfg.train_tokens]
        if len(ids["train"]) < n_ctx + 2:
            raise UserError(f"--train-tokens {cfg.train_tokens} is less than one context window ({n_ctx + 2})")
    return tok, splits, ids


def _run_meta(cfg: TrainConfig, splits, ids, tok) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "run",
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "data": {
            "corpus": cfg.corpus or data.DEFAULT_CORPUS,
            "val_frac": cfg.val_frac, "test_frac": cfg.test_frac, "split_seed": cfg.seed,
            "train_tokens_limit": cfg.train_tokens,
            "splits": {k: {**s.record(), "n_tokens": int(len(ids[k]))} for k, s in splits.items()},
        },
        "tokenizer": {"type": "byte-level BPE (tokenizers)", "vocab_size": len(tok), "trained_on": "train split"},
        "versions": package_versions(),
        "git_commit": _git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _finish(trainer: Trainer, progress: bool, interrupt_after_step: int | None) -> TrainResult:
    """Fit, then write results.json (deterministic) and timing.json (wall clock) on rank 0."""
    result = trainer.fit(progress=progress, interrupt_after_step=interrupt_after_step)
    if trainer.dist.main:
        write_json(trainer.run_dir / "timing.json", trainer.timing)
        write_json(trainer.run_dir / "results.json", result)
    return result


def train(cfg: TrainConfig, run_dir: str | Path, force: bool = False, progress: bool = True,
          interrupt_after_step: int | None = None) -> TrainResult:
    """Train a fresh run into `run_dir` (must not exist unless `force`)."""
    run_dir = Path(run_dir)
    dist_ = init_distributed(cfg.device)
    if run_dir.exists() and any(run_dir.iterdir()) and not force:
        raise UserError(f"run dir {run_dir} already exists; pass --resume {run_dir} to continue it or --force to overwrite")
    if dist_.world > 1 and cfg.device.startswith("cuda"):
        cfg = dataclasses.replace(cfg, device=f"cuda:{dist_.local_rank}")
    tok, splits, ids = _prepare_data(cfg)  # validates before anything is written
    trainer = Trainer(cfg, run_dir, tok, ids["train"], ids["val"], dist_)
    if dist_.main:
        if run_dir.exists() and force:
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        write_json(run_dir / "run.json", _run_meta(cfg, splits, ids, tok))
    _barrier(dist_)
    return _finish(trainer, progress, interrupt_after_step)


def resume(run_dir: str | Path, progress: bool = True, max_epochs: int | None = None,
           interrupt_after_step: int | None = None) -> TrainResult:
    """Continue an interrupted run from its newest complete checkpoint."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise UserError(f"{run_dir} is not a training run (no run.json); start one with `interp train`")
    meta = json.loads((run_dir / "run.json").read_text())
    cfg = TrainConfig.from_dict(meta["config"])
    if max_epochs is not None:
        cfg = dataclasses.replace(cfg, max_epochs=max_epochs)
    dist_ = init_distributed(cfg.device)
    ckpts = resumable_checkpoints(run_dir)
    from transformers import AutoTokenizer, GPT2LMHeadModel

    tok, splits, ids = _prepare_data(cfg)
    if {k: s.sha256 for k, s in splits.items()} != {k: v["sha256"] for k, v in meta["data"]["splits"].items()}:
        raise UserError(f"the corpus of {run_dir} changed since training started (split hashes differ); cannot resume")
    if ckpts:  # use the saved tokenizer: identical to a retrained one, but this is the one the weights know
        tok = AutoTokenizer.from_pretrained(str(ckpts[-1]), local_files_only=True)
    trainer = Trainer(cfg, run_dir, tok, ids["train"], ids["val"], dist_)
    if ckpts:
        last = ckpts[-1]
        trainer.model.load_state_dict(GPT2LMHeadModel.from_pretrained(str(last), use_safetensors=True).state_dict())
        state = load_trainer_state(last, trainer.opt)
        trainer.state = {k: state[k] for k in trainer.state}
        # drop metrics logged after the checkpoint (they will be re-logged)
        mpath = run_dir / "metrics.jsonl"
        if dist_.main and mpath.exists():
            keep = [ln for ln in mpath.read_text().splitlines() if ln and json.loads(ln)["step"] <= trainer.state["step"]]
            atomic_write_text(mpath, "".join(ln + "\n" for ln in keep))
        # drop checkpoints newer than the one we resume from (partial/ahead states)
    else:
        if dist_.main and (run_dir / "metrics.jsonl").exists():
            (run_dir / "metrics.jsonl").unlink()
    return _finish(trainer, progress, interrupt_after_step)
