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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.patching.metrics import MetricSpec
from interp.results import FrozenResult

METHODS = ("exact", "atp", "atp*")
DIRECTIONS = ("denoise", "noise")
MAX_PER_PAIR = 200_000  # per-pair values kept in the JSON only below this many numbers
# A clean−corrupt gap below GAP_MIN_REL × the logit scale (std over the vocabulary of the clean run's final
# logits) is noise-sized: dividing by it makes "fractions restored" meaningless (a random model's gap of ~1e-3
# gives ±1000%). Such results carry gap_meaningful = False; reports and the CLI refuse to show the fractions.
GAP_MIN_REL = 0.01


@dataclass(frozen=True)
class PatchConfig:
    """What to patch and how. Validated on construction (UserError)."""

    metric: str = "logit-diff"
    components: tuple[str, ...] = ("heads",)
    methods: tuple[str, ...] = ("exact",)
    direction: str = "denoise"
    verify_top: int = 0
    top_k: int = 10
    seed: int = 0
    verify_kinds: tuple[str, ...] = ()  # component kinds eligible for --verify-top (empty: all patched)

    def __post_init__(self) -> None:
        from interp.patching.core import check_component

        MetricSpec.parse(self.metric)
        if not self.components:
            raise UserError("no components to patch; choose from heads, resid, attn_out, mlp_out, q, k")
        for c in self.components:
            check_component(c)
        if len(set(self.components)) != len(self.components):
            raise UserError(f"a component is listed twice in {','.join(self.components)}")
        if not self.methods:
            raise UserError(f"no method given; choose from {', '.join(METHODS)}")
        for m in self.methods:
            if m not in METHODS:
                raise UserError(f"unknown method {m!r}; choose from {', '.join(METHODS)} (comma list: atp,exact)")
        if self.direction not in DIRECTIONS:
            raise UserError(f"unknown direction {self.direction!r}; choose denoise or noise")
        if not isinstance(self.verify_top, int) or self.verify_top < 0:
            raise UserError(f"--verify-top must be >= 0, got {self.verify_top!r}")
        if self.verify_top and not any(m != "exact" for m in self.methods):
            raise UserError("--verify-top re-measures estimates; use it with --method atp or atp*")
        for k in self.verify_kinds:
            if k not in self.components:
                raise UserError(f"verify kind {k!r} is not among the patched components {','.join(self.components)}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise UserError(f"top_k must be >= 1, got {self.top_k!r}")


@dataclass(frozen=True)
class Pair:
    clean: str
    corrupt: str
    answer: str | None = None
    wrong: str | None = None
    where: str = ""


@dataclass(frozen=True)
class PatchResult(FrozenResult):
    kind: str = "patching"
    model: str = ""
    metric: str = ""
    direction: str = "denoise"
    methods: tuple[str, ...] = ()
    seed: int = 0
    n_layers: int = 0
    n_heads: int = 0
    n_pairs: int = 0
    pairs: tuple[dict, ...] = ()
    clean_metric: float = 0.0  # mean over pairs
    corrupt_metric: float = 0.0
    gap: float = 0.0  # clean − corrupt
    logit_scale: float = 0.0  # std over the vocabulary of the clean run's final logits, mean over pairs
    gap_meaningful: bool = True  # False: |gap| < GAP_MIN_REL × logit_scale — fractions are noise, not shown
    gap_note: str = ""
    components: dict = field(default_factory=dict)  # kind → grids per method (see patch())
    top: dict = field(default_factory=dict)  # method → top components
    verify: dict = field(default_factory=dict)  # method → [{component, estimate, exact}]
    comparison: dict = field(default_factory=dict)  # kind → method → {spearman, pearson, recall_top5_in_top10}
    cost: dict = field(default_factory=dict)  # method → forward-equivalent passes (docstrings of core/atp)


# ----------------------------------------------------------------------------- inputs
def load_pairs(path: str | Path) -> list[Pair]:
    """A JSONL file of pairs: keys clean, corrupt (required), answer, wrong (optional). Errors name the line."""
    from interp.jsonl import parse_jsonl

    p = Path(path)
    if not p.is_file():
        raise UserError(f"pairs file {str(p)!r} not found; pass a .jsonl file with clean/corrupt per line")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{p} is not UTF-8 text; save the JSONL file as UTF-8") from None
    out = []
    for lineno, row in parse_jsonl(text, p.name):
        where = f"{p.name} line {lineno}"
        unknown = sorted(set(row) - {"clean", "corrupt", "answer", "wrong"})
        if unknown:
            raise UserError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: clean, corrupt, "
                            "answer, wrong")
        for k in ("clean", "corrupt"):
            if not isinstance(row.get(k), str) or not row[k].strip():
                raise UserError(f"{where}: {k!r} must be a non-empty string")
        for k in ("answer", "wrong"):
            if k in row and not (isinstance(row[k], str) and row[k].strip()):
                raise UserError(f"{where}: {k!r} must be a non-empty string, got {row[k]!r}")
        out.append(Pair(row["clean"], row["corrupt"], row.get("answer"), row.get("wrong"), where))
    if not out:
        raise UserError(f"{p} has no pairs; write one JSON object per line")
    return out


