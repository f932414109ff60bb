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
  *insensitive*); low = sensitive. Under sampling, part of the disagreement is sampling noise; every
  prompt is decoded with the same seed (common random numbers) so that noise is shared, not added.
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

    def __post_init__(self) -> None:
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
    continuations: tuple[str, ...]
    continuation_tokens: tuple[tuple[int, ...], ...]
    bleu: tuple[tuple[float, ...], ...]  # (P, P) symmetrised sentence BLEU, NaN (→ null) diagonal
    bleu_mean: float  # over the P*(P-1)/2 off-diagonal pairs
    bleu_min: float
    bleu_max: float
    distinct_1: tuple[float, ...]
    distinct_2: tuple[float, ...]
    distinct_1_mean: float
    distinct_2_mean: float


@dataclass(frozen=True)
class SensitivityResult(FrozenResult):
    kind: str = "prompt_sensitivity"
    model: str = ""  # the model reference (set by the public API / CLI)
    prompts: tuple[str, ...] = ()
    max_new_tokens: int = 0
    seed: int = 0
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
    from tqdm import tqdm

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
    total = len(config.decodings) * len(config.prompts)
    with tqdm(total=total, desc="sensitivity", unit="gen", disable=not progress, file=sys.stderr) as bar:
        for name in config.decodings:
            dec = Decoding.parse(name)
            new_tokens, texts = [], []
            for ids in prompt_ids:
                full = generate(logits_fn, ids, config.max_new_tokens, n_ctx, dec, seed=config.seed)
                new = full[0, ids.shape[1]:].tolist()
                new_tokens.append(tuple(new))
                texts.append(tok.decode(new))
                bar.update(1)
            m = pairwise_bleu(texts)
            mean, lo, hi = off_diagonal_stats(m)
            d1 = tuple(distinct_n(list(t), 1) for t in new_tokens)
            d2 = tuple(distinct_n(list(t), 2) for t in new_tokens)
            rows.append(DecodingSensitivity(
                decoding=name, continuations=tuple(texts), continuation_tokens=tuple(new_tokens),
                bleu=tuple(tuple(float(x) for x in r) for r in m), bleu_mean=mean, bleu_min=lo, bleu_max=hi,
                distinct_1=d1, distinct_2=d2, distinct_1_mean=float(np.mean(d1)), distinct_2_mean=float(np.mean(d2)),
            ))
    return SensitivityResult(prompts=tuple(config.prompts), max_new_tokens=config.max_new_tokens,
                             seed=config.seed, bleu_signature=bleu_signature(), decodings=tuple(rows))


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
