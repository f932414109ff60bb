"""TransformerLens hook names → Hugging Face modules, activation capture and splicing at those modules.

The models are HF GPT-2 / Gemma under a TransformerBridge (raw HF weights, bridge logits = HF logits), and
`eai-sparsify` hooks HF modules, so SAEs read and write the HF module that computes a TL hook point:

    TL hook / spec                 HF module (GPT-2: transformer.h.L, Gemma: model.layers.L)   read
    blocks.L.hook_resid_post       the decoder layer L                                          its output
    blocks.L.hook_mlp_out          layer L's mlp (Gemma 2/3: its post_feedforward_layernorm)    its output
    transcoder:L                   layer L's mlp                                                input → output

Position 0 (BOS, an activation outlier) is excluded from training and left clean when splicing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from interp.errors import UserError

_HOOK = re.compile(r"^(?:blocks\.(\d+)\.hook_(resid_post|mlp_out)|transcoder:(\d+))$")
HOOK_FORMS = "blocks.L.hook_resid_post, blocks.L.hook_mlp_out or transcoder:L"


@dataclass(frozen=True)
class HookSpec:
    """A parsed hook: layer, site (resid_post | mlp_out | transcoder)."""

    name: str
    layer: int
    site: str

    @property
    def transcode(self) -> bool:
        return self.site == "transcoder"


def parse_hook(name: str, n_layers: int | None = None) -> HookSpec:
    """'blocks.2.hook_resid_post' → HookSpec; UserError for any other form or a layer the model lacks."""
    m = _HOOK.match(str(name).strip())
    if not m:
        raise UserError(f"unknown hook {name!r}; use {HOOK_FORMS}")
    if m.group(3) is not None:
        spec = HookSpec(str(name).strip(), int(m.group(3)), "transcoder")
    else:
        spec = HookSpec(str(name).strip(), int(m.group(1)), m.group(2))
    if n_layers is not None and not 0 <= spec.layer < n_layers:
        raise UserError(f"hook {name!r}: the model has layers 0..{n_layers - 1}, not {spec.layer}")
    return spec


def layer_list(hf: nn.Module) -> nn.ModuleList:
    """The decoder layers of an HF causal LM (GPT-2 transformer.h, Llama/Gemma model.layers)."""
    for path in ("transformer.h", "model.layers", "gpt_neox.layers", "model.decoder.layers"):
        try:
            mod = hf.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(mod, nn.ModuleList):
            return mod
    raise UserError(f"cannot find the decoder layers of {type(hf).__name__}; SAEs support GPT-2 and Gemma models")


def site_module(hf: nn.Module, spec: HookSpec) -> nn.Module:
    """The HF module whose output (transcoder: input → output) is the hook's activation."""
    layers = layer_list(hf)
    if not 0 <= spec.layer < len(layers):
        raise UserError(f"hook {spec.name!r}: the model has layers 0..{len(layers) - 1}, not {spec.layer}")
    block = layers[spec.layer]
    if spec.site == "resid_post":
        return block
    if spec.site == "mlp_out" and hasattr(block, "post_feedforward_layernorm"):
        return block.post_feedforward_layernorm
    return block.mlp


class _Stop(Exception):
    """Raised by the capture hook to skip the layers after the hook (they are not needed)."""


def _first(t: Any) -> torch.Tensor:
    return t[0] if isinstance(t, tuple) else t


@torch.no_grad()
def capture(hf: nn.Module, spec: HookSpec, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) at the hook for a batch (B, T): x = SAE input, y = target, both (B, T, d). Stops the forward
    pass at the hook (later layers are skipped), so capture costs at most one forward."""
    store: dict[str, torch.Tensor] = {}

    def hook(_mod: nn.Module, inputs: Any, output: Any) -> None:
        store["y"] = _first(output).detach()
        if spec.transcode:
            store["x"] = _first(inputs).detach()
        raise _Stop

    h = site_module(hf, spec).register_forward_hook(hook)
    try:
        hf(input_ids)
    except _Stop:
        pass
    finally:
        h.remove()
    y = store["y"]
    return store.get("x", y), y


@contextlib.contextmanager
def spliced(hf: nn.Module, spec: HookSpec, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            keep_bos: bool = True) -> Iterator[None]:
    """Within the block, the hook's activation y (B, T, d) is replaced by fn(x, y) (positions ≥ 1 when
    keep_bos, i.e. BOS stays clean). x is the SAE input (transcoder: the mlp input; else y)."""

    def hook(_mod: nn.Module, inputs: Any, output: Any) -> Any:
        y = _first(output)
        x = _first(inputs) if spec.transcode else y
        new = fn(x, y).to(y.dtype)
        if keep_bos:
            new = torch.cat([y[:, :1], new[:, 1:]], dim=1)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    h = site_module(hf, spec).register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()
