"""Prompt sensitivity: do paraphrased prompts lead to similar continuations?

For a family of paraphrases of one prompt (default: seed project 001's "The university student" family)
and each decoding setting, generate `max_new_tokens` tokens per prompt and compare the continuations
pairwise with BLEU:

- BLEU is sacrebleu's **sentence-level BLEU** (`sacrebleu.sentence_bleu`: 13a tokenisation, mixed case,
  `exp` smoothing, effective order — so two identical continuations shorter than 4 words still score
  100). Sentence BLEU is asymmetric (n-gram precisions are over the hypothesis, and the brevity
  penalty), so entry (i, j) is the mean of BLEU(i as hypothesis, j as reference) and BLEU(j, i): the
  matrix is symmetric. The diagonal (a continuation against itself) is excluded from every statistic
  and stored as null. An empty continuation scores 0 against anything.
- High mean off-diagonal BLEU = the model's continuation barely depends on the paraphrase (prompt
  *insensitive*); low = sensitive.
- Sampling (any decoding but greedy): every (prompt, sample) gets its OWN seed, derived from `seed` by
  `numpy.random.SeedSequence((seed, decoding index, prompt index, sample index))` — sharing one seed across
  prompts would make different prompts draw the same random numbers and share text, measuring the seed, not
  the wording. `samples` continuations are drawn per prompt. The between-prompt BLEU (`bleu`, `bleu_mean`:
  mean over every sample of prompt i against every sample of prompt j ≠ i) is set against its baseline line,
  the within-prompt BLEU (`bleu_within`: the same prompt's samples against each other = what resampling
  alone changes). `within_minus_between` > 0 = the wording changes the continuation more than resampling
  does; its 95% interval is a seeded bootstrap over prompts (paired: each prompt's within vs its between;
  prompts share the between pairs, so the interval is approximate). Greedy is deterministic: 1 sample, no
  within-prompt line.
- distinct-1/2 (`interp.decoding.distinct_n`, over the continuation's token ids) of each continuation
  flags degenerate repetition, which inflates BLEU.

Each prompt starts a fresh document, as in `evals.perplexity` (`interp.tokens.encode_prompt`: tokens with
`add_special_tokens=False`, preceded by BOS, else EOS: `<|endoftext|>` for the reference model), so a
bridge (whose TransformerLens tokenizer adds BOS itself) and its HF model generate the same tokens.
`plot_bleu_heatmap(result_dict, decoding)` draws one heatmap per decoding from the results JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from interp.decoding import Decoding, distinct_n, generate
from interp.errors import UserError
from interp.results import FrozenResult
from interp.tokens import encode_prompt

DEFAULT_PROMPTS: tuple[str, ...] = (
    "The university student",
    "A university student",
    "The college student",
    "A student at the university",
    "The university's student",
    "A college student",
    "The student at the university",
    "One university student",
)
DEFAULT_DECODINGS: tuple[str, ...] = ("greedy", "t0.7", "k50")


def parse_decodings(spec: str | Sequence[str]) -> tuple[str, ...]:
    """"greedy,t0.7,k50" → canonical names (validated by `Decoding.parse`, duplicates dropped)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for s in items:
        if not s.strip():
            continue
        name = Decoding.parse(s).name
        if name not in names:
            names.append(name)
    if not names:
        raise UserError("no decoding given; pass e.g. --decoding greedy,t0.7,k50")
    return tuple(names)


def read_prompts(text: str, source: str = "prompt file") -> tuple[str, ...]:
    """One prompt per line; blank lines ignored; at least one prompt required."""
    prompts = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not prompts:
        raise UserError(f"{source} has no prompts; write one prompt per line")
    return prompts


@dataclass(frozen=True)
class SensitivityConfig:
    prompts: tuple[str, ...] = DEFAULT_PROMPTS
    decodings: tuple[str, ...] = DEFAULT_DECODINGS
    max_new_tokens: int = 30
    seed: int = 0
    samples: int = 4  # continuations per prompt under sampling decodings (greedy: 1)

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or self.samples < 1:
            raise UserError(f"--samples must be a positive integer, got {self.samples!r}")
        if not self.prompts or any(not p.strip() for p in self.prompts):
            raise UserError("prompts must be a non-empty list of non-empty strings")
        if len(self.prompts) < 2:
            raise UserError("prompt sensitivity needs at least 2 prompts to compare; give more")
        object.__setattr__(self, "decodings", parse_decodings(self.decodings))
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise UserError(f"--max-new-tokens must be a positive integer, got {self.max_new_tokens!r}")


