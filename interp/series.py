"""Checkpoint series: an ordered list of (label, step, tokens_seen, epoch, model ref) — one notion of "a model
over training" used by every analysis over checkpoints (`interp.attention.attention_evolution`,
`interp.attention.head_formation`).

    source                                   becomes                                       ordered by
    ---------------------------------------  --------------------------------------------  ----------------
    interp run dir (run.json/checkpoints/)   checkpoints/epoch-NNN/ + step-NNNNNN/          step
    folder of HF Trainer `checkpoint-N/`     each dir; epoch/tokens from trainer_state.json N
    folder of HF model dirs                  each dir with config.json                      number in name
    explicit list of dirs                    those dirs                                     as given
    `org/name@step0,step1000` (hub)          those revisions (`@log`, `@every:N` helpers    step in name
                                             over `huggingface_hub.list_repo_refs`)
    nanoGPT `ckpt*.pt` file(s)               imported once into a cached HF dir             iter_num
                                             (`interp.importers.nanogpt.import_cached`)

Weights are safetensors only (pickled `.bin` gets `interp.hooked`'s error); a Trainer checkpoint without
tokenizer files takes the tokenizer of its parent folder or `tokenizer=`. Architectures and vocabularies are
compared up front from each config.json (the odd one is named). `CheckpointSeries.iter_models` loads one
checkpoint at a time and frees it before the next. The loss curve (interp's metrics.jsonl, the Trainer's
`log_history`) travels with the series for plots beside the head scores.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from interp.errors import UserError

X_AXES = ("tokens", "step", "epoch")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


@dataclass(frozen=True)
class Checkpoint:
    """One model of a series: where it is, and when in training it was saved (None = unknown)."""

    label: str
    ref: str  # local HF dir, or a hub repo id (with `revision`)
    step: int | None = None
    tokens_seen: int | None = None
    epoch: float | None = None
    revision: str | None = None  # hub revision (branch / tag / commit)
    tokenizer: str | None = None  # dir holding the tokenizer when `ref` has none

    def __post_init__(self) -> None:
        if self.epoch is not None and float(self.epoch).is_integer():
            object.__setattr__(self, "epoch", int(self.epoch))  # epoch 3, not 3.0, in results JSON

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckpointSeries:
    """Checkpoints in training order + where they came from + the run's loss curve (may be empty)."""

    source: str
    kind: str  # run | trainer | dirs | list | hub | nanogpt | pairs
    checkpoints: tuple[Checkpoint, ...]
    loss_curve: tuple[dict[str, Any], ...] = field(default=())
    boundary: dict[str, Any] | None = None  # parent → fine-tune: {"label", "step", "tokens", "checkpoint"}

    def __post_init__(self) -> None:
        if not self.checkpoints:
            raise UserError(f"{self.source!r} has no checkpoints; pass a run dir, a folder of checkpoints, "
                            "a list of model dirs or org/name@rev1,rev2")
        seen: dict[int, str] = {}
        for c in self.checkpoints:
            if c.step is not None:
                if c.step in seen:
                    raise UserError(f"checkpoints {seen[c.step]!r} and {c.label!r} are both step {c.step}; "
                                    "a series needs one checkpoint per step — drop one")
                seen[c.step] = c.label

    def __len__(self) -> int:
        return len(self.checkpoints)

    def default_x(self) -> str:
        """tokens when every checkpoint knows them, else step, else epoch, else 'checkpoint' (the index)."""
        for x in X_AXES:
            if all(self.value(c, x) is not None for c in self.checkpoints):
                return x
        return "checkpoint"

    @staticmethod
    def value(c: Checkpoint, x: str) -> float | None:
        return {"tokens": c.tokens_seen, "step": c.step, "epoch": c.epoch}.get(x)

    def check_x(self, x: str | None) -> str:
        """The x axis to use: `x` if every checkpoint knows it (else a UserError naming one), or the default."""
        if x is None:
            return self.default_x()
        if x not in (*X_AXES, "checkpoint"):
            raise UserError(f"x axis must be one of step, tokens, epoch, checkpoint; got {x!r}")
        if x != "checkpoint":
            for c in self.checkpoints:
                if self.value(c, x) is None:
                    what = "tokens seen" if x == "tokens" else x
                    raise UserError(f"{what} unknown for checkpoint {c.label!r} of {self.source!r}; "
                                    f"use x = {self.default_x()}")
        return x

    def shard(self, rank: int, world: int) -> list[int]:
        """Indices of rank `rank`'s contiguous slice (sizes differ by at most one)."""
        n = len(self.checkpoints)
        lo, hi = rank * n // world, (rank + 1) * n // world
        return list(range(lo, hi))

    def preflight(self) -> None:
        """Fail fast before any model is loaded (offline hub)."""
        if self.kind == "hub":
            from interp import hooked

            if not hooked.hub_reachable():
                c = self.checkpoints[0]
                raise hooked.hub_error(f"{c.ref}@{c.revision}", ConnectionError("hub unreachable"))

    def iter_models(self, device: str = "cpu", indices: Sequence[int] | None = None) -> Iterator[tuple[Checkpoint, Any]]:
        """Yield (checkpoint, bridge), one model alive at a time (each freed before the next load)."""
        # The ~450k objects of torch/transformers/TransformerLens imports are moved out of the collector's
        # view for the sweep (gc.freeze): otherwise every automatic full collection traverses them (~0.8 s),
        # and a longer series pays for more of them. Models are freed by reference counting anyway.
        gc.freeze()
        try:
            for i in range(len(self.checkpoints)) if indices is None else indices:
                c = self.checkpoints[i]
                bridge = load_checkpoint(c, device=device)
                yield c, bridge
                del bridge  # the caller dropped its reference: freed (refcount) before the next load
                gc.collect(1)  # young cycles only
        finally:
            gc.unfreeze()

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "kind": self.kind, "checkpoints": [c.to_dict() for c in self.checkpoints]}
        return out if self.boundary is None else {**out, "boundary": self.boundary}


