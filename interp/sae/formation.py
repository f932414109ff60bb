"""`sae_formation`: when do features form during training? One SAE per checkpoint of a series, each
warm-started from the previous checkpoint's SAE (default; or, with `warm_start=False`, each trained from scratch
with the same seed — the checkpoints are then independent and shard over torchrun ranks like head-formation:
`torchrun --nproc_per_node=N -m interp.cli sae formation RUN --independent`, byte-identical results);
latents matched between neighbouring checkpoints by decoder
cosine with an optimal one-to-one assignment (scipy.optimize.linear_sum_assignment, maximising total
cosine). A final latent's lineage is followed back through the matches; its BIRTH is the first checkpoint from
which every match along the lineage has cosine ≥ threshold (0.7) up to the final checkpoint.

Reported: births per checkpoint (and the cumulative fraction of final latents born), the matched-cosine
distribution per neighbour pair, the run's loss curve (from the series) for the figure beside it, and the
held-out contexts of the earliest- and latest-born features (interp.sae.browse on the final checkpoint).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.errors import UserError
from interp.results import FrozenResult


@dataclass(frozen=True)
class FormationConfig:
    hook: str = "blocks.0.hook_resid_post"
    expansion: int = 8
    k: int = 32
    tokens: int = 200_000  # per checkpoint
    context: int = 128
    batch_size: int = 8
    threshold: float = 0.7
    n_show: int = 4  # earliest- and latest-born features shown with contexts
    seed: int = 0
    warm_start: bool = True  # False: every checkpoint's SAE from scratch (shards over torchrun ranks)

    def __post_init__(self) -> None:
        from interp.sae.train import SAETrainConfig

        SAETrainConfig(hook=self.hook, expansion=self.expansion, k=self.k, tokens=self.tokens, context=self.context,
                       batch_size=self.batch_size, seed=self.seed)
        if not 0 < self.threshold < 1:
            raise UserError(f"--threshold must be in (0, 1), got {self.threshold!r}")


@dataclass(frozen=True)
class FormationResult(FrozenResult):
    kind: str = "sae_formation"
    source: str = ""
    hook: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0
    checkpoints: tuple = ()  # {label, step, tokens_seen, epoch, train_fvu, sae}
    x: str = "checkpoint"
    num_latents: int = 0
    matched_cosine: tuple = ()  # per neighbour pair: {median, p10, p90, frac_above}
    births: tuple = ()  # birth checkpoint index per final latent (-1: not stable even at the last pair)
    born_per_checkpoint: tuple = ()
    loss_curve: tuple = ()  # (step, train_loss) of the run
    earliest: tuple = ()  # browse records of the earliest-born latents
    latest: tuple = ()


def match(w_a: torch.Tensor, w_b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of decoder rows (n, d) of A to B: (perm, cos) with B[perm[i]] ↔ A[i]."""
    from scipy.optimize import linear_sum_assignment

    a = torch.nn.functional.normalize(w_a.float(), dim=1)
    b = torch.nn.functional.normalize(w_b.float(), dim=1)
    cos = (a @ b.T).numpy()  # (n, n)
    rows, cols = linear_sum_assignment(cos, maximize=True)
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return perm, cos[np.arange(len(perm)), perm]


