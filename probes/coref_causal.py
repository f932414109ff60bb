"""Causal coreference: which heads and layers CARRY the referent, next to the heads that LOOK at it.

For each coreference example (probes/coref_data.py) the clean prompt is the text before the pronoun
(`CorefExample.prefix`), the corrupt prompt its twin (`coref_data.corrupt_candidates`, rule in
`coref_data.CORRUPTION_RULE`: the antecedent swapped for a word of the other gender, same token count — the
first candidate with the clean prompt's token length is used), and the metric is the logit difference
logit(expected pronoun) − logit(contrast pronoun) at the last prompt position (the position before the
pronoun; both pronouns must be single tokens there, `interp.tokens.single_token`). Items without a twin of the
same length or without a gendered contrast (it/its) are left out and counted.

Denoising activation patching (interp.patching: corrupt run, clean activation in; exact, batched) of every
head (`hook_z`) and of every layer's attention and MLP output gives the FRACTION OF THE GAP RESTORED
(0 = corrupt, 1 = clean). Top heads carry a seeded bootstrap 95% interval over pairs (samples
(patched_i − corrupt_i) / mean gap, whose mean is the ratio-of-means fraction). With an estimate only
(`method` atp / atp*), the estimate RANKS the heads and `verify_top` K re-measures the top K exactly: the top
heads are then the verified ones, with exact fractions and bootstrap intervals (`top_heads_source`); without
verification the top heads are marked unverified and reports keep them out of their findings. The attention probe
(probes/coref.py) runs on the same examples; the result compares the two head rankings (Spearman over all
heads of attention accuracy vs fraction restored, and the overlap of the top-k sets): do the heads that
look at the antecedent also carry it?
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interp.errors import UserError
from interp.results import FrozenResult
from probes.coref_data import CORRUPTION_RULE, DEFAULT_CONTRAST, CorefExample, corrupt_candidates

GENDERED = {w for pair in DEFAULT_CONTRAST.items() for w in pair}
N_BOOTSTRAP = 2000
NOT_GENDERED = "no gendered contrast pronoun (it/its)"


@dataclass(frozen=True)
class CausalConfig:
    top_k: int = 5
    method: str = "exact"  # exact | atp | atp* | comma list (estimates compared with exact)
    components: tuple[str, ...] = ("heads", "attn_out", "mlp_out")
    seed: int = 0
    batch_size: int = 16  # attention probe batch
    verify_top: int = 0  # with an estimate method: re-measure the top-K estimated heads exactly

    def __post_init__(self) -> None:
        if not isinstance(self.verify_top, int) or self.verify_top < 0:
            raise UserError(f"--verify-top must be >= 0, got {self.verify_top!r}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise UserError(f"top_k must be >= 1, got {self.top_k!r}")
        if "heads" not in self.components:
            raise UserError("the causal coreference probe needs the heads component")


@dataclass(frozen=True)
class CorefCausalResult(FrozenResult):
    kind: str = "coref_causal"
    model: str = ""
    probe_set: str = ""
    seed: int = 0
    corruption_rule: str = CORRUPTION_RULE
    metric: str = "logit(expected pronoun) − logit(contrast pronoun) at the position before the pronoun"
    n_examples: int = 0
    n_pairs: int = 0
    n_skipped: dict = field(default_factory=dict)  # reason → count
    n_gendered: int = 0  # examples with a gendered pronoun/contrast (or a user `corrupt`): the pairable ones
    paired_fraction_of_gendered: float | None = None  # n_pairs / n_gendered
    dropped: list = field(default_factory=list)  # one {"index", "where", "text", "reason"} per item left out
    n_layers: int = 0
    n_heads: int = 0
    clean_logit_diff: float = 0.0
    corrupt_logit_diff: float = 0.0
    gap_meaningful: bool = True  # interp.patching: False when the gap is noise-sized (fractions not shown)
    gap_note: str = ""
    head_fraction: list = field(default_factory=list)  # (L, H) fraction of the gap restored
    head_fraction_method: str = "exact"  # exact | atp | atp*: how head_fraction was obtained
    top_heads_source: str = "exact"  # exact | "exact (verified top-K of atp)" | "atp (estimate, not verified)"
    layer_fraction: dict = field(default_factory=dict)  # attn_out / mlp_out → (L,)
    top_heads: list = field(default_factory=list)  # carriers: fraction + bootstrap interval
    attention_best_heads: list = field(default_factory=list)  # lookers (from the attention probe)
    head_attention_accuracy: list = field(default_factory=list)  # (L, H)
    look_vs_carry: dict = field(default_factory=dict)
    top_heads_together: dict = field(default_factory=dict)  # the top-k carriers patched at once
    patching: dict = field(default_factory=dict)  # the full interp.patching result dict
    pairs: list = field(default_factory=list)


def build_pairs(tokenizer, examples: Sequence[CorefExample]) -> tuple[list, list[int], dict[str, int]]:
    """(patching Pairs, indices of the examples used, skipped-reason counts). Rules in the module doc."""
    pairs, used, skipped, _ = build_pairs_detailed(tokenizer, examples)
    return pairs, used, skipped


def build_pairs_detailed(tokenizer, examples: Sequence[CorefExample]
                         ) -> tuple[list, list[int], dict[str, int], list[dict[str, Any]]]:
    """`build_pairs` + one record per dropped item: {"index", "where", "text", "reason"}."""
    from interp.patching.api import Pair
    from interp.tokens import encode, single_token

    pairs, used, skipped, dropped = [], [], {}, []
    current = {"i": 0}

    def skip(why: str) -> None:
        skipped[why] = skipped.get(why, 0) + 1
        ex = examples[current["i"]]
        dropped.append({"index": current["i"], "where": ex.where or f"example {current['i'] + 1}", "text": ex.text,
                        "reason": why})

    for i, ex in enumerate(examples):
        current["i"] = i
        if ex.contrast is None and ex.pronoun.lower() in GENDERED:
            skip(f"no contrast pronoun for {ex.pronoun!r} (his or him?): give `contrast` in the row")
            continue
        if ex.contrast is None or (ex.corrupt is None and ex.contrast.lower() not in GENDERED):
            skip(NOT_GENDERED)
            continue
        clean = ex.prefix()
        try:
            single_token(tokenizer, ex.pronoun, after=clean, what="pronoun")
            single_token(tokenizer, ex.contrast, after=clean, what="contrast")
        except UserError:
            skip("pronoun or contrast is not one token")
            continue
        n = len(encode(tokenizer, clean))
        twin = next((c for c in corrupt_candidates(ex) if len(encode(tokenizer, c)) == n and c != clean), None)
        if twin is None:
            skip("no corrupt twin of the same token length" if ex.corrupt is None or
                 len(encode(tokenizer, ex.corrupt)) != n else "corrupt equals clean")
            continue
        pairs.append(Pair(clean, twin, ex.pronoun, ex.contrast, where=ex.where or f"example {i + 1}"))
        used.append(i)
    return pairs, used, skipped, dropped


def _bootstrap(samples: np.ndarray, seed: int, n: int = N_BOOTSTRAP) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, samples.size, size=(n, samples.size))
    means = samples[idx].mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _top_heads(res: dict[str, Any], main: str, frac: np.ndarray, corrupt_v: np.ndarray, gap: float,
               config: CausalConfig) -> list[dict[str, Any]]:
    """The top-k carrier heads: from exact patching (all heads), else from the exactly verified top of the
    estimate (ranked by the exact fraction), else the estimate's top marked `verified: False`."""
    L, H = frac.shape
    if main != "exact" and res.get("verify", {}).get(main):
        recs = [v for v in res["verify"][main] if v["kind"] == "heads"]
        recs.sort(key=lambda v: (-(v["exact"] if v["exact"] is not None else -np.inf), v["layer"], v["slot"]))
        out = []
        for v in recs[: config.top_k]:
            samples = (np.asarray(v["exact_per_pair"], dtype=float) - corrupt_v) / gap
            lo, hi = _bootstrap(samples, config.seed)
            out.append({"head": f"{v['layer']}.{v['slot']}", "layer": v["layer"], "head_index": v["slot"],
                        "fraction": float(samples.mean()), "ci_low": lo, "ci_high": hi, "verified": True,
                        "estimate": v["estimate"]})
        return out
    heads = res["components"]["heads"][main]
    per_pair = np.array(heads["per_pair"], dtype=float) if "per_pair" in heads else None  # (L, H, n)
    order = sorted(((layer, h) for layer in range(L) for h in range(H)),
                   key=lambda lh: (-(frac[lh] if np.isfinite(frac[lh]) else -np.inf), lh))
    top = []
    for layer, h in order[: config.top_k]:
        rec: dict[str, Any] = {"head": f"{layer}.{h}", "layer": layer, "head_index": h,
                               "fraction": float(frac[layer, h]), "verified": main == "exact"}
        if per_pair is not None:
            samples = (per_pair[layer, h] - corrupt_v) / gap
            rec["ci_low"], rec["ci_high"] = _bootstrap(samples, config.seed)
        top.append(rec)
    return top


