"""`train_sae`: a TopK SAE / transcoder on activations streamed from a model, with eai-sparsify's
`SparseCoder` (encode/decode/FVU/AuxK loss), in the same step order as `sparsify.Trainer`. Optimizer: Adam
at sparsify's Adam lr 2e-4/sqrt(latents/2^14) with dead latents resampled every 50 steps
(interp/sae/resample.py) by default; `optimizer="signum"` is sparsify's default (SignSGD in a schedule-free
wrapper, lr 5e-3/sqrt(latents/2^14)), which left 36% of latents dead (docs/features.md, levers benchmark).

Why not `sparsify.Trainer.fit` itself: it prints to stdout (breaks `--json`), has no tokens/s or FVU in its
progress bar, writes checkpoints non-atomically with pickled optimizer state under `save_dir/run_name`,
initialises from `model.dummy_inputs` and needs a `datasets.Dataset` with `.select` to resume. The loop here
is the same computation (benchmarks/sae.py compares its tokens/s with the Trainer's on the same tokens).

Streaming: each step captures one batch of activations (B, T, d) at the hook (the forward pass stops
there) and trains on it; only one batch is ever in memory. Resumable: every `save_every` steps the
coder, optimizer and dead-latent counters go to OUT/train_state/ (safetensors + torch.save loaded with
weights_only=True); `resume=True` continues from there and gives the same final weights as an
uninterrupted run (same seed, same batch order).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp.errors import UserError
from interp.results import FrozenResult
from interp.sae import coder as C
from interp.sae.data import Text, split_text, windows
from interp.sae.hooks import capture, parse_hook, site_module

STATE = "train_state"


@dataclass(frozen=True)
class SAETrainConfig:
    """What to train. Validated on construction (UserError); k < latents is checked against the model."""

    hook: str = "blocks.0.hook_resid_post"
    expansion: int = 8
    k: int = 32
    tokens: int = 1_000_000
    context: int = 128
    batch_size: int = 8  # sequences per step
    lr: float | None = None  # None: sparsify's defaults, adam 2e-4 (signum 5e-3) / sqrt(latents / 2^14)
    auxk_alpha: float = 1 / 32
    dead_tokens: int = 10_000  # a latent silent this many tokens counts as dead (AuxK revives it)
    # adam + resampling every 50 steps: 6.1% dead vs 36.3% with sparsify's signum (docs/features.md)
    optimizer: str = "adam"  # adam (constant lr) | signum (sparsify's default, schedule-free SignSGD)
    resample_every: int = 50  # steps between resamplings of dead latents (interp/sae/resample.py); 0 = off
    save_every: int = 100  # steps between resumable checkpoints
    seed: int = 0

    def __post_init__(self) -> None:
        parse_hook(self.hook)
        if not isinstance(self.expansion, int) or self.expansion <= 0:
            raise UserError(f"--expansion must be a positive integer, got {self.expansion!r}")
        if not isinstance(self.k, int) or self.k < 1:
            raise UserError(f"--k must be >= 1, got {self.k!r}")
        for name in ("tokens", "batch_size", "dead_tokens", "save_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise UserError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.context, int) or self.context < 4:
            raise UserError(f"--context must be >= 4 tokens, got {self.context!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"--lr must be a positive finite number, got {self.lr!r}")
        if self.optimizer not in ("signum", "adam"):
            raise UserError(f"--optimizer must be signum or adam, got {self.optimizer!r}")
        if not isinstance(self.resample_every, int) or self.resample_every < 0:
            raise UserError(f"--resample-every must be an integer >= 0 (0 = off), got {self.resample_every!r}")
        if not (math.isfinite(self.auxk_alpha) and self.auxk_alpha >= 0):
            raise UserError(f"auxk_alpha must be >= 0, got {self.auxk_alpha!r}")


@dataclass(frozen=True)
class SAETrainResult(FrozenResult):
    kind: str = "sae_train"
    model: str = ""
    hook: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    source: str = ""
    d_in: int = 0
    num_latents: int = 0
    n_tokens: int = 0  # trained (BOS positions excluded)
    steps: int = 0
    epochs: float = 0.0  # passes over the training windows
    curve: tuple = ()  # (tokens, fvu) per logged step (mean FVU since the previous point)
    final_fvu: float = 0.0  # mean training FVU over the last 10% of steps
    dead_fraction: float = 0.0  # latents silent for the last `dead_tokens` training tokens
    resampled: tuple = ()  # (step, n latents resampled) per resample step
    sae: str = ""  # the SAE directory


def model_info(bridge: Any) -> dict[str, int]:
    return {"n_layers": int(bridge.cfg.n_layers), "d_model": int(bridge.cfg.d_model)}


def default_out(model_ref: str, hook: str, expansion: int, k: int) -> Path:
    """OUT beside the model reference: REF/sae/<hook>-x<expansion>-k<k> for a local dir, else ./sae/..."""
    tag = f"{hook.replace(':', '-')}-x{expansion}-k{k}"
    p = Path(model_ref).expanduser()
    return (p / "sae" / tag) if p.is_dir() else Path("sae") / p.name / tag


def _optimizer(coder: Any, lr: float, kind: str = "signum") -> Any:
    """signum: sparsify's default (SignSGD in a schedule-free wrapper: the weights used are the uniform
    average of the iterates). adam: torch Adam at a constant lr (no averaging)."""
    if kind == "adam":
        return torch.optim.Adam(coder.parameters(), lr=lr)
    from schedulefree import ScheduleFreeWrapper
    from sparsify.sign_sgd import SignSGD

    opt = ScheduleFreeWrapper(SignSGD([{"params": coder.parameters(), "lr": lr}]), momentum=0.95)
    opt.train()
    return opt


def _order(n_windows: int, step: int, batch: int, seed: int) -> torch.Tensor:
    """Window indices of a step: epoch e is a seeded permutation of the windows (batches never straddle)."""
    per_epoch = max(1, n_windows // batch)
    epoch, i = divmod(step, per_epoch)
    perm = torch.randperm(n_windows, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return perm[i * batch:(i + 1) * batch]


def _save_state(out: Path, coder: Any, opt: Any, step: int, since: torch.Tensor, curve: list, cfg: dict) -> None:
    """curve: [curve, fvus, fvu_sum, fvu_n, resampled] (the logging state, restored exactly)."""
    import io

    from safetensors.torch import save

    from interp.atomic import atomic_write_bytes, atomic_write_text

    d = out / STATE
    atomic_write_bytes(d / "coder.safetensors", save({**{k: v.detach().clone() for k, v in
                                                         coder.state_dict().items()}, "since_fired": since}))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    atomic_write_bytes(d / "optimizer.pt", buf.getvalue())
    atomic_write_text(d / "state.json", json.dumps({"step": step, "curve": curve, "config": cfg}) + "\n")


def _load_state(out: Path, coder: Any, opt: Any, cfg: dict) -> tuple[int, torch.Tensor, list]:
    from safetensors.torch import load_file

    d = out / STATE
    try:
        st = json.loads((d / "state.json").read_text())
        tensors = load_file(str(d / "coder.safetensors"))
        opt_state = torch.load(d / "optimizer.pt", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any damage to the state is the same user-facing problem
        raise UserError(f"cannot resume from {d}: {type(e).__name__}; delete it to start over") from None
    if st.get("config") != cfg:
        raise UserError(f"{d} was written by a different configuration; use another --out or drop --resume")
    since = tensors.pop("since_fired")
    coder.load_state_dict(tensors)
    opt.load_state_dict(opt_state)
    return int(st["step"]), since, list(st["curve"])


def train_sae(model: Any, config: SAETrainConfig, *, corpus: str | None = None, text: Text | None = None,
              out_dir: str | Path | None = None, resume: bool = False, init: str | Path | None = None,
              progress: bool = False, device: str = "cpu") -> SAETrainResult:
    """Train a TopK SAE (or transcoder) at `config.hook` of `model` (ref or TransformerBridge) on the train
    split (`text`, else the run's/corpus's train split); write OUT/sae.safetensors + sae.json.

    init: an SAE directory to warm-start from (same hook and shape). Returns the training summary."""
    from interp.sae.data import model_and_name

    name, bridge = model_and_name(model, device)
    info = model_info(bridge)
    spec = parse_hook(config.hook, info["n_layers"])
    hf = bridge.original_model
    site_module(hf, spec)
    d_in = info["d_model"]
    n_latents = C.check_shape(d_in, config.expansion, config.k)
    out = Path(out_dir) if out_dir is not None else default_out(name, spec.name, config.expansion, config.k)
    cfg = asdict(config)
    if resume and not (out / STATE / "state.json").is_file():
        raise UserError(f"nothing to resume in {out} (no {STATE}/state.json); run without --resume")
    text = text or split_text(name, corpus, "train")
    ctx = min(config.context, int(bridge.cfg.n_ctx))
    wins = windows(bridge.tokenizer, text, ctx, config.tokens + config.tokens // max(1, ctx - 1) + ctx)
    n_win, t = wins.shape
    per_step = config.batch_size * (t - 1)
    if n_win < config.batch_size:
        raise UserError(f"the training text gives {n_win} windows of {t} tokens, fewer than one batch of "
                        f"{config.batch_size}; give more text or a smaller --batch-size")
    steps = max(1, math.ceil(config.tokens / per_step))

    coder = C.new_coder(d_in, config.expansion, config.k, spec.transcode, config.seed)
    warm = False
    if init is not None:
        src, _ = C.load_coder(init, info)
        if src.num_latents != n_latents or src.cfg.transcode != spec.transcode:
            raise UserError(f"--init {init}: its shape/kind does not match {spec.name} × {config.expansion}")
        coder.load_state_dict(src.state_dict())
        warm = True
    lr = config.lr or (2e-4 if config.optimizer == "adam" else 5e-3) / (n_latents / 2 ** 14) ** 0.5
    opt = _optimizer(coder, lr, config.optimizer)
    since = torch.zeros(n_latents, dtype=torch.long)
    curve: Any = []
    start = 0
    if resume:
        start, since, curve = _load_state(out, coder, opt, cfg)
        warm = True
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    bar = tqdm(total=steps, initial=start, desc=f"sae {spec.name}", file=sys.stderr, disable=not progress,
               mininterval=0.5 if tty else 30, unit="step")
    fvus: list[float] = []
    fvu_sum, fvu_n, t0, done_tokens = 0.0, 0, time.perf_counter(), 0
    resampled: list = []
    if resume:
        curve, fvus, fvu_sum, fvu_n, resampled = curve
    log_every = max(1, steps // 50)
    hf.requires_grad_(False)
    for step in range(start, steps):
        ids = wins[_order(n_win, step, config.batch_size, config.seed)].to(device)
        x, y = capture(hf, spec, ids)  # (B, T, d)
        x, y = x[:, 1:].reshape(-1, d_in).float(), y[:, 1:].reshape(-1, d_in).float()  # BOS dropped
        if step == 0 and not warm:  # sparsify.Trainer's initialisation from the first batch
            if spec.transcode:
                coder.encoder.bias.data = -x.mean(0) @ coder.encoder.weight.data.T
            coder.b_dec.data = y.mean(0)
        if not spec.transcode:
            coder.set_decoder_norm_to_unit_norm()
        dead = since > config.dead_tokens if config.auxk_alpha > 0 else None
        res = coder(x, y if spec.transcode else None, dead_mask=dead)
        (res.fvu + config.auxk_alpha * res.auxk_loss).backward()
        if not spec.transcode:
            coder.remove_gradient_parallel_to_decoder_directions()
        opt.step()
        opt.zero_grad()
        fired = torch.zeros(n_latents, dtype=torch.bool)
        fired[res.latent_indices.flatten()] = True
        since += x.shape[0]
        since[fired] = 0
        if _resample_now(config, step, steps):
            from interp.sae.resample import resample_dead

            idx = resample_dead(coder, opt, since > config.dead_tokens, x, y if spec.transcode else None,
                                seed=config.seed, step=step + 1)
            since[idx] = 0
            resampled.append([step + 1, int(idx.numel())])
        f = float(res.fvu.detach())
        fvus.append(f)
        fvu_sum, fvu_n, done_tokens = fvu_sum + f, fvu_n + 1, done_tokens + x.shape[0]
        if (step + 1) % log_every == 0 or step + 1 == steps:
            curve.append([(step + 1) * per_step, fvu_sum / fvu_n])
            fvu_sum, fvu_n = 0.0, 0
        dt = time.perf_counter() - t0
        bar.set_postfix_str(f"{done_tokens / max(dt, 1e-9):,.0f} tok/s, fvu {f:.3f}", refresh=False)
        bar.update()
        if (step + 1) % config.save_every == 0 and step + 1 < steps:
            _save_state(out, coder, opt, step + 1, since, [curve, fvus, fvu_sum, fvu_n, resampled], cfg)
    bar.close()
    if hasattr(opt, "eval"):
        opt.eval()  # schedule-free: the averaged weights are the ones to use
    tail = fvus[-max(1, len(fvus) // 10):] or [float("nan")]
    meta = {"hook": spec.name, "model": name, "tokens": steps * per_step, "seed": config.seed,
            "source": text.source, "library": f"eai-sparsify {C.sparsify().__version__}"}
    C.save_coder(coder, out, meta)
    return SAETrainResult(model=name, hook=spec.name, config=cfg, seed=config.seed, source=text.source,
                          d_in=d_in, num_latents=n_latents, n_tokens=steps * per_step, steps=steps,
                          epochs=steps * config.batch_size / n_win, curve=tuple(map(tuple, curve)),
                          final_fvu=sum(tail) / len(tail),
                          dead_fraction=float((since > config.dead_tokens).float().mean()), sae=str(out),
                          resampled=tuple(map(tuple, resampled)))


def _resample_now(config: SAETrainConfig, step: int, steps: int) -> bool:
    """After step `step` (0-based): every `resample_every` steps, while at least that many steps remain."""
    n = config.resample_every
    return n > 0 and (step + 1) % n == 0 and step + 1 + n <= steps
