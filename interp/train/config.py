"""The frozen, validated training config and the (deterministic) training result."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from interp.errors import UserError
from interp.presets import ModelConfig
from interp.results import FrozenResult

TOKENIZER_KINDS = ("bpe", "char", "word")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run (with the corpus). Validated on construction (UserError)."""

    model: ModelConfig
    preset: str = "small"
    corpus: str | None = None  # None → embedded Shakespeare
    tokenizer: str = "bpe"  # "bpe" (byte-level BPE of d_vocab tokens) | "char" (one per character) | "word"
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
    save_every: int = 0  # extra (resumable) checkpoints every N steps (0: epochs only)
    save_at: str = ""  # extra weights-only step checkpoints: "log" (1, 2, 4, ...), "log:K", "A-B:S", "1,2,4,100"
    resume_every: int = 0  # rolling resumable checkpoint checkpoints/resume every N steps (0: off); replaced each
    # time, removed when training ends, never part of the checkpoint series — an interrupted run loses < N steps
    val_frac: float = 0.05
    test_frac: float = 0.05
    compile: bool = False  # torch.compile the training forward/backward
    seed: int = 0
    device: str = "cpu"
    init_from: str | None = None  # fine-tune: the parent model reference (weights + tokenizer kept)
    freeze: tuple[str, ...] = ()  # parameter-name patterns kept frozen (embeddings, blocks.0, globs)

    def __post_init__(self) -> None:
        if isinstance(self.freeze, (list, str)):
            object.__setattr__(self, "freeze", tuple([self.freeze] if isinstance(self.freeze, str) else self.freeze))
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"invalid training option {_flag(f.name)}={v}: must be a finite number")
        for name in ("batch_size", "grad_accum", "max_epochs", "eval_tokens", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise UserError(f"invalid training option {_flag(name)}={v!r}: must be a positive integer")
        for name in ("warmup_steps", "eval_every", "save_every", "resume_every", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise UserError(f"invalid training option {_flag(name)}={v!r}: must be an integer >= 0")
        for name in ("max_steps", "train_tokens"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise UserError(f"invalid training option {_flag(name)}={v!r}: must be a positive integer")
        if not self.lr > 0:
            raise UserError(f"invalid training option --lr={self.lr}: must be > 0")
        if not 0 <= self.min_lr_ratio <= 1:
            raise UserError(f"invalid training option --min-lr-ratio={self.min_lr_ratio}: must be in [0, 1]")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"invalid training option {name}={getattr(self, name)}: must be in [0, 1)")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise UserError("invalid training option: --grad-clip and --weight-decay must be >= 0")
        if not (0 <= self.val_frac < 1 and 0 <= self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise UserError(f"invalid split fractions --val-frac={self.val_frac} --test-frac={self.test_frac}: "
                            "each in [0, 1), sum < 1")
        if self.val_frac == 0:
            raise UserError("--val-frac must be > 0: training evaluates and early-stops on the validation split")
        if self.tokenizer not in TOKENIZER_KINDS:
            raise UserError(f"unknown tokenizer {self.tokenizer!r}; choose one of: {', '.join(TOKENIZER_KINDS)}")
        if self.tokenizer == "bpe" and self.init_from is None:
            self.model.check_bpe_vocab()
        if not all(isinstance(p, str) and p.strip() for p in self.freeze):
            raise UserError(f"invalid --freeze {self.freeze!r}: give parameter-name patterns like embeddings,blocks.0")
        parse_save_at(self.save_at, 10**12)  # validates the spec

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = dataclasses.asdict(self.model)
        for k in ("init_from", "freeze"):  # absent unless used: a plain run's run.json is as before
            if not d[k]:
                del d[k]
            elif k == "freeze":
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**{**d, "model": ModelConfig(**d["model"]), "freeze": tuple(d.get("freeze") or ())})

    @classmethod
    def from_flags(
        cls, *, preset: str = "small", corpus: str | None = None, tokenizer: str | None = None,
        init_from: str | None = None, freeze: str = "", n_layers: int | None = None, n_heads: int | None = None,
        d_model: int | None = None, d_mlp: int | None = None, n_ctx: int | None = None, vocab_size: int | None = None,
        dropout: float | None = None, epochs: int | None = None, max_steps: int | None = None,
        train_tokens: int | None = None, batch_size: int | None = None, grad_accum: int = 1, lr: float | None = None,
        min_lr_ratio: float | None = None, warmup_steps: int | None = None, weight_decay: float | None = None,
        grad_clip: float = 1.0, patience: int | None = None, eval_every: int | None = None,
        eval_tokens: int = 32_768, save_every: int = 0, save_at: str | None = None, resume_every: int = 0,
        val_frac: float = 0.05, test_frac: float = 0.05, compile: bool = False, device: str = "cpu", seed: int = 0,
    ) -> TrainConfig:
        """The config the CLI's flags describe (`interp train --n-layers 2 ...` → `n_layers=2`), same defaults.

        `tokenizer` None = bpe, or the parent's with `init_from`; `freeze` is comma-separated patterns.
        With `init_from` the model shape is the parent's (a contradicting shape flag is a UserError).
        An option left at None takes the preset's training default (`interp.presets.preset_train_options`, e.g.
        `preset="induction"` brings its corpus, word tokenizer, batch, lr and checkpoint steps), else
        `TRAIN_DEFAULTS`."""
        from interp.presets import get_preset, preset_train_options

        given = {"corpus": corpus, "tokenizer": tokenizer, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                 "min_lr_ratio": min_lr_ratio, "warmup_steps": warmup_steps, "weight_decay": weight_decay,
                 "patience": patience, "eval_every": eval_every, "save_at": save_at, "max_steps": max_steps}
        preset_opts = {} if init_from is not None else preset_train_options(preset)
        o = {**TRAIN_DEFAULTS, **preset_opts, **{k: v for k, v in given.items() if v is not None}}
        corpus, epochs, batch_size, lr = o["corpus"], o["epochs"], o["batch_size"], o["lr"]
        min_lr_ratio, warmup_steps, weight_decay = o["min_lr_ratio"], o["warmup_steps"], o["weight_decay"]
        patience, eval_every, save_at, max_steps = o["patience"], o["eval_every"], o["save_at"], o["max_steps"]
        if tokenizer is None and init_from is None:
            tokenizer = o["tokenizer"]

        shape = dict(n_layers=n_layers, n_heads=n_heads, d_model=d_model, d_mlp=d_mlp, n_ctx=n_ctx,
                     vocab_size=vocab_size, dropout=dropout)
        if init_from is not None:
            from interp.train.finetune import check_flags, resolve_parent

            parent = resolve_parent(init_from)
            model = check_flags(parent, shape, tokenizer)
            tokenizer = parent.tokenizer_kind
        else:
            tokenizer = tokenizer or "bpe"
            if tokenizer in ("char", "word") and vocab_size is not None:
                raise UserError(f"--vocab-size applies to --tokenizer bpe; a {tokenizer} tokenizer's vocabulary is "
                                f"the train split's {tokenizer}s")
            model = get_preset(preset, n_layers=n_layers, n_heads=n_heads, d_model=d_model, d_mlp=d_mlp, n_ctx=n_ctx,
                               d_vocab=vocab_size, dropout=dropout)
        pats = tuple(p.strip() for p in (freeze or "").split(",") if p.strip())
        return cls(model=model, preset=preset, corpus=corpus, tokenizer=tokenizer, batch_size=batch_size,
                   grad_accum=grad_accum, lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
                   weight_decay=weight_decay, grad_clip=grad_clip, max_epochs=epochs, max_steps=max_steps,
                   train_tokens=train_tokens, eval_every=eval_every, eval_tokens=eval_tokens, patience=patience,
                   save_every=save_every, save_at=save_at, resume_every=resume_every, val_frac=val_frac, test_frac=test_frac, compile=compile,
                   seed=seed, device=device, init_from=init_from, freeze=pats)

# Training options a preset may override (`interp.presets.PRESET_TRAIN_OPTIONS`); the CLI's defaults otherwise.
TRAIN_DEFAULTS: dict[str, object] = {
    "corpus": None, "tokenizer": "bpe", "epochs": 4, "batch_size": 16, "lr": 2e-3, "min_lr_ratio": 0.1,
    "warmup_steps": 100, "weight_decay": 0.1, "patience": 2, "eval_every": 0, "save_at": "", "max_steps": None,
}


def parse_save_at(spec: str, total_steps: int) -> tuple[int, ...]:
    """Steps of the extra step checkpoints (≤ total_steps), a comma-separated mix of:
    "log" → 1, 2, 4, 8, ... (Pythia's early checkpoints); "log:K" → K per doubling (round(2^(i/K)), deduped);
    "A-B:S" → A, A+S, ..., ≤ B (dense around an expected event); "100" → that step; "" → none.
    UserError on anything else."""
    s = (spec or "").strip().lower()
    if not s:
        return ()
    steps: set[int] = set()
    bad = UserError(f"invalid --save-at {spec!r}: give 'log', 'log:K' (K per doubling), ranges 'A-B:S' or positive "
                    "step numbers like 1,2,4,100")
    for part in s.split(","):
        part = part.strip()
        if part == "log" or part.startswith("log:"):
            k = part[4:] or "1"
            if not k.isdigit() or not 1 <= int(k) <= 64:
                raise bad
            steps |= {round(2 ** (i / int(k))) for i in range(64 * int(k)) if 2 ** (i / int(k)) <= total_steps + 0.5}
        elif m := re.fullmatch(r"(\d+)-(\d+):(\d+)", part):
            a, b, step = (int(g) for g in m.groups())
            if a <= 0 or b < a or step <= 0:
                raise bad
            steps |= set(range(a, min(b, total_steps) + 1, step))
        elif part.isdigit() and int(part) > 0:
            steps.add(int(part))
        else:
            raise bad
    return tuple(x for x in sorted(steps) if x <= total_steps)


@dataclass(frozen=True)
class TrainResult(FrozenResult):
    """What a run did. `to_dict()` is deterministic; wall-clock `timing` is kept out of it."""

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
    timing: dict[str, float] = field(default_factory=dict, compare=False)  # wall_s, tokens_per_s; not in JSON

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("timing", None)
        return d