def births(decoders: list[torch.Tensor], threshold: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """(birth index per final latent, matched cosines per neighbour pair). A latent born at the last
    checkpoint has birth C−1 (no stable history); matches are followed backwards from the final SAE."""
    c = len(decoders)
    n = decoders[-1].shape[0]
    birth = np.full(n, c - 1, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    lineage = np.arange(n)  # index of each final latent's ancestor at the current checkpoint
    cosines = []
    for i in range(c - 2, -1, -1):
        perm, cos = match(decoders[i + 1], decoders[i])  # latent j of i+1 ↔ perm[j] of i
        cosines.append(cos)
        ok = cos[lineage] >= threshold
        alive &= ok
        birth[alive] = i
        lineage = perm[lineage]
    return birth, cosines[::-1]


def formation(series: Any, config: FormationConfig, *, out_dir: str | Path, corpus: str | None = None,
              device: str = "cpu", progress: bool = False) -> FormationResult:
    """Train the SAEs over a checkpoint series (run dir, folder, list; see interp.series) and date the features."""
    from interp.sae.browse import BrowseConfig, browse_features
    from interp.sae.coder import load_coder
    from interp.sae.data import split_text
    from interp.sae.train import SAETrainConfig, train_sae
    from interp.series import as_series

    s = as_series(series)
    if len(s) < 2:
        raise UserError(f"{s.source!r} has {len(s)} checkpoint(s); formation needs at least 2 checkpoints")
    s.preflight()
    x = s.default_x()
    out = Path(out_dir)
    cfg = SAETrainConfig(hook=config.hook, expansion=config.expansion, k=config.k, tokens=config.tokens,
                         context=config.context, batch_size=config.batch_size, seed=config.seed)
    from interp.attention.evolution import _gather, _world

    rank, world = _world()
    if world > 1 and config.warm_start:
        raise UserError("warm-started SAEs chain the checkpoints (each starts from the previous one's), so they "
                        "cannot be split over torchrun ranks; pass --independent to train each from scratch")
    idx = s.shard(rank, world) if world > 1 else list(range(len(s)))
    part: dict[int, dict] | str = {}
    prev, last_bridge = None, None
    try:
        for i, (c, bridge) in zip(idx, s.iter_models(device=device, indices=idx), strict=True):
            text = split_text(c.ref, corpus, "train")
            r = train_sae(bridge, cfg, text=text, out_dir=out / c.label, init=prev if config.warm_start else None,
                          progress=progress, device=device)
            part[i] = {"label": c.label, "step": c.step, "tokens_seen": c.tokens_seen,  # type: ignore[index]
                       "epoch": c.epoch, "train_fvu": r.final_fvu, "sae": r.sae}
            prev = r.sae
            if i == len(s) - 1:
                last_bridge = bridge  # kept for the final browse
    except UserError as e:
        if world == 1:
            raise
        part = str(e)
    merged: dict[int, dict] = {}
    for p in _gather(part, world):  # type: ignore[arg-type]
        if isinstance(p, str):
            raise UserError(p)
        merged.update(p)
    rows = [merged[i] for i in range(len(s))]
    decoders = [load_coder(r["sae"])[0].W_dec.detach().clone() for r in rows]  # the SAE dirs every rank wrote
    prev = rows[-1]["sae"]
    if last_bridge is None:  # another rank trained the last checkpoint
        last_bridge = next(iter(s.iter_models(device=device, indices=[len(s) - 1])))[1]
    last = (s.checkpoints[-1], last_bridge)
    birth, cosines = births(decoders, config.threshold)
    order = np.argsort(birth, kind="stable")
    earliest = [int(i) for i in order[:config.n_show]]
    latest = [int(i) for i in order[::-1][:config.n_show]]
    c, bridge = last
    text = split_text(c.ref, corpus, "val")
    shown = browse_features(bridge, prev, text=text, device=device,
                            config=BrowseConfig(latents=tuple(sorted(set(earliest + latest))), seed=config.seed))
    by_id = {f["id"]: f for f in shown.latents}
    curve = [(m.get("step"), m.get("train_loss")) for m in s.loss_curve if m.get("train_loss") is not None]
    return FormationResult(
        source=s.source, hook=cfg.hook, config=asdict(config), seed=config.seed, checkpoints=tuple(rows), x=x,
        num_latents=int(decoders[-1].shape[0]),
        matched_cosine=tuple({"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
                              "p90": float(np.percentile(v, 90)), "frac_above": float((v >= config.threshold).mean())}
                             for v in cosines),
        births=tuple(int(b) for b in birth),
        born_per_checkpoint=tuple(int((birth == i).sum()) for i in range(len(rows))),
        loss_curve=tuple(curve), earliest=tuple(by_id[i] | {"birth": int(birth[i])} for i in earliest),
        latest=tuple(by_id[i] | {"birth": int(birth[i])} for i in latest))