# ----------------------------------------------------------------------------- loading
def _boot(model: Any, tok: Any, name: str, device: str) -> Any:
    from transformer_lens import TransformerBridge

    model.to(device).eval()
    try:
        bridge = TransformerBridge.boot_transformers(name, hf_model=model, tokenizer=tok, device=device)
    except Exception as e:  # noqa: BLE001 — unsupported architecture
        raise UserError(f"TransformerLens cannot hook {name!r}: {type(e).__name__}: {str(e)[:160]}") from None
    bridge.eval()
    return bridge


def _from_pretrained(what: str, repo: str, revision: str) -> Any:
    """`AutoTokenizer` / `AutoModelForCausalLM.from_pretrained(repo, revision=...)` (tests stub this)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if what == "tokenizer":
        return AutoTokenizer.from_pretrained(repo, revision=revision)
    return AutoModelForCausalLM.from_pretrained(repo, revision=revision, dtype=torch.float32, use_safetensors=True)


def load_checkpoint(c: Checkpoint, device: str = "cpu") -> Any:
    """A `TransformerBridge` for one checkpoint of a series (remembering `ref` or `ref@revision`)."""
    from interp import hooked
    from interp.model_ref import remember

    if c.revision is not None:
        name = f"{c.ref}@{c.revision}"
        if not hooked.hub_reachable():
            raise hooked.hub_error(name, ConnectionError("hub unreachable"))
        try:
            tok, model = _from_pretrained("tokenizer", c.ref, c.revision), _from_pretrained("model", c.ref, c.revision)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 — offline, gated, no such revision: user-fixable
            raise hooked.hub_error(name, e) from None
        return remember(_boot(model, tok, c.ref, device), name)
    if c.tokenizer is None:
        return hooked.load(c.ref, device=device)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_weights_dir(Path(c.ref))
    try:
        tok = AutoTokenizer.from_pretrained(c.tokenizer, local_files_only=True)
    except Exception as e:  # noqa: BLE001
        raise UserError(f"{c.tokenizer} has no usable tokenizer ({type(e).__name__}); pass --tokenizer DIR") from None
    from interp.load_checks import check_loaded

    model, info = AutoModelForCausalLM.from_pretrained(c.ref, dtype=torch.float32, use_safetensors=True,
                                                       local_files_only=True, output_loading_info=True)
    check_loaded(model, tok, info, str(c.ref))
    return remember(_boot(model, tok, c.ref, device), c.ref)


# ----------------------------------------------------------------------------- metadata helpers
def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def _state(d: Path) -> dict[str, Any]:
    """step / tokens_seen / epoch from an interp or HF Trainer trainer_state.json (both use that name)."""
    s = _read_json(d / "trainer_state.json") or {}
    if "global_step" in s:  # HF Trainer
        tokens = s.get("num_input_tokens_seen") or None
        if not tokens:
            for rec in s.get("log_history", []):
                if rec.get("step") == s["global_step"] and rec.get("num_input_tokens_seen"):
                    tokens = rec["num_input_tokens_seen"]
        return {"step": int(s["global_step"]), "tokens_seen": int(tokens) if tokens else None,
                "epoch": float(s["epoch"]) if s.get("epoch") is not None else None}
    if "step" in s:  # interp (epoch_progress = step / steps per epoch, written by the trainer since --save-at)
        ep = s.get("epoch_progress", s.get("epoch"))
        return {"step": int(s["step"]) if s["step"] is not None else None, "tokens_seen": s.get("tokens_seen"),
                "epoch": float(ep) if ep is not None else None}
    return {}


def _arch(d: Path) -> tuple[Any, ...] | None:
    c = _read_json(d / "config.json")
    if c is None:
        return None
    get = lambda *ks: next((c[k] for k in ks if k in c), None)  # noqa: E731
    return (c.get("model_type"), get("n_layer", "num_hidden_layers"), get("n_head", "num_attention_heads"),
            get("n_embd", "hidden_size"), get("vocab_size"))


def _describe(a: tuple[Any, ...]) -> str:
    return f"{a[0]} {a[1]} layers × {a[2]} heads, d_model {a[3]}, vocab {a[4]}"


def check_same_architecture(cks: Sequence[Checkpoint]) -> None:
    """Compare every local checkpoint's config.json with the first; name the odd one."""
    first: tuple[Checkpoint, tuple[Any, ...]] | None = None
    for c in cks:
        if c.revision is not None:
            continue
        a = _arch(Path(c.ref))
        if a is None:
            raise UserError(f"checkpoint {c.label!r} ({c.ref}) has no readable config.json; is it complete?")
        if first is None:
            first = (c, a)
        elif a != first[1]:
            raise UserError(f"checkpoint {c.label!r} is {_describe(a)} but {first[0].label!r} is {_describe(first[1])}; "
                            "a series must share one architecture and vocabulary — remove the odd one")


