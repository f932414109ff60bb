"""Public entry points for `interp eval perplexity` and `interp eval sensitivity` (also `interp.perplexity`,
`interp.sensitivity`): a model reference or loaded model in, a FrozenResult out. The CLI calls exactly these."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from interp.errors import UserError


def _load_hf(model: Any, device: str) -> tuple[str, Any, Any]:
    """(name, HF model, tokenizer) from a reference or a loaded bridge / HF model (with `.tokenizer`)."""
    from interp import hooked

    hf, tok, info = hooked.load_hf_model(model, device)
    return info.name, hf, tok


def perplexity(model: Any, *, text: str | Path | None = None, split: str | None = None, stride: int | None = None,
               context: int | None = None, max_tokens: int | None = None, batch_size: int | None = None,
               leakage_check: bool = True, train_text: str | Path | None = None, ngram: int | None = None,
               device: str = "cpu", seed: int = 0, progress: bool = False) -> Any:
    """Sliding-window perplexity, bits per byte and nats per char, with the n-gram leakage check.

    `model`: run dir, checkpoint/HF dir, hub id, .gguf, 'gemma-3-270m', or a loaded model. Eval text: `text`
    (.txt, folder of .txt, .jsonl) or `split` ('val' | 'test' of the model's training run; default test).
    The leakage check compares against the run's train split (or `train_text`) unless `leakage_check=False`.
    Returns `evals.perplexity.PerplexityResult`.
    """
    from evals.perplexity import PerplexityConfig
    from evals.perplexity import perplexity as score
    from interp import hooked
    from interp.eval_text import eval_text
    from interp.eval_text import train_text as train_docs
    from interp.model_ref import reference_of
    from interp.seeding import set_seed

    set_seed(seed)
    cfg = PerplexityConfig(context=context, stride=stride, max_tokens=max_tokens, batch_size=batch_size,
                           leakage_n=ngram)
    ref = reference_of(model) or ""
    meta = hooked.run_metadata(ref) if ref else None
    ev = eval_text(ref or "model", meta, Path(text) if text is not None else None, split)
    if leakage_check:
        train, train_src = train_docs(ref or "model", meta, Path(train_text) if train_text is not None else None)
    else:
        train, train_src = None, "disabled (--no-leakage-check)"
    name, hf, tok = _load_hf(model, device)
    res = score(hf, ev.documents, cfg, tokenizer=tok, train_texts=train, progress=progress)
    return dataclasses.replace(res, model=name, source=ev.source, train_text=train_src, seed=seed)


def sensitivity(model: Any, *, prompts: str | Path | list[str] | tuple[str, ...] | None = None,
                decoding: str = "greedy,t0.7,k50", max_new_tokens: int = 30, device: str = "cpu", seed: int = 0,
                progress: bool = False, samples: int = 4) -> Any:
    """Prompt sensitivity: pairwise sentence BLEU between continuations of paraphrased prompts, per decoding.

    `prompts`: a file with one prompt per line, a list of prompts, or None for the built-in paraphrase family.
    `samples`: continuations per prompt under sampling decodings, each with its own seed derived from `seed`.
    Returns `evals.sensitivity.SensitivityResult`.
    """
    from evals.sensitivity import DEFAULT_PROMPTS, SensitivityConfig, read_prompts
    from evals.sensitivity import sensitivity as measure
    from interp.seeding import set_seed

    set_seed(seed)
    if prompts is None:
        prompt_list: tuple[str, ...] = DEFAULT_PROMPTS
    elif isinstance(prompts, (list, tuple)):
        prompt_list = tuple(prompts)
    else:
        from interp.text_input import read_text_file

        path = Path(prompts)
        if not path.exists():
            raise UserError(f"prompts file {str(path)!r} is not a file; write one prompt per line")
        raw = read_text_file(path, "prompts file")
        prompt_list = read_prompts(raw, f"prompts file {str(path)!r}")
    cfg = SensitivityConfig(prompts=prompt_list, decodings=tuple(decoding.split(",")), max_new_tokens=max_new_tokens,
                            seed=seed, samples=samples)
    name, hf, tok = _load_hf(model, device)
    res = measure(hf, cfg, tokenizer=tok, progress=progress)
    return dataclasses.replace(res, model=name)