def coref_causal(bridge, examples: Sequence[CorefExample], config: CausalConfig = CausalConfig(), model: str = "",
                 probe_set: str = "", progress: bool = False) -> CorefCausalResult:
    """Causal coreference probe (module doc) on a loaded bridge. Pure: no printing, no files."""
    from interp.patching.api import patch, patch_heads
    from interp.patching.metrics import spearman
    from probes.coref import CorefConfig, coref_probe

    if not examples:
        raise UserError("no coreference examples to probe")
    pairs, used, skipped, dropped = build_pairs_detailed(bridge.tokenizer, examples)
    if not pairs:
        raise UserError(f"none of the {len(examples)} examples has a usable corrupted twin ({skipped}); "
                        "give `corrupt` (the corrupted text before the pronoun) in the JSONL rows")
    n_gendered = len(examples) - skipped.get(NOT_GENDERED, 0)
    methods = tuple(m.strip() for m in config.method.split(",") if m.strip())
    main = "exact" if "exact" in methods else methods[0]
    verify_top = config.verify_top if main != "exact" else 0
    patched = patch(bridge, pairs=pairs, metric="logit-diff", components=config.components, method=methods,
                    direction="denoise", top_k=max(10, config.top_k), seed=config.seed, progress=progress,
                    verify_top=verify_top, verify_kinds=("heads",))
    res = patched.to_dict()
    L, H = patched.n_layers, patched.n_heads
    heads = res["components"]["heads"][main]
    frac = np.array([[np.nan if v is None else v for v in row] for row in heads["fraction"]], dtype=float)
    clean_v = np.array([p["clean_metric"] for p in patched.pairs])
    corrupt_v = np.array([p["corrupt_metric"] for p in patched.pairs])
    gap = float(clean_v.mean() - corrupt_v.mean())
    top = _top_heads(res, main, frac, corrupt_v, gap, config)
    if main == "exact":
        source = "exact"
    elif verify_top:
        source = f"exact (verified top-{verify_top} of {main})"
    else:
        source = f"{main} (estimate, not verified)"

    # the top-k carriers patched together (per pair: (patched_i − corrupt_i) / mean gap)
    together = patch_heads(bridge, ",".join(r["head"] for r in top), pairs=pairs, metric="logit-diff",
                           direction="denoise")
    lo, hi = _bootstrap(np.asarray(together.per_pair, dtype=float), config.seed)
    together_rec = {"heads": [r["head"] for r in top], "fraction": together.fraction, "ci_low": lo, "ci_high": hi}

    # the attention probe on the same examples: who LOOKS at the antecedent
    probe = coref_probe(bridge, [examples[i] for i in used], CorefConfig(top_k=config.top_k, batch_size=config.batch_size,
                                                                        seed=config.seed, behaviour=False))
    acc = np.array(probe.head_accuracy, dtype=float)  # (L, H)
    lookers = [{"head": b["head"], "accuracy": b["accuracy"], "ci_low": b["ci_low"], "ci_high": b["ci_high"],
                "fraction": float(frac[b["layer"], b["head_index"]])} for b in probe.best_heads]
    for r in top:
        r["attention_accuracy"] = float(acc[r["layer"], r["head_index"]])
    ok = np.isfinite(frac.ravel())
    carry_set, look_set = {r["head"] for r in top}, {r["head"] for r in lookers}
    look_vs_carry = {
        "spearman_attention_accuracy_vs_fraction": spearman(acc.ravel()[ok], frac.ravel()[ok]),
        "top_k": config.top_k, "overlap": sorted(carry_set & look_set), "n_overlap": len(carry_set & look_set),
        "best_looker": lookers[0]["head"] if lookers else None, "best_carrier": top[0]["head"] if top else None,
    }
    layer_frac = {k: [row[0] for row in patched.components[k][main]["fraction"]]
                  for k in config.components if k in ("attn_out", "mlp_out")}
    return CorefCausalResult(
        model=model, probe_set=probe_set, seed=config.seed, n_examples=len(examples), n_pairs=len(pairs),
        n_skipped=skipped, n_gendered=n_gendered,
        paired_fraction_of_gendered=len(pairs) / n_gendered if n_gendered else None, dropped=dropped,
        n_layers=L, n_heads=H, head_fraction_method=main, top_heads_source=source,
        clean_logit_diff=float(clean_v.mean()),
        corrupt_logit_diff=float(corrupt_v.mean()), gap_meaningful=bool(res.get("gap_meaningful", True)),
        gap_note=str(res.get("gap_note", "")), head_fraction=frac, layer_fraction=layer_frac, top_heads=top,
        attention_best_heads=lookers, head_attention_accuracy=acc, look_vs_carry=look_vs_carry,
        top_heads_together=together_rec, patching=res,
        pairs=[{"clean": p.clean, "corrupt": p.corrupt, "answer": p.answer, "wrong": p.wrong, "where": p.where}
               for p in pairs],
    )


