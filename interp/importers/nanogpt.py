"""nanoGPT checkpoints (`ckpt.pt`) → standard Hugging Face GPT-2 directories (safetensors + tokenizer).

Reading. `torch.load(path, weights_only=True)` only — a checkpoint that needs any other global is refused
with the global's name; interp never falls back to a full unpickle. A nanoGPT checkpoint is a dict with
`model` (state dict), `model_args` (n_layer, n_head, n_embd, block_size, bias, vocab_size, dropout),
`config` (the train.py settings), `iter_num`, `best_val_loss`, `optimizer` (ignored).

Conversion to `GPT2LMHeadModel` (checked to 1e-5 against `interp.importers.nanogpt_reference.GPT`):
- strip torch.compile's `_orig_mod.` prefix; drop the causal-mask buffer `attn.bias` (older torch);
- Linear weights (out, in) → GPT-2 Conv1D weights (in, out): transpose `c_attn`, `c_proj`, `c_fc`;
- `bias=False` → zero biases for every Linear and LayerNorm (identical function);
- `lm_head` tied to `wte` (nanoGPT always ties; an untied fork keeps its own lm_head);
- `n_positions = block_size`, exact GELU (`nn.GELU` = HF "gelu"), LayerNorm eps 1e-5, dropout 0;
- a padded vocabulary (GPT-2's 50257 padded to 50304) stays padded: `vocab_size` = the embedding rows.

Tokenizer: `meta=` nanoGPT's char-level meta.pkl (read by `interp.importers.meta`, no unpickling of
code) or `tokenizer=` a HF tokenizer dir (GPT-2 BPE runs have no meta.pkl). Tokens seen = iter_num ×
gradient_accumulation_steps × batch_size × block_size from `config` (nanoGPT records the global
accumulation before dividing it over DDP ranks, so this is the global count).

`import_cached` keys an import by the SHA-256 of the checkpoint (and meta / tokenizer choice) under
`interp.hooked.cache_dir()/nanogpt/`, so a series of `ckpt_*.pt` files is converted once.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp.errors import UserError
from interp.results import FrozenResult, atomic_dir, dumps

REQUIRED = ("model", "model_args")
ARGS = ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")
LINEARS = (("attn.c_attn", 3), ("attn.c_proj", 1), ("mlp.c_fc", 4), ("mlp.c_proj", 1))  # (name, out / n_embd)
VERSION = 1  # bump when the conversion changes (part of the cache key)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, loaded with weights_only=True (mmap when the file allows), validated."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"nanoGPT checkpoint {str(path)!r} does not exist or is not a file; pass out-*/ckpt.pt")
    ck = None
    for mmap in (True, False):
        try:
            ck = torch.load(p, map_location="cpu", weights_only=True, mmap=mmap)
            break
        except pickle.UnpicklingError as e:
            m = re.search(r"GLOBAL ([\w.]+)", str(e))
            if m is None:
                raise UserError(f"{p} is not a readable torch checkpoint (UnpicklingError); pass nanoGPT's ckpt.pt") from None
            name = m.group(1)
            raise UserError(f"{p} needs {name} to load, which torch.load(weights_only=True) refuses; interp never "
                            "unpickles arbitrary objects — re-save the checkpoint with only tensors, numbers, "
                            "strings and dicts") from None
        except Exception as e:  # noqa: BLE001 — legacy format with mmap, truncated file, not a torch file
            if mmap:
                continue
            raise UserError(f"{p} is not a readable torch checkpoint ({type(e).__name__}); pass nanoGPT's ckpt.pt") from None
    if not isinstance(ck, dict):
        raise UserError(f"{p} is not a nanoGPT checkpoint (a {type(ck).__name__}, not a dict with 'model' and 'model_args')")
    missing = [k for k in REQUIRED if k not in ck]
    if missing:
        raise UserError(f"{p} is not a nanoGPT checkpoint: missing key(s) {', '.join(missing)} "
                        f"(has {', '.join(sorted(map(str, ck))[:8]) or 'nothing'})")
    args = ck["model_args"]
    bad = [k for k in ARGS if not isinstance(args, dict) or not isinstance(args.get(k), int) or args[k] < 1]
    if bad:
        raise UserError(f"{p}: model_args lacks positive integer {', '.join(bad)}; not a nanoGPT checkpoint")
    if not isinstance(ck["model"], dict) or not all(isinstance(v, torch.Tensor) for v in ck["model"].values()):
        raise UserError(f"{p}: 'model' is not a state dict of tensors")
    if args["n_embd"] % args["n_head"]:
        raise UserError(f"{p}: n_embd {args['n_embd']} is not divisible by n_head {args['n_head']}")
    return ck


def _need(sd: dict[str, torch.Tensor], key: str, shape: tuple[int, ...], src: str) -> torch.Tensor:
    if key not in sd:
        raise UserError(f"{src}: missing tensor {key}; not a nanoGPT GPT state dict")
    t = sd.pop(key)
    if tuple(t.shape) != shape:
        raise UserError(f"{src}: {key} has shape {tuple(t.shape)}, expected {shape} from model_args")
    return t.detach().to(torch.float32).contiguous()


def convert_state_dict(ck: dict[str, Any], src: str = "checkpoint") -> tuple[dict[str, torch.Tensor], bool]:
    """nanoGPT state dict → GPT2LMHeadModel state dict (without lm_head when tied); returns (sd, tied)."""
    a = ck["model_args"]
    L, C, V, P = a["n_layer"], a["n_embd"], a["vocab_size"], a["block_size"]
    sd = {k.removeprefix("_orig_mod."): v for k, v in ck["model"].items()}
    out: dict[str, torch.Tensor] = {}
    wte = _need(sd, "transformer.wte.weight", (V, C), src)
    out["transformer.wte.weight"] = wte
    out["transformer.wpe.weight"] = _need(sd, "transformer.wpe.weight", (P, C), src)

    def ln(prefix: str) -> None:
        out[f"{prefix}.weight"] = _need(sd, f"{prefix}.weight", (C,), src)
        out[f"{prefix}.bias"] = _need(sd, f"{prefix}.bias", (C,), src) if f"{prefix}.bias" in sd else torch.zeros(C)

    for i in range(L):
        p = f"transformer.h.{i}"
        ln(f"{p}.ln_1")
        ln(f"{p}.ln_2")
        for name, mult in LINEARS:
            n_in, n_out = (4 * C, C) if name == "mlp.c_proj" else (C, mult * C)
            out[f"{p}.{name}.weight"] = _need(sd, f"{p}.{name}.weight", (n_out, n_in), src).t().contiguous()  # Conv1D (in, out)
            b = f"{p}.{name}.bias"
            out[b] = _need(sd, b, (n_out,), src) if b in sd else torch.zeros(n_out)
        sd.pop(f"{p}.attn.bias", None)  # causal mask buffer (no flash attention)
    ln("transformer.ln_f")
    head = sd.pop("lm_head.weight", None)
    tied = head is None or torch.equal(head.to(torch.float32), wte)
    if not tied:
        out["lm_head.weight"] = head.detach().to(torch.float32).contiguous()  # type: ignore[union-attr]
    if sd:
        raise UserError(f"{src}: unexpected tensor(s) {', '.join(sorted(sd)[:4])}; not a plain nanoGPT GPT "
                        f"with {L} layers")
    return out, tied


def _tokenizer(meta: str | Path | None, tokenizer: str | Path | None, vocab_size: int) -> tuple[Any, str]:
    from interp.importers.meta import char_tokenizer, read_meta

    if meta is not None and tokenizer is not None:
        raise UserError("pass either --meta (char-level meta.pkl) or --tokenizer DIR, not both")
    if meta is not None:
        tok, kind = char_tokenizer(read_meta(meta)["stoi"]), "char"
    elif tokenizer is not None:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(Path(tokenizer).expanduser()), local_files_only=True)
        except Exception as e:  # noqa: BLE001
            raise UserError(f"--tokenizer {str(tokenizer)!r} is not a tokenizer dir ({type(e).__name__}); pass a dir "
                            "with tokenizer.json or vocab.json + merges.txt (GPT-2's files)") from None
        kind = "hf"
    else:
        raise UserError("no tokenizer: pass --meta data/<dataset>/meta.pkl (char-level runs) or --tokenizer DIR "
                        "(GPT-2 BPE runs: a dir with GPT-2's tokenizer files)")
    from interp.load_checks import MIN_VOCAB_FILL

    if kind == "char" and len(tok) < MIN_VOCAB_FILL * vocab_size:  # padding adds a few rows; far fewer tokens means another dataset's
        raise UserError(f"the tokenizer has {len(tok)} tokens but the checkpoint's vocabulary has {vocab_size}; "
                        "pass the meta.pkl / tokenizer of the dataset this model was trained on")
    if len(tok) > vocab_size:
        raise UserError(f"the tokenizer has {len(tok)} tokens but the checkpoint's vocabulary has {vocab_size}; "
                        "pass the tokenizer this model was trained with")
    return tok, kind


@dataclass(frozen=True)
class NanoGPTImport(FrozenResult):
    kind: str = "nanogpt_import"
    source: str = ""
    out_dir: str = ""
    sha256: str = ""
    iter_num: int | None = None
    tokens_seen: int | None = None
    best_val_loss: float | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    tied: bool = True
    compiled_prefix: bool = False
    tokenizer: str = ""  # char | hf
    tokenizer_size: int = 0
    n_params: int = 0
    seed: int = 0


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v


def import_nanogpt(ckpt: str | Path, out_dir: str | Path, *, meta: str | Path | None = None,
                   tokenizer: str | Path | None = None, force: bool = False, seed: int = 0) -> NanoGPTImport:
    """Convert a nanoGPT ckpt.pt into an HF GPT-2 dir at `out_dir` (validated fully before anything is written)."""
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    transformers.utils.logging.disable_progress_bar()
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} already exists and is not empty; pass --force to replace it or choose another dir")
    ck = read_checkpoint(ckpt)
    a = ck["model_args"]
    sd, tied = convert_state_dict(ck, str(ckpt))
    tok, tok_kind = _tokenizer(meta, tokenizer, a["vocab_size"])
    C = a["n_embd"]
    bos, eos = getattr(tok, "bos_token_id", None), getattr(tok, "eos_token_id", None)
    cfg = GPT2Config(vocab_size=a["vocab_size"], n_positions=a["block_size"], n_embd=C, n_layer=a["n_layer"],
                     n_head=a["n_head"], n_inner=4 * C, activation_function="gelu", layer_norm_epsilon=1e-5,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=tied,
                     bos_token_id=bos, eos_token_id=eos)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(cfg).eval()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (k.endswith((".attn.bias", ".attn.masked_bias")) or (tied and k == "lm_head.weight"))]
    if missing or unexpected:  # a conversion bug, not user input
        raise RuntimeError(f"nanoGPT → GPT-2 conversion left missing {missing} / unexpected {unexpected}")
    if tied:
        model.tie_weights()
    c = ck.get("config") if isinstance(ck.get("config"), dict) else {}
    it = _scalar(ck.get("iter_num"))
    per = [c.get(k) for k in ("gradient_accumulation_steps", "batch_size", "block_size")]
    tokens = it * per[0] * per[1] * per[2] if isinstance(it, int) and all(isinstance(v, int) for v in per) else None
    bvl = _scalar(ck.get("best_val_loss"))
    res = NanoGPTImport(
        source=str(ckpt), out_dir=str(out), sha256=file_sha256(ckpt), iter_num=it if isinstance(it, int) else None,
        tokens_seen=tokens, best_val_loss=float(bvl) if isinstance(bvl, (int, float)) else None,
        model_args={k: _scalar(v) for k, v in a.items()}, tied=tied,
        compiled_prefix=any(k.startswith("_orig_mod.") for k in ck["model"]), tokenizer=tok_kind,
        tokenizer_size=len(tok), n_params=sum(p.numel() for p in model.parameters()), seed=seed)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "nanogpt.json").write_text(dumps(res))
        # interp's trainer-state fields, so a folder of imports is a series ordered by step
        (tmp / "trainer_state.json").write_text(dumps({"step": res.iter_num, "tokens_seen": tokens, "epoch": None,
                                                        "best_val_loss": res.best_val_loss, "source": "nanogpt"}))
    return res


def import_cached(ckpt: str | Path, *, meta: str | Path | None = None,
                  tokenizer: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Import once into `cache_dir()/nanogpt/<key>/` (key = SHA-256 of the file + tokenizer choice)."""
    from interp import hooked

    p = Path(ckpt).expanduser()
    if not p.is_file():
        raise UserError(f"nanoGPT checkpoint {str(ckpt)!r} does not exist; pass out-*/ckpt.pt")
    tok_key = file_sha256(meta) if meta is not None else f"dir:{Path(tokenizer).expanduser().resolve()}" if tokenizer else "-"
    key = hashlib.sha256(f"{VERSION}|{file_sha256(p)}|{tok_key}".encode()).hexdigest()[:24]
    d = hooked.cache_dir() / "nanogpt" / key
    if not (d / "nanogpt.json").exists():
        import_nanogpt(p, d, meta=meta, tokenizer=tokenizer, force=True)
    return d, json.loads((d / "nanogpt.json").read_text())