@dataclass(frozen=True)
class DecodingSensitivity:
    decoding: str
    continuations: tuple[str, ...]  # the first sample of each prompt
    continuation_tokens: tuple[tuple[int, ...], ...]
    bleu: tuple[tuple[float, ...], ...]  # (P, P) between-prompt BLEU (mean over sample pairs), NaN diagonal
    bleu_mean: float  # over the P*(P-1)/2 off-diagonal pairs
    bleu_min: float
    bleu_max: float
    distinct_1: tuple[float, ...]
    distinct_2: tuple[float, ...]
    distinct_1_mean: float
    distinct_2_mean: float
    n_samples: int = 1
    sample_seeds: tuple[tuple[int, ...], ...] = ()  # (P, S) generator seeds (greedy: unused)
    samples: tuple[tuple[str, ...], ...] = ()  # (P, S) continuations
    bleu_within: tuple[float, ...] | None = None  # (P,) same prompt, different samples; None for greedy
    bleu_within_mean: float | None = None  # the baseline line for bleu_mean
    within_minus_between: float | None = None  # mean over prompts of within_i − between_i
    diff_ci_low: float | None = None  # seeded bootstrap over prompts, 95%
    diff_ci_high: float | None = None


@dataclass(frozen=True)
class SensitivityResult(FrozenResult):
    kind: str = "prompt_sensitivity"
    model: str = ""  # the model reference (set by the public API / CLI)
    prompts: tuple[str, ...] = ()
    max_new_tokens: int = 0
    seed: int = 0
    samples: int = 1  # continuations per prompt under sampling
    bleu_signature: str = ""
    decodings: tuple[DecodingSensitivity, ...] = ()


def bleu_signature() -> str:
    import sacrebleu

    return f"sentence_bleu|nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|symmetrised:mean|version:{sacrebleu.__version__}"


def pairwise_bleu(texts: Sequence[str]) -> np.ndarray:
    """(P, P) symmetrised sentence BLEU (0-100); diagonal NaN."""
    import sacrebleu

    p = len(texts)
    raw = np.full((p, p), np.nan)
    for i in range(p):
        for j in range(p):
            if i != j:
                raw[i, j] = sacrebleu.sentence_bleu(texts[i], [texts[j]]).score
    return (raw + raw.T) / 2  # NaN diagonal stays NaN


def sample_seed(seed: int, decoding: int, prompt: int, sample: int) -> int:
    """An independent generator seed for one (decoding, prompt, sample), derived from `seed` (module doc)."""
    return int(np.random.SeedSequence((seed, decoding, prompt, sample)).generate_state(1, dtype=np.uint64)[0] >> 1)


def sampled_bleu(texts: Sequence[Sequence[str]], seed: int, n_boot: int = 2000) -> dict[str, Any]:
    """texts (P prompts × S samples) → between-prompt matrix (P, P), within-prompt BLEU per prompt and the paired
    within − between difference with a bootstrap interval over prompts (module doc)."""
    p, s = len(texts), len(texts[0])
    flat = [t for row in texts for t in row]
    m = pairwise_bleu(flat).reshape(p, s, p, s)  # (prompt, sample, prompt, sample); NaN where same text index
    between = np.full((p, p), np.nan)
    for i in range(p):
        for j in range(p):
            if i != j:
                between[i, j] = float(m[i, :, j, :].mean())
    out: dict[str, Any] = {"between": between}
    if s < 2:
        return out
    within = np.array([float(np.nanmean(m[i, :, i, :])) for i in range(p)])  # NaN diagonal (sample vs itself)
    between_i = np.nanmean(between, axis=1)  # (P,)
    diff = within - between_i
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, p, size=(n_boot, p))].mean(1)
    out.update(within=within, diff=float(diff.mean()), lo=float(np.quantile(boots, 0.025)),
               hi=float(np.quantile(boots, 0.975)))
    return out


def off_diagonal_stats(m: np.ndarray) -> tuple[float, float, float]:
    """(mean, min, max) over i < j."""
    iu = np.triu_indices(m.shape[0], k=1)
    v = m[iu]
    return float(v.mean()), float(v.min()), float(v.max())