def causal_coref(model: Any, *, data: str = "builtin", top_k: int = 5, method: str = "exact", seed: int = 0,
                 device: str = "cpu", progress: bool = False, verify_top: int = 0) -> CorefCausalResult:
    """Public entry (`interp probe coref MODEL --causal`): model reference or loaded bridge, probe set name or
    JSONL path (rows may give `corrupt`), → `CorefCausalResult` (kind 'coref_causal')."""
    from probes.coref_data import load_probe_set

    config = CausalConfig(top_k=top_k, method=method, seed=seed, verify_top=verify_top)
    from interp import hooked
    from interp.patching.api import PatchConfig

    methods = tuple(m.strip() for m in method.split(",") if m.strip())
    PatchConfig(methods=methods, verify_top=verify_top if "exact" not in methods else 0)  # validate before loading
    label, examples = load_probe_set(data)
    bridge, info = hooked.load_model(model, device)
    return coref_causal(bridge, examples, config, model=info.name, probe_set=label, progress=progress)


# --------------------------------------------------------------------------------------------- figures
def plot_look_vs_carry(result: dict[str, Any]):
    """Side by side: fraction of the gap restored per head (carry) and attention accuracy per head (look)."""
    import matplotlib.pyplot as plt

    frac = np.array([[np.nan if v is None else v for v in row] for row in result["head_fraction"]], dtype=float)
    acc = np.array(result["head_attention_accuracy"], dtype=float)
    L, H = frac.shape
    fig, axes = plt.subplots(1, 2, figsize=(2.0 + 1.1 * H, 1.4 + 0.32 * L))
    m = float(np.nanmax(np.abs(frac))) if np.isfinite(frac).any() else 1.0
    for ax, grid, title, kw in ((axes[0], frac, "carry: fraction of gap restored", {"cmap": "RdBu", "vmin": -m, "vmax": m}),
                                (axes[1], acc, "look: attention accuracy", {"cmap": "RdBu_r", "vmin": 0, "vmax": 1})):
        im = ax.imshow(grid, aspect="auto", **kw)
        ax.set_xticks(range(H))
        ax.set_yticks(range(L))
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(title, fontsize=8)
        fig.colorbar(im, ax=ax)
        if L * H <= 160:
            for i in range(L):
                for j in range(H):
                    if np.isfinite(grid[i, j]):
                        ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6)
    lv = result["look_vs_carry"]
    rho = lv.get("spearman_attention_accuracy_vs_fraction")
    fig.suptitle(f"Coreference: heads that look vs heads that carry (n = {result['n_pairs']} pairs; "
                 f"Spearman {'n/a' if rho is None else f'{rho:.2f}'})", fontsize=9)
    return fig


def plot_layers(result: dict[str, Any]):
    """Fraction of the gap restored by each layer's attention output and MLP output."""
    import matplotlib.pyplot as plt

    lf = result["layer_fraction"]
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (k, v) in enumerate(lf.items()):
        xs = np.arange(len(v)) + (i - (len(lf) - 1) / 2) * 0.4
        ax.bar(xs, [np.nan if x is None else x for x in v], 0.4, label=k)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("layer")
    ax.set_ylabel("fraction of gap restored")
    ax.legend(fontsize=7)
    ax.set_title("Denoising each layer's attention / MLP output", fontsize=9)
    return fig


def causal_figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Figures of a 'coref_causal' result dict (registered in interp.figures.FIGURES)."""
    from interp.patching.plots import patching_figures

    out = [("coref_look_vs_carry", plot_look_vs_carry(result))]
    if result.get("layer_fraction"):
        out.append(("coref_causal_layers", plot_layers(result)))
    return out + [(f"coref_{n}", f) for n, f in patching_figures(result["patching"]) if "heads" not in n]