def _has_tokenizer(d: Path) -> bool:
    return any((d / f).exists() for f in TOKENIZER_FILES)


def _complete(d: Path) -> bool:
    return d.is_dir() and (d / "config.json").exists() and (any(d.glob("*.safetensors")) or any(d.glob("*.bin")))


def _check_weights_dir(d: Path) -> None:
    """Safetensors weights, complete (interp.hooked's checks, minus its tokenizer check: ours comes from elsewhere)."""
    from interp import hooked

    weights = list(d.glob("*.safetensors"))
    if not weights:
        hooked._check_local_dir(d)  # the existing pickle / missing-weights error
    for f in weights:
        hooked._check_safetensors(f)


def _check_weights(cks: Sequence[Checkpoint]) -> None:
    for c in cks:
        d = Path(c.ref)
        if not any(d.glob("*.safetensors")):
            _check_weights_dir(d)


def _number(name: str) -> int | None:
    m = re.findall(r"\d+", name)
    return int(m[-1]) if m else None


# ----------------------------------------------------------------------------- builders
def from_run_dir(run: Path) -> CheckpointSeries:
    """epoch-NNN and step-NNNNNN checkpoints of an interp run, ordered by step (an epoch dir wins a tie).
    A fine-tune (run.json `parent`) is read with its parent: parent checkpoints up to the one it started from,
    then its own with step/tokens counted on from there; `boundary` marks where fine-tuning starts."""
    child = _own_run_series(run)
    parent = (_read_json(run / "run.json") or {}).get("parent")
    return child if not parent else _with_parent(child, parent)


def _with_parent(child: CheckpointSeries, parent: dict[str, Any]) -> CheckpointSeries:
    p_step, p_tok = parent.get("step") or 0, parent.get("tokens_seen") or 0
    pre: list[Checkpoint] = []
    curve: list[dict[str, Any]] = []
    if parent.get("run") and Path(parent["run"]).is_dir():
        ps = from_run_dir(Path(parent["run"]))
        pre = [c for c in ps.checkpoints if c.step is None or c.step <= p_step]
        curve = [r for r in ps.loss_curve if r.get("step") is None or r["step"] <= p_step]
    if not pre or pre[-1].step != p_step:  # the exact start (e.g. checkpoints/best, or a foreign HF dir)
        pre.append(Checkpoint(label="parent", ref=parent["dir"], step=p_step, tokens_seen=p_tok))
    post = [replace(c, label=f"ft/{c.label}", step=None if c.step is None else c.step + p_step, epoch=None,
                    tokens_seen=None if c.tokens_seen is None else c.tokens_seen + p_tok) for c in child.checkpoints]
    curve += [{**r, "epoch": None, "step": r["step"] + p_step,
               "tokens": None if r.get("tokens") is None else r["tokens"] + p_tok} for r in child.loss_curve]
    check_same_architecture([*pre, *post])
    boundary = {"label": "fine-tune starts", "step": p_step, "tokens": p_tok, "checkpoint": len(pre) - 0.5,
                "parent": parent.get("ref")}
    return CheckpointSeries(child.source, "run", tuple(pre + post), tuple(curve), boundary)


