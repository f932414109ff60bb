"""`lens_series(series, prompt=..., answer=...)`: per checkpoint, the first layer whose logit lens puts the answer
top-1 at the last position (None: no layer does), and the answer's probability at every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult


@dataclass(frozen=True)
class LensSeriesResult(FrozenResult):
    kind: str = "lens_series"
    series: dict = field(default_factory=dict)
    seed: int = 0
    config: dict = field(default_factory=dict)
    x_name: str = "checkpoint"
    x: tuple = ()
    labels: tuple[str, ...] = ()
    top1_layer: tuple = ()  # per checkpoint
    answer_prob: tuple = ()  # per checkpoint × layer (last position)
    n_layers: int = 0


def lens_series(series: Any, *, prompt: str, answer: str, x: str | None = None, seed: int = 0,
                device: str = "cpu") -> LensSeriesResult:
    """Logit lens on every checkpoint of `series` (anything `interp.series.as_series` reads): the first layer
    whose lens puts `answer` top-1 at the last position of `prompt`, and P(answer) per layer."""
    import torch

    from interp.lens import core
    from interp.lens.api import LensConfig
    from interp.series import as_series
    from interp.tokens import encode, single_token

    LensConfig(prompt=prompt, answer=answer, seed=seed)
    s = as_series(series)
    s.preflight()
    x_name = s.check_x(x)
    top1, probs, xs, labels, n_layers = [], [], [], [], 0
    for i, (c, bridge) in enumerate(s.iter_models(device)):
        ids = encode(bridge.tokenizer, prompt)
        aid = single_token(bridge.tokenizer, answer, after=prompt, what="answer")
        if n_layers and int(bridge.cfg.n_layers) != n_layers:
            raise UserError(f"checkpoint {c.label!r} has {bridge.cfg.n_layers} layers, the first had {n_layers}")
        n_layers = int(bridge.cfg.n_layers)
        with torch.no_grad():
            lg = core.lens_logits(bridge, core.resid_posts(bridge, torch.tensor([ids])))[:, 0, -1].float()  # (L, V)
        rank = (lg > lg[:, aid:aid + 1]).sum(-1)
        top1.append(next((j for j in range(n_layers) if int(rank[j]) == 0), None))
        probs.append(torch.softmax(lg, -1)[:, aid].tolist())
        xs.append(i if x_name == "checkpoint" else s.value(c, x_name))
        labels.append(c.label)
    return LensSeriesResult(series=s.to_dict(), seed=seed, config={"prompt": prompt, "answer": answer}, x_name=x_name,
                            x=tuple(xs), labels=tuple(labels), top1_layer=tuple(top1), answer_prob=tuple(probs),
                            n_layers=n_layers)
