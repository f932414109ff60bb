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
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from interp.errors import UserError
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
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Writing model shards" bar per checkpoint inside the training bar
    try:
        return _save(path, model, tokenizer, state, optimizer)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _save(path: Path, model, tokenizer, state: dict[str, Any], optimizer: torch.optim.Optimizer | None) -> Path:
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


def _damaged(path: Path, err: BaseException) -> UserError:
    why = " ".join(str(err).split())[:160] or type(err).__name__
    return UserError(f"checkpoint {path} is damaged or truncated ({why}); delete that directory to resume from "
                     "the checkpoint before it")


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint's trainer_state.json (UserError naming the dir when it is missing or truncated)."""
    try:
        return json.loads((Path(path) / STATE_FILE).read_text())
    except (OSError, ValueError) as e:
        raise _damaged(Path(path), e) from None


def load_trainer_state(path: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore optimizer + torch RNG from a checkpoint dir; return its trainer state."""
    state = read_state(path)
    try:
        _load_optimizer(optimizer, load_file(str(Path(path) / OPTIM_FILE)), state["optimizer"])
        torch.set_rng_state(load_file(str(Path(path) / "rng.safetensors"))["torch_rng"])
    except Exception as e:  # safetensors raises its own error types for truncated files
        raise _damaged(Path(path), e) from None
    return state


def load_weights(path: Path, model: torch.nn.Module) -> None:
    """Load a checkpoint's model.safetensors into `model` (same architecture); UserError if damaged."""
    try:
        sd = load_file(str(Path(path) / "model.safetensors"))
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except Exception as e:
        raise _damaged(Path(path), e) from None
    # tied lm_head.weight is not stored; anything else missing means a different architecture
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise _damaged(Path(path), ValueError(f"missing {missing[:3]} unexpected {unexpected[:3]}"))
    if hasattr(model, "tie_weights"):
        model.tie_weights()


def resumable_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints with optimizer state, oldest → newest by step."""
    out = []
    for p in (Path(run_dir) / "checkpoints").iterdir() if (Path(run_dir) / "checkpoints").exists() else []:
        if p.name.startswith(".") or p.name == "best" or not (p / STATE_FILE).exists() or not (p / OPTIM_FILE).exists():
            continue
        out.append((read_state(p)["step"], p))
    return [p for _, p in sorted(out)]


def check_resumable(run_dir: Path) -> None:
    """Refuse to resume when a checkpoint that was saved with optimizer state has lost it and is newer than every
    resumable checkpoint: resuming would silently restart from an older step (or step 0) and rewrite the run."""
    ckdir = Path(run_dir) / "checkpoints"
    if not ckdir.is_dir():
        return
    newest_ok = max((read_state(p)["step"] for p in resumable_checkpoints(run_dir)), default=-1)
    broken = []
    for p in sorted(ckdir.iterdir()):
        if p.name.startswith(".") or p.name == "best" or not p.is_dir():
            continue
        if not (p / STATE_FILE).is_file():
            if (p / "model.safetensors").is_file():
                broken.append(f"{p.name} ({STATE_FILE})")
            continue
        st = read_state(p)
        lost = [f for f in (OPTIM_FILE, "rng.safetensors", "model.safetensors") if not (p / f).is_file()]
        if "optimizer" in st and lost and st.get("step", 0) > newest_ok:
            broken.append(f"{p.name} ({', '.join(lost)})")
    if broken:
        since = f"step {newest_ok}" if newest_ok >= 0 else "step 0"
        raise UserError(f"cannot resume {run_dir}: checkpoint(s) {'; '.join(broken[:3])} lost their resume state, so "
                        f"training would restart from {since} and overwrite them; restore those files, or start "
                        "anew with --force")


def remove_partial(run_dir: Path) -> list[Path]:
    """Delete what a killed writer leaves behind: hidden temp checkpoint dirs (`.NAME.XXXX.tmp`, `.NAME.old.PID`
    from `atomic_dir`) in checkpoints/ and hidden temp files (`.NAME.XXXX.tmp`) in the run dir. Call it only
    while holding the run lock. Returns the removed paths."""
    removed = []
    for d in (Path(run_dir), Path(run_dir) / "checkpoints"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.name.startswith(".") and (p.name.endswith(".tmp") or ".old." in p.name):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                removed.append(p)
    return removed
