"""Checkpoint directories: a standard HF dir plus, for resuming, the trainer state — all without pickle.

    checkpoints/epoch-003/        config.json, generation_config.json, model.safetensors, tokenizer files,
                                  trainer_state.json (step, epoch, best val, ...), optimizer.safetensors
    checkpoints/step-000500/      same, from --save-every
    checkpoints/best/             HF dir of the best validation loss so far (+ trainer_state.json)

Each directory is built under a temp name and renamed into place (`interp.results.atomic_dir`), so a
kill at any moment leaves every visible checkpoint complete and loadable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from interp.results import atomic_dir, dumps

STATE_FILE = "trainer_state.json"
OPTIM_FILE = "optimizer.safetensors"


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten an optimizer state_dict into named tensors + JSON-able scalars (safetensors has no pickle)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars["state"].setdefault(str(pid), {})[k] = v
    return tensors, scalars


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, t in tensors.items():
        pid, k = name.split(".", 1)
        state.setdefault(int(pid), {})[k] = t
    for pid, st in scalars["state"].items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def save_checkpoint(path: Path, model, tokenizer, state: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Atomically write an HF checkpoint dir (+ trainer state, + optimizer state if given)."""
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if optimizer is not None:
            tensors, scalars = _optimizer_tensors(optimizer)
            save_file(tensors, str(tmp / OPTIM_FILE))
            state = {**state, "optimizer": scalars}
        rng = torch.get_rng_state()
        save_file({"torch_rng": rng}, str(tmp / "rng.safetensors"))
        (tmp / STATE_FILE).write_text(dumps(state))
    return path


def read_state(path: Path) -> dict[str, Any]:
    return json.loads((Path(path) / STATE_FILE).read_text())


def load_trainer_state(path: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore optimizer + torch RNG from a checkpoint dir; return its trainer state."""
    state = read_state(path)
    _load_optimizer(optimizer, load_file(str(Path(path) / OPTIM_FILE)), state["optimizer"])
    torch.set_rng_state(load_file(str(Path(path) / "rng.safetensors"))["torch_rng"])
    return state


def resumable_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints with optimizer state, oldest → newest by step."""
    out = []
    for p in (Path(run_dir) / "checkpoints").iterdir() if (Path(run_dir) / "checkpoints").exists() else []:
        if p.name.startswith(".") or p.name == "best" or not (p / STATE_FILE).exists() or not (p / OPTIM_FILE).exists():
            continue
        out.append((read_state(p)["step"], p))
    return [p for _, p in sorted(out)]