def _own_run_series(run: Path) -> CheckpointSeries:
    root = run / "checkpoints"
    found = [d for d in sorted(root.iterdir()) if re.fullmatch(r"(epoch|step)-\d+", d.name) and _complete(d)] \
        if root.is_dir() else []
    metrics = _metrics(run)
    epoch_of_step = {int(r["step"]): float(r["epoch"]) for r in metrics if "step" in r and r.get("epoch") is not None}
    cks = []
    for d in found:
        kind, num = d.name.split("-")
        st = _state(d)
        step = st.get("step", int(num) if kind == "step" else None)
        if kind == "epoch":
            epoch: float | None = float(num)
        elif "epoch_progress" in (_read_json(d / "trainer_state.json") or {}):
            epoch = st.get("epoch")  # the trainer's step / steps per epoch
        else:
            epoch = epoch_of_step.get(step) if step is not None else None
        cks.append(Checkpoint(label=d.name, ref=str(d), step=step, tokens_seen=st.get("tokens_seen"), epoch=epoch))
    if any(c.step is None for c in cks):
        if any(c.label.startswith("step-") for c in cks):
            bad = next(c for c in cks if c.step is None)
            raise UserError(f"{bad.ref} has no trainer_state.json, so it cannot be ordered among the step checkpoints")
        cks.sort(key=lambda c: c.epoch or 0)
    else:
        cks.sort(key=lambda c: (c.step, not c.label.startswith("epoch-")))
        cks = [c for i, c in enumerate(cks) if i == 0 or c.step != cks[i - 1].step]  # same weights: keep the epoch one
    if not cks:
        raise UserError(f"{str(run)!r} has no checkpoints (checkpoints/epoch-NNN/ or step-NNNNNN/ with config.json + "
                        "model.safetensors); train one with `interp train`")
    _check_weights(cks)
    check_same_architecture(cks)
    per_step = next((c.tokens_seen / c.step for c in cks if c.tokens_seen and c.step), None)
    curve = tuple({"step": int(r["step"]), "epoch": r.get("epoch"),
                   "tokens": int(round(r["step"] * per_step)) if per_step else None,
                   "train_loss": r.get("train_loss"), "val_loss": r.get("val_loss")} for r in metrics if "step" in r)
    return CheckpointSeries(str(run), "run", tuple(cks), curve)


