"""SAE / transcoder files: `sae.safetensors` (weights, safetensors only) + `sae.json` (config), and the
`eai-sparsify` `SparseCoder` they load into.

sae.json: {format, hook, d_in, num_latents, k, expansion, transcode, model, tokens, seed, library}.
Loading checks the JSON, the tensor names and shapes, and (given a model) the hook and width against it:
any mismatch or corrupt file is a one-line UserError.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

from interp.errors import UserError

FORMAT = "interp-sae/1"
WEIGHTS, CONFIG = "sae.safetensors", "sae.json"
_TENSORS = ("encoder.weight", "encoder.bias", "W_dec", "b_dec")


def sparsify() -> Any:
    """The `sparsify` package, imported with its stdout notice ("Triton not installed, using eager ...")
    swallowed, so `--json` output and one-line errors stay clean."""
    if "sparsify" not in sys.modules:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import sparsify  # noqa: F401
        except ImportError:
            raise UserError("SAEs need eai-sparsify: pip install 'interp[sae]'") from None
    return sys.modules["sparsify"]


def new_coder(d_in: int, expansion: int, k: int, transcode: bool, seed: int) -> Any:
    """A fresh `sparsify.SparseCoder` (float32, CPU), initialised under `seed`."""
    sp = sparsify()
    cfg = sp.SparseCoderConfig(activation="topk", expansion_factor=int(expansion), k=int(k),
                               normalize_decoder=True, transcode=bool(transcode))
    torch.manual_seed(seed)
    return sp.SparseCoder(int(d_in), cfg, device="cpu", dtype=torch.float32)


def check_shape(d_in: int, expansion: int, k: int) -> int:
    """num_latents for d_in × expansion; UserError unless 1 ≤ k < num_latents."""
    if not isinstance(expansion, int) or expansion <= 0:
        raise UserError(f"--expansion must be a positive integer, got {expansion!r}")
    n = int(d_in) * int(expansion)
    if not isinstance(k, int) or not 1 <= k < n:
        raise UserError(f"--k must be in 1..{n - 1} (fewer than the {n} latents = d_in {d_in} × expansion "
                        f"{expansion}), got {k!r}")
    return n


def save_coder(coder: Any, out_dir: Path, meta: dict[str, Any]) -> None:
    """Write sae.safetensors + sae.json atomically (weights first, config last)."""
    from safetensors.torch import save

    from interp.atomic import atomic_write_bytes, atomic_write_text

    tensors = {n: t.detach().contiguous().clone() for n, t in coder.state_dict().items()}
    atomic_write_bytes(Path(out_dir) / WEIGHTS, save(tensors))
    cfg = {"format": FORMAT, "d_in": coder.d_in, "num_latents": coder.num_latents, "k": coder.cfg.k,
           "expansion": coder.cfg.expansion_factor, "transcode": bool(coder.cfg.transcode), **meta}
    atomic_write_text(Path(out_dir) / CONFIG, json.dumps(cfg, indent=1, sort_keys=True) + "\n")


def read_config(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """(dir, sae.json) of an SAE directory (or its sae.json / sae.safetensors); UserError if unusable."""
    p = Path(path)
    d = p.parent if p.name in (WEIGHTS, CONFIG) else p
    if not (d / CONFIG).is_file() or not (d / WEIGHTS).is_file():
        raise UserError(f"{str(path)!r} is not an SAE directory (needs {CONFIG} and {WEIGHTS}); train one with "
                        "`interp sae train`")
    try:
        cfg = json.loads((d / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{d / CONFIG} is corrupt ({type(e).__name__}); retrain the SAE") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise UserError(f"{d / CONFIG} is not an interp SAE config (format {FORMAT!r} expected)")
    for key in ("hook", "d_in", "num_latents", "k", "expansion", "transcode"):
        if key not in cfg:
            raise UserError(f"{d / CONFIG} lacks {key!r}; the SAE file is corrupt")
    ints = [cfg["d_in"], cfg["num_latents"], cfg["k"], cfg["expansion"]]
    if not all(isinstance(v, int) and v > 0 for v in ints) or cfg["k"] >= cfg["num_latents"]:
        raise UserError(f"{d / CONFIG} has invalid sizes (d_in, num_latents, k, expansion = {ints})")
    return d, cfg


def load_coder(path: str | Path, model_info: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """(SparseCoder in eval mode, sae.json) from an SAE directory; safetensors only, shapes checked.

    model_info: {"n_layers", "d_model"} of the model it will run on: the hook must exist there and the
    SAE width must equal d_model."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from interp.sae.hooks import parse_hook

    d, cfg = read_config(path)
    spec = parse_hook(cfg["hook"], model_info["n_layers"] if model_info else None)
    if model_info and cfg["d_in"] != model_info["d_model"]:
        raise UserError(f"the SAE in {d} reads width {cfg['d_in']} at {spec.name} but the model's d_model is "
                        f"{model_info['d_model']}; it was trained on another model")
    try:
        tensors = load((d / WEIGHTS).read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise UserError(f"{d / WEIGHTS} is corrupt or not safetensors ({str(e).splitlines()[0][:80]})") from None
    n, d_in = cfg["num_latents"], cfg["d_in"]
    want = {"encoder.weight": (n, d_in), "encoder.bias": (n,), "W_dec": (n, d_in), "b_dec": (d_in,)}
    for name, shape in want.items():
        t = tensors.get(name)
        if t is None or tuple(t.shape) != shape:
            got = None if t is None else tuple(t.shape)
            raise UserError(f"{d / WEIGHTS}: tensor {name} is {got}, expected {shape}; the SAE file is corrupt")
        if not torch.isfinite(t).all():
            raise UserError(f"{d / WEIGHTS}: tensor {name} has NaN/inf values; the SAE file is corrupt")
    if set(tensors) - set(want):
        raise UserError(f"{d / WEIGHTS} has unexpected tensors {sorted(set(tensors) - set(want))}")
    coder = new_coder(d_in, cfg["expansion"], cfg["k"], bool(cfg["transcode"]), 0)
    if coder.num_latents != n:
        coder = _with_latents(coder, n, cfg)
    coder.load_state_dict({k: v.float() for k, v in tensors.items()})
    return coder.eval().requires_grad_(False), cfg


def _with_latents(coder: Any, n: int, cfg: dict[str, Any]) -> Any:
    sp = sparsify()
    c = sp.SparseCoderConfig(activation="topk", expansion_factor=cfg["expansion"], num_latents=n, k=cfg["k"],
                             transcode=bool(cfg["transcode"]))
    return sp.SparseCoder(cfg["d_in"], c, device="cpu", dtype=torch.float32)


def reconstruct(coder: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ŷ, top_acts, top_idx) for x (..., d_in): ŷ (..., d_in), top (..., k). No grad."""
    shape = x.shape
    with torch.no_grad():
        acts, idx, _ = coder.encode(x.reshape(-1, shape[-1]).float())
        y = coder.decode(acts, idx)
    return y.reshape(shape), acts.reshape(*shape[:-1], -1), idx.reshape(*shape[:-1], -1)


def finite(x: float, what: str) -> float:
    if not isinstance(x, int | float) or not math.isfinite(float(x)):
        raise UserError(f"{what} must be a finite number, got {x!r}")
    return float(x)