@dataclass(frozen=True)
class _Encoded:
    clean: list[int]
    corrupt: list[int]
    answer: int | None
    wrong: int | None


def model_and_name(model: Any, device: str) -> tuple[str, Any]:
    """(name, bridge) for a model reference (loaded here) or an already loaded TransformerBridge."""
    if isinstance(model, str):
        from interp import hooked

        return model, hooked.load(model, device=device)
    return str(getattr(model.cfg, "model_name", "model")), model


def encode_pairs(tokenizer, pairs: Sequence[Pair], spec: MetricSpec, n_ctx: int) -> list[_Encoded]:
    """Validate and tokenize every pair (interp.tokens); UserError naming the pair on any problem."""
    from interp.tokens import encode, single_token

    out = []
    for i, p in enumerate(pairs):
        at = p.where or f"pair {i + 1}"
        if p.clean == p.corrupt:
            raise UserError(f"{at}: clean and corrupt are the same text, so the clean−corrupt gap is 0 and "
                            "'fraction restored' is undefined; change the corrupt prompt")
        c, r = encode(tokenizer, p.clean), encode(tokenizer, p.corrupt)
        if len(c) != len(r):
            raise UserError(f"{at}: clean is {len(c)} tokens but corrupt is {len(r)} tokens; patching needs the "
                            "same token length (positions must line up) — reword one of them")
        if len(c) > n_ctx:
            raise UserError(f"{at}: {len(c)} tokens exceed the model context {n_ctx}; shorten the prompts")
        if c == r:
            raise UserError(f"{at}: clean and corrupt tokenize identically (gap 0: 'fraction restored' undefined)")
        ids: list[int | None] = [None, None]
        if spec.n_words:
            words = [p.answer or spec.answer, p.wrong or spec.wrong][: spec.n_words]
            for j, (w, what) in enumerate(zip(words, ("answer", "wrong"), strict=False)):
                if w is None:
                    raise UserError(f"{at}: metric {spec.kind} needs {'an answer' if j == 0 else 'a wrong'} word; "
                                    f'give it in --metric ("{spec.kind}: his, her") or as "{what}" in the pair')
                ids[j] = single_token(tokenizer, w, after=p.clean, what=f"{what} of {at}")
            if spec.kind == "logit-diff" and ids[0] == ids[1]:
                raise UserError(f"{at}: answer and wrong are the same token; give two different words")
        out.append(_Encoded(c, r, ids[0], ids[1]))
    return out


def _groups(enc: Sequence[_Encoded]) -> list[list[int]]:
    by_len: dict[int, list[int]] = {}
    for i, e in enumerate(enc):
        by_len.setdefault(len(e.clean), []).append(i)
    return [by_len[k] for k in sorted(by_len)]


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
    if pairs is None:
        if clean is None or corrupt is None:
            raise UserError("give --clean and --corrupt prompts, or --pairs FILE.jsonl")
        pair_list = [Pair(clean, corrupt, where="the pair")]
    else:
        if clean is not None or corrupt is not None:
            raise UserError("give either --clean/--corrupt or --pairs, not both")
        pair_list = load_pairs(pairs) if isinstance(pairs, (str, Path)) else list(pairs)
        if not pair_list:
            raise UserError("no pairs given")
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


def gap_check(gap: float, logit_scale: float, clean: float, corrupt: float) -> tuple[bool, str]:
    """(meaningful, note): is the clean−corrupt gap large enough for fractions of it to mean anything?"""
    floor = max(GAP_MIN_REL * logit_scale, 1e-5 * max(abs(clean), abs(corrupt)))
    if abs(gap) >= floor:
        return True, ""
    return False, (f"the clean−corrupt gap {gap:+.3g} is below {GAP_MIN_REL:g} × the logit scale {logit_scale:.3g} "
                   "(std of the final logits over the vocabulary): fractions of it are noise, not shown; choose "
                   "prompts whose answer the model actually changes")


def fraction(patched: float, clean: float, corrupt: float) -> float:
    """(patched − corrupt) / (clean − corrupt); NaN when the gap is 0."""
    gap = clean - corrupt
    return (patched - corrupt) / gap if gap != 0 else math.nan


@dataclass(frozen=True)
class NamedHeadsResult(FrozenResult):
    """Fraction of the gap restored when the named heads are patched TOGETHER, per pair and overall."""

    kind: str = "patching_heads"
    model: str = ""
    heads: str = ""
    metric: str = ""
    direction: str = "denoise"
    n_pairs: int = 0
    clean_metric: float = 0.0
    corrupt_metric: float = 0.0
    patched_metric: float = 0.0
    fraction: float = 0.0  # (patched − corrupt) / (clean − corrupt), means over pairs
    per_pair: tuple[float, ...] = ()  # (patched_i − corrupt_i) / mean gap: their mean is `fraction`


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
    pair_list = load_pairs(pairs) if isinstance(pairs, (str, Path)) else list(pairs)
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
