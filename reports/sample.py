"""A small synthetic results tree that exercises every report section (tests, `scripts/check_report.sh`).

    write_sample_tree(DIR) writes, by hand, JSON shaped like what the commands produce:
      run/          run.json, metrics.jsonl, results.json (kind "training")
      generate/     results.json (kind "generation")
      attention/    results.json (kind "attention_maps", 2 layers × 2 heads, a hostile prompt), a tiny PNG
      evolution/    results.json (kind "attention_evolution", 3 epochs)
      perplexity/, sensitivity/, coref/   kinds "perplexity", "prompt_sensitivity", "coref_probe"
      ablate/, sweep/, trimmed/           kinds "ablation", "ablation_sweep", "trimmed_eval" (+ a PNG each)
      mystery/      results.json (kind "mystery_metric": unknown to the report → generic section) + a PNG
No model, no torch: the numbers are made up (but valid: attention rows sum to 1, causal).

`XSS_PROMPT` contains markup that must come out of the HTML report as text.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

XSS_PROMPT = 'The <script>alert(1)</script> "cat" & </script><img src=x onerror=alert(2)> sat on the $mat$.'


def tiny_png(width: int = 96, height: int = 64, rgb: tuple[int, int, int] = (37, 99, 235)) -> bytes:
    """A valid RGB PNG of a two-colour gradient, built without any imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b""
    for y in range(height):
        rows += b"\x00" + b"".join(bytes(int(c * (x + y + 1) / (width + height)) for c in rgb) for x in range(width))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _causal(T: int, sharp: int, seed: int) -> list[list[float]]:
    """A made-up causal attention pattern: row q prefers key q-sharp (deterministic)."""
    rows = []
    for q in range(T):
        w = [math.exp(-abs(k - max(0, q - sharp)) + 0.1 * ((seed * 7 + k * 3 + q) % 5)) for k in range(q + 1)]
        s = sum(w)
        rows.append([round(x / s, 6) for x in w] + [0.0] * (T - q - 1))
    return rows


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_sample_tree(root: str | Path) -> Path:
    root = Path(root)
    # -- training run
    run = {
        "schema_version": 1, "kind": "run", "seed": 0, "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "created": "2026-01-01T00:00:00Z",
        "config": {"model": {"n_layers": 2, "n_heads": 2, "d_model": 64, "n_ctx": 64, "d_vocab": 512, "d_mlp": None,
                             "dropout": 0.0}, "preset": "tiny", "corpus": None, "batch_size": 16, "lr": 0.002,
                   "max_epochs": 3, "seed": 0, "device": "cpu"},
        "data": {"corpus": "shakespeare", "val_frac": 0.05, "test_frac": 0.05, "split_seed": 0,
                 "splits": {k: {"mode": "documents", "documents": [f"{k}_{i}.txt" for i in range(n)], "n_documents": n,
                                "n_chars": 1000 * n, "n_tokens": 300 * n, "sha256": f"{k[0] * 8}{'ab' * 28}"}
                            for k, n in (("train", 38), ("val", 2), ("test", 2))}},
        "tokenizer": {"type": "byte-level BPE (tokenizers)", "vocab_size": 512, "trained_on": "train split"},
        "versions": {"python": "3.11.7", "interp": "0.1.0", "torch": "2.13.0"},
    }
    _write(root / "run" / "run.json", run)
    metrics = []
    for step in range(1, 31):
        rec = {"step": step, "epoch": step / 10, "lr": 0.002 * min(1, step / 5), "train_loss": 6.2 - 3 * (1 - math.exp(-step / 8)),
               "grad_norm": 1.0 / step ** 0.5}
        if step % 10 == 0:
            rec.update(val_loss=rec["train_loss"] + 0.2, val_ppl=math.exp(rec["train_loss"] + 0.2))
        metrics.append(rec)
    (root / "run" / "metrics.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in metrics))
    _write(root / "run" / "results.json", {
        "schema_version": 1, "kind": "training", "run_dir": "runs/tiny", "epochs_completed": 3, "steps": 30,
        "tokens_seen": 30720, "best_val_loss": 3.55, "best_epoch": 3.0, "final_val_loss": 3.55, "stopped_early": False,
        "checkpoints": ["checkpoints/epoch-001", "checkpoints/epoch-002", "checkpoints/epoch-003"],
        "tokens_per_s": 12345.6, "wall_s": 2.5})
    # -- generation
    _write(root / "generate" / "results.json", {
        "schema_version": 1, "kind": "generation", "model": "runs/tiny", "prompt": XSS_PROMPT, "decoding": "greedy",
        "seed": 0, "prompt_tokens": 21, "completion": " and the <b>dog</b> said\n</pre>hello & goodbye",
        "completion_tokens": [5, 6, 7, 8, 9], "distinct_1": 1.0, "distinct_2": 1.0})
    # -- attention maps
    tokens = ["<|endoftext|>", "The", "␣<script>", "alert(1)", "</script>", "␣cat"]
    T = len(tokens)
    pats = [[_causal(T, 1 + h, 10 * layer + h) for h in range(2)] for layer in range(2)]
    head_mean = [[[round((a + b) / 2, 6) for a, b in zip(r0, r1, strict=True)]
                  for r0, r1 in zip(pats[layer][0], pats[layer][1], strict=True)] for layer in range(2)]
    _write(root / "attention" / "results.json", {
        "schema_version": 1, "kind": "attention_maps", "model": "runs/tiny", "prompt": XSS_PROMPT,
        "config": {"layers": None, "heads": None, "prepend_bos": None, "max_tokens": None, "top_k": 3},
        "n_layers": 2, "n_heads": 2, "n_ctx": 64, "tokens": tokens, "token_ids": list(range(T)),
        "n_prompt_tokens": T, "truncated": False, "n_dropped": 0, "layers": [0, 1], "heads": [[0, 1], [0, 1]],
        "patterns": pats, "head_mean": head_mean, "next_token": "␣sat", "next_token_id": 42, "next_token_prob": 0.31,
        "top_next": [{"token": "␣sat", "id": 42, "prob": 0.31}, {"token": "</script>", "id": 4, "prob": 0.2},
                     {"token": "␣on", "id": 43, "prob": 0.1}],
        "seed": 0})
    (root / "attention" / "attention_L0.png").write_bytes(tiny_png())
    # -- attention evolution
    cks = []
    for i, epoch in enumerate((1, 2, 3)):
        grid = [_causal(T, 1, epoch + layer) for layer in range(2)]
        score = [[round(0.1 * (i + 1) + 0.05 * h + 0.1 * layer, 4) for h in range(2)] for layer in range(2)]
        cks.append({"epoch": epoch, "next_token": "␣sat", "next_token_id": 42, "next_token_prob": 0.1 * (i + 1),
                    "grid": grid, "entropy": [[1.2 - 0.1 * i] * 2] * 2, "prev_token": score, "sink": score,
                    "induction": score, "js_distance": None if i == 0 else [[0.3 / i] * 2] * 2})
    _write(root / "evolution" / "results.json", {
        "schema_version": 1, "kind": "attention_evolution", "run_dir": "runs/tiny", "prompt": "The cat sat on the mat.",
        "config": {"heads": None, "seed": 0}, "n_layers": 2, "n_heads": 2, "n_ctx": 64, "tokens": tokens,
        "token_ids": list(range(T)), "n_prompt_tokens": T, "truncated": False, "n_dropped": 0, "heads": None,
        "grid_columns": ["L0 mean", "L1 mean"], "induction_len": 8, "induction_batch": 2, "induction_bos": True,
        "epochs": [1, 2, 3], "checkpoints": cks})
    # -- perplexity (evals/perplexity.py via `interp eval perplexity`)
    _write(root / "perplexity" / "results.json", {
        "schema_version": 1, "kind": "perplexity", "model": "runs/tiny", "source": "test split of runs/tiny",
        "train_text": "train split of runs/tiny", "seed": 0, "context": 64, "stride": 63, "prepend_bos": True,
        "bos_token_id": 0, "n_documents": 2, "n_skipped_documents": 0, "n_windows": 20, "n_tokens": 1200,
        "n_bytes": 4800, "n_chars": 4790, "nll_sum": 4200.0, "nll_per_token": 3.5, "perplexity": 33.12,
        "bits_per_byte": 1.262, "nats_per_char": 0.8768, "bytes_per_token": 4.0,
        "documents": [{"index": 0, "n_tokens": 600, "n_bytes": 2400, "n_chars": 2395, "nll_sum": 2000.0, "truncated": False},
                      {"index": 1, "n_tokens": 600, "n_bytes": 2400, "n_chars": 2395, "nll_sum": 2200.0, "truncated": False}],
        "windows": {"doc": [0] * 20, "start": list(range(20)), "end": list(range(1, 21)), "n_scored": [60] * 20,
                    "nll_sum": [210.0] * 20},
        "leakage": {"kind": "leakage", "n": 13, "threshold": 0.1, "ngram_overlap": 0.02, "token_coverage": 0.05,
                    "documents_with_overlap": 1, "flagged": False, "message": "2.0% of eval 13-grams occur in training"},
        "warnings": []})
    # -- prompt sensitivity (evals/sensitivity.py)
    prompts = ["The university student", "A college student", "One <em>student</em>"]
    _write(root / "sensitivity" / "results.json", {
        "schema_version": 1, "kind": "prompt_sensitivity", "model": "runs/tiny", "prompts": prompts,
        "max_new_tokens": 8, "seed": 0, "bleu_signature": "sentence_bleu|…",
        "decodings": [{"decoding": "greedy", "continuations": [" was tired.", " was tired!", " </td> went home"],
                       "continuation_tokens": [[1, 2], [1, 3], [4, 5]],
                       "bleu": [[None, 60.0, 5.0], [60.0, None, 4.0], [5.0, 4.0, None]],
                       "bleu_mean": 23.0, "bleu_min": 4.0, "bleu_max": 60.0, "distinct_1": [1.0, 1.0, 1.0],
                       "distinct_2": [1.0, 1.0, 1.0], "distinct_1_mean": 1.0, "distinct_2_mean": 1.0}]})
    # -- coreference probe (probes/coref.py)
    acc = {"accuracy": 0.75, "k": 6, "n": 8, "ci_low": 0.41, "ci_high": 0.93, "chance": 0.5}
    _write(root / "coref" / "results.json", {
        "schema_version": 1, "kind": "coref_probe", "model": "runs/tiny", "probe_set": "handwritten", "seed": 0,
        "n_examples": 8, "n_layers": 2, "n_heads": 2, "chance": 0.5, "confidence": 0.95,
        "head_accuracy": [[0.5, 0.75], [0.625, 0.375]], "head_margin": [[0.0, 0.1], [0.05, -0.1]],
        "layer_mean_accuracy": [0.6, 0.5],
        "best_heads": [{"head": "0.1", "layer": 0, "head_index": 1, **acc, "mean_margin": 0.1}],
        "best_head_heldout": {"head": "0.1", "selected_on": 4, **acc, "n": 4},
        "head_mean": {**acc, "mean_antecedent": 0.3, "mean_distractor": 0.2}, "recency_baseline": {**acc, "accuracy": 0.5},
        "behaviour": {**acc, "n_skipped": 0, "mean_logprob_diff": 0.4},
        "by_cross_sentence": {"single": {"n": 4, "head_mean": acc, "best_head": acc, "behaviour": acc,
                                         "recency_baseline": acc}},
        "by_category": {},
        "examples": [{"text": "John lost his keys.", "pronoun": "his", "antecedent": "John", "distractor": "keys",
                      "category": "possessive", "head_mean_correct": True, "best_head_correct": True,
                      "behaviour_correct": None}]})
    # -- head ablation, sweep (interp/ablation.py) and trimmed classification (evals/trimmed.py); each folder
    #    has a saved figure, so the report embeds it instead of drawing one
    bucket = {"start": 0, "end": 32, "n_tokens": 100, "clean_loss": 3.5, "ablated_loss": 3.7, "delta_mean": 0.2,
              "frac_hurt": 0.6}
    _write(root / "ablate" / "results.json", {
        "schema_version": 1, "kind": "ablation", "model": "runs/tiny", "source": "split:val", "method": "zero",
        "heads": [[0, 1], [1, 0]], "heads_spec": "0.1,1.0", "seed": 0, "n_layers": 2, "n_heads": 2, "n_windows": 4,
        "window_len": 64, "n_tokens_scored": 252, "clean_loss": 3.5, "ablated_loss": 3.7, "delta_loss": 0.2,
        "clean_perplexity": 33.1, "ablated_perplexity": 40.4,
        "delta": {"frac_helped": 0.3, "frac_hurt": 0.6, "max": 2.0, "mean": 0.2, "median": 0.1, "p90": 0.5},
        "by_position": [bucket, {**bucket, "start": 32, "end": 63}],
        "generation": {"prompt": "The cat sat on", "decoding": "greedy", "max_new_tokens": 5, "same": False,
                       "clean": {"text": " the mat.", "tokens": [1, 2], "distinct_1": 1.0, "distinct_2": 1.0},
                       "ablated": {"text": "\n\n\n", "tokens": [3, 3, 3], "distinct_1": 0.33, "distinct_2": 0.5}}})
    (root / "ablate" / "ablation_by_position.png").write_bytes(tiny_png())
    _write(root / "sweep" / "results.json", {
        "schema_version": 1, "kind": "ablation_sweep", "model": "runs/tiny", "source": "split:val", "method": "zero",
        "seed": 0, "batched": True, "n_layers": 2, "n_heads": 2, "heads_spec": "*.*", "n_windows": 4, "window_len": 64,
        "n_tokens_scored": 252, "clean_loss": 3.5, "delta_loss": [[0.01, 0.2], [-0.003, 0.05]],
        "ablated_loss": [[3.51, 3.7], [3.497, 3.55]], "frac_hurt": [[0.5, 0.7], [0.45, 0.55]],
        "ranking": [{"head": "0.1", "delta_loss": 0.2, "frac_hurt": 0.7}, {"head": "1.1", "delta_loss": 0.05,
                                                                            "frac_hurt": 0.55}]})
    (root / "sweep" / "ablation_heatmap.png").write_bytes(tiny_png())
    report = {"n": 4, "accuracy": 0.5, "macro_f1": 0.33, "per_class": {"neg": {"precision": 0.5, "recall": 1.0,
              "f1": 0.67, "support": 2}, "pos": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}},
              "confusion": [[2, 0], [2, 0]], "predictions": [0, 0, 0, 0]}
    _write(root / "trimmed" / "results.json", {
        "schema_version": 1, "kind": "trimmed_eval", "model": "runs/tiny", "labels": ["neg", "pos"],
        "dataset": {"name": "toy", "split": "test", "n": 4, "label_counts": {"neg": 2, "pos": 2}},
        "label_tokens": [{"label": "neg", "token_id": 5, "token": "Ġneg", "n_tokens": 1}], "template": "Review: {text}\nSentiment:",
        "shots": [], "config": {"calibrate": False}, "n_truncated": 0, "gold": [0, 0, 1, 1],
        "variants": {"trimmed": report, "full_vocab": {**report, "confusion": [[1, 0, 1], [0, 0, 2]]}},
        "calibration": None, "fit": None, "full_vocab": {"label_token_rate": 0.5, "accuracy": 0.25}})
    (root / "trimmed" / "confusion.png").write_bytes(tiny_png())
    # -- a kind the report does not know
    _write(root / "mystery" / "results.json", {
        "schema_version": 1, "kind": "mystery_metric", "model": "runs/tiny", "seed": 3, "score": 0.4242,
        "note": "file <b>name</b> & more", "settings": {"alpha": 0.5, "mode": "fast"},
        "rows": [{"name": "<i>a</i>", "value": 1.5}, {"name": "b", "value": 2.25, "extra": True}],
        "matrix": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]],
        "per_split": {"val": {"acc": 0.7, "n": 10}, "test": {"acc": 0.65, "n": 12}},
        "cube": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]})
    (root / "mystery" / "<odd> name.png").write_bytes(tiny_png(64, 64, (200, 60, 60)))
    return root