def _metrics(run: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except ValueError:
            continue  # a line cut by a kill
    return out


def from_trainer_dir(folder: Path, tokenizer: str | None = None) -> CheckpointSeries:
    """HF Trainer output: `checkpoint-N/` dirs, step N; epoch / tokens and the loss curve from trainer_state.json."""
    dirs = sorted((d for d in folder.iterdir() if re.fullmatch(r"checkpoint-\d+", d.name) and d.is_dir()),
                  key=lambda d: int(d.name.split("-")[1]))
    cks = []
    for d in dirs:
        st = _state(d)
        tok = None
        if not _has_tokenizer(d):
            tok = tokenizer or (str(folder) if _has_tokenizer(folder) else None)
            if tok is None:
                raise UserError(f"{d} has no tokenizer files and neither has {folder}; pass --tokenizer DIR")
        cks.append(Checkpoint(label=d.name, ref=str(d), step=int(d.name.split("-")[1]),
                              tokens_seen=st.get("tokens_seen"), epoch=st.get("epoch"), tokenizer=tok))
    _check_weights(cks)
    check_same_architecture(cks)
    curve: tuple[dict[str, Any], ...] = ()
    if dirs:
        hist = (_read_json(dirs[-1] / "trainer_state.json") or {}).get("log_history", [])
        curve = tuple({"step": r.get("step"), "epoch": r.get("epoch"), "tokens": r.get("num_input_tokens_seen"),
                       "train_loss": r.get("loss"), "val_loss": r.get("eval_loss")}
                      for r in hist if "step" in r and ("loss" in r or "eval_loss" in r))
    return CheckpointSeries(str(folder), "trainer", tuple(cks), curve)


def from_dirs(dirs: Sequence[str | Path], source: str, ordered: bool = False,
              tokenizer: str | None = None) -> CheckpointSeries:
    """Model dirs as given (`ordered=False`) or ordered by the last number in their names."""
    paths = [Path(d).expanduser() for d in dirs]
    for p in paths:
        if not p.is_dir() or not (p / "config.json").exists():
            raise UserError(f"{str(p)!r} is not a model directory (no config.json); pass HF model dirs")
    if ordered:
        for p in paths:
            if _number(p.name) is None:
                raise UserError(f"{p.name!r} in {source!r} has no number in its name to order it by; rename it or "
                                "list the dirs explicitly")
        paths.sort(key=lambda p: _number(p.name))
    names = [p.name for p in paths]
    cks = []
    for p in paths:
        st = _state(p)
        step = st.get("step", _number(p.name))
        tok = None if _has_tokenizer(p) else tokenizer
        cks.append(Checkpoint(label=p.name if names.count(p.name) == 1 else str(p), ref=str(p), step=step,
                              tokens_seen=st.get("tokens_seen"), epoch=st.get("epoch"), tokenizer=tok))
    _check_weights(cks)
    check_same_architecture(cks)
    return CheckpointSeries(source, "dirs" if ordered else "list", tuple(cks))


def from_nanogpt(paths: Sequence[Path], source: str, meta: str | None = None,
                 tokenizer: str | None = None) -> CheckpointSeries:
    """nanoGPT checkpoint files, each imported once into a cached HF dir (keyed by file hash), ordered by iter_num."""
    from interp.importers import nanogpt

    cks = []
    for p in paths:
        d, info = nanogpt.import_cached(p, meta=meta, tokenizer=tokenizer)
        cks.append(Checkpoint(label=p.stem, ref=str(d), step=info.get("iter_num"), tokens_seen=info.get("tokens_seen")))
    cks.sort(key=lambda c: (c.step is None, c.step or 0))
    check_same_architecture(cks)
    return CheckpointSeries(source, "nanogpt", tuple(cks))


# ----------------------------------------------------------------------------- dispatch
def as_series(spec: Any, *, tokenizer: str | None = None, meta: str | None = None) -> CheckpointSeries:
    """Any series source (see the module docstring) -> a `CheckpointSeries`; a list of >1 item = explicit dirs."""
    if isinstance(spec, CheckpointSeries):
        return spec
    if tokenizer is not None:
        t = Path(tokenizer).expanduser()
        if not t.is_dir():
            raise UserError(f"--tokenizer {str(tokenizer)!r} is not a directory; pass a dir with tokenizer files")
        if not _has_tokenizer(t):
            raise UserError(f"--tokenizer {str(tokenizer)!r} has no tokenizer files ({', '.join(TOKENIZER_FILES)})")
    if isinstance(spec, (list, tuple)):
        if len(spec) == 1:
            return as_series(spec[0], tokenizer=tokenizer, meta=meta)
        return from_dirs([str(s) for s in spec], source=",".join(map(str, spec)), tokenizer=tokenizer)
    text = str(spec)
    p = Path(text).expanduser()
    if not p.exists() and "@" in text:
        from interp.series_hub import hub_checkpoints

        return CheckpointSeries(text, "hub", tuple(Checkpoint(**c) for c in hub_checkpoints(text)))
    if not p.exists():
        raise UserError(f"{text!r} does not exist; pass a run dir, a folder of checkpoints, model dirs, "
                        "a nanoGPT ckpt.pt or org/name@rev1,rev2")
    if p.is_file():
        if p.suffix == ".pt":
            return from_nanogpt([p], text, meta=meta, tokenizer=tokenizer)
        raise UserError(f"{text!r} is a file; pass a run dir, a folder of checkpoints or a nanoGPT .pt file")
    if (p / "run.json").exists() or (p / "checkpoints").is_dir():
        return from_run_dir(p)
    subs = [d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if any(re.fullmatch(r"checkpoint-\d+", d.name) for d in subs):
        return from_trainer_dir(p, tokenizer=tokenizer)
    pts = sorted(p.glob("*.pt"))
    if pts:
        return from_nanogpt(pts, text, meta=meta, tokenizer=tokenizer)
    models = [d for d in subs if (d / "config.json").exists()]
    if models:
        return from_dirs(models, source=text, ordered=True, tokenizer=tokenizer)
    if (p / "config.json").exists():
        return from_dirs([p], source=text, tokenizer=tokenizer)
    raise UserError(f"{text!r} has no checkpoints (no run checkpoints, checkpoint-N/, *.pt or model dirs)")


def from_pairs_label(epoch: int) -> Checkpoint:
    """The entry for a legacy (epoch, bridge) pair: epoch known, nothing else."""
    return Checkpoint(label=f"epoch {epoch}", ref="", epoch=float(epoch))


__all__ = ["Checkpoint", "CheckpointSeries", "as_series", "from_run_dir", "from_trainer_dir", "from_dirs",
           "from_nanogpt", "load_checkpoint",
           "check_same_architecture", "replace"]
