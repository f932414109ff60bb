"""`patch(model, clean=..., corrupt=..., metric=...)`: activation patching / attribution patching of prompt pairs.

Pairs. One pair from `clean`/`corrupt` (+ the words of `metric`), or `pairs` = dicts with `clean`, `corrupt`
and optionally `answer`, `wrong` (a JSONL file: `load_pairs`). Texts are tokenized by `interp.tokens.encode`
(BOS first); clean and corrupt must have the same number of tokens (positions must line up for a patch).
Pairs of different lengths are fine: they are run in groups of equal length.

Reported per component: the metric when patched (row mean over pairs), and the FRACTION OF THE GAP RESTORED
= (patched − corrupt) / (clean − corrupt), 0 = the corrupt run, 1 = the clean run, with both baselines. The
same formula serves denoising (base corrupt: how much the clean activation restores) and noising (base
clean: 1 − how much the corrupt activation destroys). Methods: `exact` (interp.patching.core, batched),
`atp`, `atp*` (interp.patching.atp; estimates, cost in passes there). `verify_top=K` re-measures exactly the K
components with the largest estimate score; with `exact` among the methods, Spearman / Pearson of estimate
vs exact over all components and the recall of the exact top-5 in the estimate's top-10 are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.patching.pairs import (  # noqa: F401
    _Encoded,
    _groups,
    as_pairs,
    encode_pairs,
    groups,
    load_pairs,
    resolve_pairs,
)
from interp.patching.schema import (  # noqa: F401
    DIRECTIONS,
    GAP_MIN_REL,
    MAX_PER_PAIR,
    METHODS,
    NamedHeadsResult,
    Pair,
    PatchConfig,
    PatchResult,
    gap_check,
)


def model_and_name(model: Any, device: str) -> tuple[str, Any]:
    """(name, bridge): `interp.hooked.load_model` (one loader, one model name per reference)."""
    from interp import hooked

    bridge, info = hooked.load_model(model, device)
    return info.name, bridge


# ----------------------------------------------------------------------------- the analysis
def patch(model: Any, *, clean: str | None = None, corrupt: str | None = None,
          pairs: Sequence[Pair] | str | Path | None = None, metric: str = "logit-diff",
          components: Sequence[str] = ("heads",), method: str | Sequence[str] = "exact",
          direction: str = "denoise", verify_top: int = 0, top_k: int = 10, seed: int = 0,
          device: str = "cpu", fwd_hooks: Sequence[tuple[str, Callable]] = (), progress: bool = False,
          verify_kinds: Sequence[str] = ()) -> PatchResult:
    """Activation patching (exact, batched) and/or attribution patching (AtP / AtP*) of clean/corrupt pairs.

    model: a model reference (run dir, HF dir, 'gemma-3-270m', hub id) or a loaded TransformerBridge.
    clean/corrupt: one pair; or `pairs` (a list of `Pair` or a JSONL path). metric: 'logit-diff: A, W',
    'logprob: A' or 'loss'. components: heads, resid, attn_out, mlp_out, q, k. method: exact | atp | atp*
    or several ('atp,exact'). direction: denoise (corrupt run, clean activation in) | noise (the reverse).
    verify_top: re-measure the top-K estimates exactly (of the kinds in `verify_kinds`, default all).
    `fwd_hooks` stay active in every pass.
    Returns a `PatchResult` (kind 'patching'); fraction of the clean−corrupt gap restored per component."""
    import torch

    from interp.patching import runner as rep

    methods = tuple(m.strip() for m in (method.split(",") if isinstance(method, str) else method) if m.strip())
    config = PatchConfig(metric=metric, components=tuple(components), methods=methods, direction=direction,
                         verify_top=verify_top, top_k=top_k, seed=seed, verify_kinds=tuple(verify_kinds))
    spec = MetricSpec.parse(metric)
    pair_list = resolve_pairs(clean, corrupt, pairs)
    name, bridge = model_and_name(model, device)
    enc = encode_pairs(bridge.tokenizer, pair_list, spec, int(bridge.cfg.n_ctx))
    lengths = {len(e.clean) for e in enc}
    if "resid" in config.components and len(lengths) > 1:
        raise UserError(f"component resid needs every pair to have the same token length (got {sorted(lengths)}); "
                        "use pairs of one length or drop resid")
    t = min(lengths)
    total = sum(rep.n_components(bridge, k, t) for k in config.components
                if not config.verify_kinds or k in config.verify_kinds)
    if config.verify_top > total:
        raise UserError(f"--verify-top {config.verify_top} is more than the {total} components patched; "
                        f"pass at most {total}")
    torch.manual_seed(seed)
    return rep.run(bridge, name, pair_list, enc, _groups(enc), spec, config, list(fwd_hooks), progress)


def fraction(patched: float, clean: float, corrupt: float) -> float:
    """(patched − corrupt) / (clean − corrupt); NaN when the gap is 0."""
    gap = clean - corrupt
    return (patched - corrupt) / gap if gap != 0 else math.nan


def patch_heads(model: Any, heads: str, *, pairs: Sequence[Pair] | str | Path, metric: str = "logit-diff",
                direction: str = "denoise", device: str = "cpu") -> NamedHeadsResult:
    """Patch the heads `heads` ("7.0,9.2", HeadSpec syntax) together from source into base, for every pair;
    → fraction of the clean−corrupt gap restored (the `patching` metric kind of `interp regress`)."""
    import numpy as np
    import torch

    from interp.heads import HeadSpec
    from interp.patching.core import Runs, baselines, patch_together
    from interp.patching.metrics import RowTargets

    spec_h = HeadSpec.parse(heads)
    PatchConfig(metric=metric, direction=direction)
    spec = MetricSpec.parse(metric)
    pair_list = as_pairs(pairs)
    if not pair_list:
        raise UserError("no pairs given")
    name, bridge = model_and_name(model, device)
    chosen = spec_h.resolve_for(bridge)
    enc = encode_pairs(bridge.tokenizer, pair_list, spec, int(bridge.cfg.n_ctx))
    n = len(enc)
    clean_v, corrupt_v, patched = np.zeros(n), np.zeros(n), np.zeros(n)
    for idx in _groups(enc):
        clean = torch.tensor([enc[i].clean for i in idx])
        corrupt = torch.tensor([enc[i].corrupt for i in idx])
        tg = RowTargets(torch.tensor([enc[i].answer for i in idx]) if spec.n_words >= 1 else None,
                        torch.tensor([enc[i].wrong for i in idx]) if spec.n_words >= 2 else None, clean)
        runs = Runs(corrupt, clean, tg) if direction == "denoise" else Runs(clean, corrupt, tg)
        vb, vs = baselines(bridge, runs, spec.kind)
        c, r = (vs, vb) if direction == "denoise" else (vb, vs)
        clean_v[idx], corrupt_v[idx] = c.double().numpy(), r.double().numpy()
        patched[idx] = patch_together(bridge, runs, chosen, spec.kind).double().numpy()
    gap = float(clean_v.mean() - corrupt_v.mean())
    if not math.isfinite(gap) or abs(gap) < 1e-12:
        raise UserError(f"the clean and corrupt runs give the same {spec} (gap {gap:.3g}): 'fraction restored' is "
                        "undefined; choose corrupt prompts that change the answer")
    per = (patched - corrupt_v) / gap
    return NamedHeadsResult(model=name, heads=",".join(f"{a}.{b}" for a, b in chosen), metric=str(spec),
                            direction=direction, n_pairs=n, clean_metric=float(clean_v.mean()),
                            corrupt_metric=float(corrupt_v.mean()), patched_metric=float(patched.mean()),
                            fraction=float(per.mean()), per_pair=tuple(float(x) for x in per))
