"""Reference-model shapes: a frozen, validated `ModelConfig` and named presets.

The reference model is GPT-2 architecture (`transformers.GPT2LMHeadModel`), so every checkpoint is a
standard Hugging Face directory. Names follow TransformerLens: `n_layers`, `n_heads`, `d_model`,
`d_mlp`, `n_ctx`, `d_vocab`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from interp.errors import UserError

MIN_BPE_VOCAB = 258


@dataclass(frozen=True)
class ModelConfig:
    n_layers: int
    n_heads: int
    d_model: int
    n_ctx: int
    d_vocab: int = 2048  # BPE vocabulary size (tokenizer is trained to this size; the char tokenizer ignores it)
    d_mlp: int | None = None  # default 4 * d_model
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("n_layers", "n_heads", "d_model", "n_ctx", "d_vocab"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise UserError(f"invalid model config: {name}={v!r} must be a positive integer")
        if self.n_ctx < 2:
            raise UserError(f"invalid model config: n_ctx={self.n_ctx} must be at least 2 (a token and its successor)")
        if self.d_model % self.n_heads:
            raise UserError(
                f"invalid model config: n_heads={self.n_heads} does not divide d_model={self.d_model}; "
                "choose n_heads that divides d_model"
            )
        if self.d_mlp is not None and (not isinstance(self.d_mlp, int) or isinstance(self.d_mlp, bool) or self.d_mlp <= 0):
            raise UserError(f"invalid model config: d_mlp={self.d_mlp!r} must be a positive integer")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:  # also rejects nan
            raise UserError(f"invalid model config: dropout={self.dropout} must be in [0, 1)")

    def check_bpe_vocab(self) -> None:
        """Byte-level BPE needs 256 byte symbols + the special token (checked only when training BPE)."""
        if self.d_vocab < MIN_BPE_VOCAB:
            raise UserError(
                f"invalid model config: d_vocab={self.d_vocab} is too small for byte-level BPE "
                f"(256 byte symbols + special tokens); use at least {MIN_BPE_VOCAB}"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_mlp_eff(self) -> int:
        return self.d_mlp if self.d_mlp is not None else 4 * self.d_model

    def replace(self, **overrides: Any) -> ModelConfig:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise UserError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_hf_config(self, vocab_size: int, bos_token_id: int, eos_token_id: int):
        """The equivalent `transformers.GPT2Config` (vocab_size = the trained tokenizer's size)."""
        from transformers import GPT2Config

        return GPT2Config(
            vocab_size=vocab_size,
            n_positions=self.n_ctx,
            n_embd=self.d_model,
            n_layer=self.n_layers,
            n_head=self.n_heads,
            n_inner=self.d_mlp,
            resid_pdrop=self.dropout,
            embd_pdrop=self.dropout,
            attn_pdrop=self.dropout,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=True,
            # exact GELU: one fused kernel (nanoGPT's nn.GELU); GPT-2's default "gelu_new" is ~6 python-level
            # ops and cost ~25% of a training step on CPU (benchmarks/train_throughput.py)
            activation_function="gelu",
        )


PRESETS: dict[str, ModelConfig] = {
    # unit/integration tests: trains in seconds
    "tiny": ModelConfig(n_layers=2, n_heads=4, d_model=64, n_ctx=64, d_vocab=512),
    # default: a few minutes on 2 CPU cores, learns real structure
    "small": ModelConfig(n_layers=4, n_heads=4, d_model=128, n_ctx=128, d_vocab=2048),
    # shapes of the seed projects
    "seed-000": ModelConfig(n_layers=8, n_heads=12, d_model=768, n_ctx=512, d_vocab=8192),
    "seed-001": ModelConfig(n_layers=6, n_heads=4, d_model=128, n_ctx=128, d_vocab=4096),
    "seed-002": ModelConfig(n_layers=2, n_heads=1, d_model=128, n_ctx=50, d_vocab=2048),
    "seed-004": ModelConfig(n_layers=4, n_heads=8, d_model=512, n_ctx=32, d_mlp=2048, d_vocab=4096),
    # an induction head forms on 2 CPU cores in minutes (with PRESET_TRAIN_OPTIONS["induction"]; docs/induction.md)
    # (4 heads: with 2 the layer-0 previous-token head stayed smeared below 0.5 — docs/induction.md lever table)
    "induction": ModelConfig(n_layers=2, n_heads=4, d_model=64, n_ctx=32, d_vocab=512),
}

# Training defaults a preset brings along (flags given on the command line still win). The induction preset
# trains on the synthetic repeated-word corpus (`interp.induction_corpus`, its text-span variant: Shakespeare's
# running text said twice a line) with one token per word at lr 4e-3 (2e-3 left the previous-token head below
# 0.5), and saves log-spaced step checkpoints (denser around the formation) for `interp head-formation`.
PRESET_TRAIN_OPTIONS: dict[str, dict[str, Any]] = {
    "induction": {"corpus": "induction-text", "tokenizer": "word", "batch_size": 8, "lr": 4e-3, "warmup_steps": 100,
                  "weight_decay": 0.1, "min_lr_ratio": 0.1, "epochs": 1000, "max_steps": 20_000,
                  "eval_every": 250, "patience": 1000, "save_at": "log:4,4000-10000:500"},
}


def preset_train_options(name: str) -> dict[str, Any]:
    """The training defaults `name` brings along ({} for a shape-only preset)."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dict(PRESET_TRAIN_OPTIONS.get(name, {}))


def get_preset(name: str, **overrides: Any) -> ModelConfig:
    """The named preset with fields overridden (None values are ignored); unknown names are rejected."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides)