@torch.no_grad()
def sensitivity(model: Any, config: SensitivityConfig = SensitivityConfig(), *, tokenizer: Any = None,
                logits_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                progress: bool = False) -> SensitivityResult:
    """Continuations of each prompt under each decoding; pairwise BLEU + distinct-n per decoding.

    `model`: a TransformerBridge (forward through the bridge, so attached hooks apply) or an HF causal
    LM (pass `tokenizer`); `logits_fn` overrides the forward (e.g. `bridge.run_with_hooks` under ablation).
    """
    from interp.progress import progress_bar

    is_bridge = hasattr(model, "original_model") and hasattr(model, "hook_dict")
    tok = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tok is None:
        raise UserError("sensitivity needs a tokenizer: pass tokenizer= with an HF model")
    if logits_fn is None:
        logits_fn = model if is_bridge else (lambda ids: model(ids).logits)
    hf = model.original_model if is_bridge else model
    n_ctx = int(model.cfg.n_ctx) if is_bridge else int(
        getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", 1024))
    device = next(hf.parameters()).device
    prompt_ids = []
    for p in config.prompts:  # the one BOS/prompt rule, leaving room for the first generated token
        ids = encode_prompt(tok, p, n_ctx=n_ctx, reserve=1).ids
        prompt_ids.append(torch.tensor([ids], device=device))  # (1, T)

    rows = []
    n_s = {name: 1 if Decoding.parse(name).greedy else config.samples for name in config.decodings}
    total = sum(n_s.values()) * len(config.prompts)
    with progress_bar(total=total, desc="sensitivity", unit="gen", disable=not progress, file=sys.stderr) as bar:
        for d_i, name in enumerate(config.decodings):
            dec = Decoding.parse(name)
            seeds = tuple(tuple(sample_seed(config.seed, d_i, i, k) for k in range(n_s[name]))
                          for i in range(len(prompt_ids)))
            new_tokens, texts = [], []
            for ids, row_seeds in zip(prompt_ids, seeds, strict=True):
                toks, txt = [], []
                for sd in row_seeds:
                    full = generate(logits_fn, ids, config.max_new_tokens, n_ctx, dec, seed=sd)
                    new = full[0, ids.shape[1]:].tolist()
                    toks.append(tuple(new))
                    txt.append(tok.decode(new))
                    bar.update(1)
                new_tokens.append(toks)
                texts.append(tuple(txt))
            sb = sampled_bleu(texts, config.seed)
            m = sb["between"]
            mean, lo, hi = off_diagonal_stats(m)
            d1 = tuple(float(np.mean([distinct_n(list(t), 1) for t in ts])) for ts in new_tokens)
            d2 = tuple(float(np.mean([distinct_n(list(t), 2) for t in ts])) for ts in new_tokens)
            within = sb.get("within")
            rows.append(DecodingSensitivity(
                decoding=name, continuations=tuple(t[0] for t in texts),
                continuation_tokens=tuple(ts[0] for ts in new_tokens),
                bleu=tuple(tuple(float(x) for x in r) for r in m), bleu_mean=mean, bleu_min=lo, bleu_max=hi,
                distinct_1=d1, distinct_2=d2, distinct_1_mean=float(np.mean(d1)), distinct_2_mean=float(np.mean(d2)),
                n_samples=n_s[name], sample_seeds=seeds if not dec.greedy else (), samples=tuple(texts),
                bleu_within=None if within is None else tuple(float(x) for x in within),
                bleu_within_mean=None if within is None else float(within.mean()),
                within_minus_between=sb.get("diff"), diff_ci_low=sb.get("lo"), diff_ci_high=sb.get("hi"),
            ))
    return SensitivityResult(prompts=tuple(config.prompts), max_new_tokens=config.max_new_tokens,
                             seed=config.seed, samples=config.samples, bleu_signature=bleu_signature(),
                             decodings=tuple(rows))


# ----------------------------------------------------------------------------- figures (from the result dict)
def plot_bleu_heatmap(result: dict[str, Any], decoding: str):
    """Heatmap of the pairwise BLEU matrix of one decoding (diagonal blank)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = next((r for r in result["decodings"] if r["decoding"] == decoding), None)
    if row is None:
        raise UserError(f"no decoding {decoding!r} in this result; have {[r['decoding'] for r in result['decodings']]}")
    m = np.array([[np.nan if v is None else v for v in r] for r in row["bleu"]], dtype=float)
    labels = [p if len(p) <= 32 else p[:31] + "…" for p in result["prompts"]]
    p = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * p, 0.8 + 0.65 * p))
    im = ax.imshow(np.ma.masked_invalid(m), vmin=0, vmax=100, cmap="viridis")
    for i in range(p):
        for j in range(p):
            if i != j:
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] < 60 else "black")
    ax.set_xticks(range(p), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(p), labels, fontsize=8)
    ax.set_title(f"pairwise BLEU of continuations — {decoding}\n"
                 f"mean {row['bleu_mean']:.1f}  min {row['bleu_min']:.1f}  max {row['bleu_max']:.1f}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="sentence BLEU (symmetrised)")
    return fig


def figure_list(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """[(name, Figure)] — one pairwise-BLEU heatmap per decoding (the figure registry's builder)."""
    return list(figures(result).items())


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """{figure name: figure} — one BLEU heatmap per decoding."""
    return {f"bleu_{r['decoding'].replace('.', 'p')}": plot_bleu_heatmap(result, r["decoding"])
            for r in result["decodings"]}
