"""Coreference probe: behavioural check read off the probe pass vs. a separate forward per continuation.

`probes.coref.coref_probe` scores P(expected pronoun) and P(contrast pronoun) from the logits of the
same `run_with_cache` that yields the attention patterns (one forward per batch), falling back to a
second forward only for continuations the text cannot supply. The obvious alternative runs the
attention pass, then one forward per (prefix + continuation) — 3 forwards per example. Both are timed
side by side in ONE process (interleaved repeats, alternating order; medians and their ratio) on the
same model and examples, and their log-probs are checked to agree.

    .venv/bin/python benchmarks/coref_probe.py                       # random GPT-2-style model, builtin-small
    .venv/bin/python benchmarks/coref_probe.py --model gemma-3-270m --data handwritten --repeats 3

Default model: a random GPT-2 (4 layers, d_model 256, 8 heads, vocab 8192 — reference-model sized) with
a BPE trained on the probe texts (timing only; the weights do not matter).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interp import hooked  # noqa: E402
from interp.results import write_json  # noqa: E402
from probes.coref import (  # noqa: E402
    CorefConfig,
    attention_to_words,
    behaviour_inputs,
    bos_id,
    continuation_logprobs,
    coref_probe,
    encode,
)
from probes.coref_data import PROBE_SETS, load_probe_set  # noqa: E402


def random_reference_model(d: Path, examples, vocab: int) -> str:
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp.tokenizer import train_bpe

    texts = [e.text for e in examples] * 20
    for name in PROBE_SETS:
        texts += [e.text for e in load_probe_set(name)[1]] * 5
    tok = train_bpe(texts, vocab_size=400)
    cfg = GPT2Config(vocab_size=vocab, n_positions=128, n_embd=256, n_layer=4, n_head=8,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


def separate(bridge, examples, batch_size: int) -> np.ndarray:
    """Attention pass + one forward per (prefix + continuation): the baseline."""
    bos, n_ctx = bos_id(bridge), int(bridge.cfg.n_ctx)
    enc = [encode(bridge.tokenizer, e, bos, n_ctx) for e in examples]
    attention_to_words(bridge, enc, batch_size)
    items = []
    for e in examples:
        b = behaviour_inputs(bridge.tokenizer, e, bos)
        if b is not None:
            items += [(b[0], b[1]), (b[0], b[2])]
    return continuation_logprobs(bridge, items, batch_size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model reference (default: random GPT-2, vocab --vocab)")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--data", default="builtin-small")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default="benchmarks/results/coref_probe.json")
    args = ap.parse_args()

    label, examples = load_probe_set(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        ref = args.model or random_reference_model(Path(tmp), examples, args.vocab)
        bridge = hooked.load(ref)
        cfg = CorefConfig(batch_size=args.batch_size)
        # correctness: same log-probs both ways
        res = coref_probe(bridge, examples, cfg).to_dict()
        one = np.array([v for r in res["examples"] for v in (r["logprob_expected"], r["logprob_contrast"])
                        if r["logprob_expected"] is not None])
        sep = separate(bridge, examples, args.batch_size)
        max_diff = float(np.abs(one - sep).max())
        times: dict[str, list[float]] = {"one_pass": [], "separate": []}
        fns = {"one_pass": lambda: coref_probe(bridge, examples, cfg),
               "separate": lambda: separate(bridge, examples, args.batch_size)}
        for r in range(args.repeats):
            order = list(fns) if r % 2 == 0 else list(fns)[::-1]
            for name in order:
                t = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - t)
        d = hooked.describe(bridge)

    med = {k: statistics.median(v) for k, v in times.items()}
    out = {
        "benchmark": "coref_probe", "model": args.model or f"random gpt2 4x256 vocab {args.vocab}",
        "architecture": d["architecture"], "n_params": d["n_params"], "data": label, "n_examples": len(examples),
        "batch_size": args.batch_size, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
        "times_s": times, "median_s": med, "speedup_separate_over_one_pass": med["separate"] / med["one_pass"],
        "second_pass_items": res["behaviour"]["n_second_pass"], "max_abs_logprob_diff": max_diff,
    }
    print(f"{'variant':<10} {'median s':>9}  runs")
    for k, v in times.items():
        print(f"{k:<10} {med[k]:>9.3f}  " + " ".join(f"{x:.3f}" for x in v))
    print(f"ratio separate / one_pass = {out['speedup_separate_over_one_pass']:.2f}x  "
          f"(n={len(examples)}, 2nd-pass items {out['second_pass_items']}, max |Δ logprob| {max_diff:.2e})")
    write_json(args.out, out)
    print(f"wrote {args.out}")
    print(json.dumps({"median_s": med}, indent=None))


if __name__ == "__main__":
    main()
