"""Fine-tuning from a checkpoint: the parent model (`--init-from`), its shape and tokenizer, `--freeze`.

    MODEL_REF (run dir | HF dir | nanoGPT ckpt.pt / import) ─► parent HF dir ─► ModelConfig + tokenizer kind
    ─► (train) weights copied into the new run's model, tokenizer kept, frozen parameters excluded from AdamW

The parent is recorded in run.json as {"ref", "dir", "weights_sha256", "run", "step", "tokens_seen"} so
`interp.series` can read parent + child as one checkpoint series (boundary = the parent's step/tokens).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.presets import ModelConfig

MAX_UNKNOWN_FRAC = 0.01  # a corpus the parent's tokenizer maps > 1% to <unk> is refused
_SHAPE_FLAGS = {"n_layers": "n_layers", "n_heads": "n_heads", "d_model": "d_model", "d_mlp": "d_mlp",
                "n_ctx": "n_ctx", "vocab_size": "d_vocab"}


@dataclass(frozen=True)
class Parent:
    """The model a fine-tune starts from."""

    ref: str  # as given
    dir: Path  # the HF dir holding config.json + weights + tokenizer
    model: ModelConfig
    tokenizer_kind: str  # bpe | char
    run: str | None = None  # the interp run dir it belongs to (for the series), if any
    step: int | None = None
    tokens_seen: int | None = None

    def record(self) -> dict[str, Any]:
        """run.json's `parent` entry."""
        return {"ref": self.ref, "dir": str(self.dir), "weights_sha256": weights_sha256(self.dir), "run": self.run,
                "step": self.step, "tokens_seen": self.tokens_seen}


def weights_sha256(d: Path) -> str:
    files = sorted(p for p in Path(d).iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _read(p: Path) -> dict[str, Any]:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def _tokenizer_kind(d: Path, run_meta: dict[str, Any] | None) -> str:
    if run_meta and (run_meta.get("tokenizer") or {}).get("kind"):
        return run_meta["tokenizer"]["kind"]
    tj = _read(d / "tokenizer.json")
    return "char" if (tj.get("model") or {}).get("type") == "WordLevel" else "bpe"


def resolve_parent(ref: str) -> Parent:
    """MODEL_REF → Parent (reads JSON only; no torch). UserError for anything that is not a GPT-2 model dir."""
    from interp import hooked

    p = Path(ref).expanduser()
    if p.is_file() and p.suffix == ".pt":
        from interp.importers import nanogpt

        d, _info = nanogpt.import_cached(p)
    else:
        kind, d = hooked.resolve(ref)
        if kind != "local" or d is None:
            raise UserError(f"--init-from {ref!r}: fine-tuning needs a local model (run dir, HF dir or nanoGPT "
                            "import); download it first")
    cfg = _read(d / "config.json")
    if cfg.get("model_type") != "gpt2":
        raise UserError(f"--init-from {ref!r} is a {cfg.get('model_type') or 'unknown'} model; the trainer "
                        "fine-tunes GPT-2-architecture models (interp runs, nanoGPT imports, GPT-2 dirs)")
    if not (d / "tokenizer.json").exists() and not (d / "vocab.json").exists():
        raise UserError(f"--init-from {ref!r} has no tokenizer files in {d}; fine-tuning keeps the parent's tokenizer")
    model = ModelConfig(n_layers=cfg["n_layer"], n_heads=cfg["n_head"], d_model=cfg["n_embd"],
                        n_ctx=cfg["n_positions"], d_vocab=cfg["vocab_size"], d_mlp=cfg.get("n_inner"),
                        dropout=float(cfg.get("resid_pdrop") or 0.0))
    meta = hooked.run_metadata(str(d)) if d.parent.name == "checkpoints" else None
    st = _read(d / "trainer_state.json")
    run = str(d.parent.parent) if meta is not None else None
    return Parent(ref=ref, dir=Path(d), model=model, tokenizer_kind=_tokenizer_kind(d, meta), run=run,
                  step=st.get("step"), tokens_seen=st.get("tokens_seen"))


def check_flags(parent: Parent, flags: dict[str, Any], tokenizer: str | None) -> ModelConfig:
    """The fine-tune's model shape = the parent's; a shape flag or --tokenizer that contradicts it is an error."""
    for flag, field in _SHAPE_FLAGS.items():
        v = flags.get(flag)
        have = getattr(parent.model, field)
        if v is not None and v != have:
            raise UserError(f"--{flag.replace('_', '-')} {v} contradicts --init-from {parent.ref!r}, whose "
                            f"{field} is {have}; drop the flag (a fine-tune keeps the parent's shape and tokenizer)")
    if tokenizer is not None and tokenizer != parent.tokenizer_kind:
        raise UserError(f"--tokenizer {tokenizer} contradicts --init-from {parent.ref!r}, which uses a "
                        f"{parent.tokenizer_kind} tokenizer; drop --tokenizer (a fine-tune keeps the parent's)")
    dropout = flags.get("dropout")
    return parent.model if dropout is None else parent.model.replace(dropout=dropout)


def load_tokenizer(parent_dir: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(parent_dir), local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the tokenizer of {parent_dir} ({type(e).__name__})") from None


def check_unknown(tok, ids: dict[str, Any], ref: str, corpus: str | None) -> None:
    """Refuse a corpus the kept tokenizer cannot encode: more than 1% of its tokens map to <unk>."""
    unk = tok.unk_token_id
    if unk is None or unk == tok.eos_token_id:  # byte-level BPE: every byte is a token
        return
    n = sum(len(v) for v in ids.values())
    bad = sum(int((v == unk).sum()) for v in ids.values())
    if n and bad / n > MAX_UNKNOWN_FRAC:
        raise UserError(f"corpus {corpus!r} cannot be encoded by the tokenizer of --init-from {ref!r}: {bad / n:.1%} "
                        f"of its tokens are unknown (limit {MAX_UNKNOWN_FRAC:.0%}); fine-tune on text in the "
                        "parent's alphabet")


# ----------------------------------------------------------------------------- --freeze
def param_aliases(name: str) -> list[str]:
    """HF GPT-2 parameter name → itself plus TransformerLens-style aliases (blocks.L..., embed, pos_embed)."""
    out = [name]
    m = re.match(r"transformer\.h\.(\d+)\.(.*)", name)
    if m:
        out.append(f"blocks.{m.group(1)}.{m.group(2)}")
    for hf, tl in (("transformer.wte.", "embed."), ("transformer.wpe.", "pos_embed."),
                   ("transformer.ln_f.", "ln_final.")):
        if name.startswith(hf):
            out.append(tl + name[len(hf):])
    if name.startswith(("transformer.wte.", "transformer.wpe.")):
        out.append("embeddings." + name.split(".", 1)[1])
    return out


def _matches(name: str, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(a, pattern) or a.startswith(pattern.rstrip(".") + ".") for a in param_aliases(name))


def frozen_names(param_names: list[str], patterns: tuple[str, ...]) -> list[str]:
    """Parameter names matched by any pattern (glob or prefix, on HF names or aliases); UserError when a pattern
    matches nothing or everything."""
    out: set[str] = set()
    for pat in patterns:
        hit = [n for n in param_names if _matches(n, pat)]
        if not hit:
            raise UserError(f"--freeze {pat!r} matches no parameter; use e.g. embeddings, blocks.0, 'blocks.*.attn*' "
                            f"or an HF name like {param_names[0]}")
        out.update(hit)
    if patterns and len(out) == len(param_names):
        raise UserError(f"--freeze {','.join(patterns)} freezes every parameter; nothing would train")
    return sorted(out)
