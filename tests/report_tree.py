"""A REAL results tree from the tiny random fixtures: every analysis/eval command run once (the contract
test's input, and `scripts/check_report.sh`'s default when no results folder is given).

    python -m tests.report_tree OUT_DIR     # builds OUT_DIR/model (tiny GPT-2) and OUT_DIR/results
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.conftest import TOY_TEXT


def _trimmed_files(d: Path) -> tuple[Path, Path]:
    rows = []
    for i in range(48):
        lab = ("cat", "dog")[i % 2]
        rows.append(f"The {lab} sat on the mat {i}.\t{lab}" if lab == "cat" else f"A dog chased the ball {i}.\t{lab}")
    dev, train = d / "dev.tsv", d / "train.tsv"
    dev.write_text("text\tlabel\n" + "\n".join(rows[:24]) + "\n")
    train.write_text("text\tlabel\n" + "\n".join(rows[24:]) + "\n")
    return dev, train


def coref_model(d: Path) -> Path:
    """A tiny random GPT-2 whose BPE saw the built-in coref texts (names and pronouns are one token)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp.tokenizer import train_bpe
    from probes.coref_data import builtin_examples

    if (d / "config.json").exists():
        return d
    tok = train_bpe([e.text for e in builtin_examples(8)] * 3, vocab_size=400)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    return d


def commands(m: str, run_dir: Path, txt: Path, dev: Path, train: Path, root: Path,
             coref_m: str | None = None) -> dict[str, list[str]]:
    """Result kind → the CLI command that writes it (model `m`, a tiny training run at `run_dir`)."""
    t = str(txt)
    return {
        "training": ["train", str(run_dir), "--preset", "tiny", "--corpus", t, "--epochs", "2", "--vocab-size", "300",
                     "--batch-size", "8", "--warmup-steps", "5", "--eval-tokens", "2048"],
        "generation": ["generate", m, "John lost his", "-n", "6", "--out", str(root / "generate")],
        "attention_maps": ["attention", m, "--prompt", "John lost his keys and he", "--out", str(root / "attention")],
        "attention_evolution": ["attention-evolution", str(run_dir), "--prompt", "John lost his keys",
                                "--out", str(root / "evolution")],
        "head_formation": ["head-formation", str(run_dir), "--induction-len", "8", "--out", str(root / "formation")],
        "ablation": ["ablate", m, "--heads", "0.*", "--method", "mean", "--text", t, "--max-tokens", "256", "-n", "6",
                     "--out", str(root / "ablation")],
        "ablation_sweep": ["ablate-sweep", m, "--text", t, "--max-tokens", "256", "--out", str(root / "sweep")],
        "patching": ["patch", m, "--clean", "John lost his keys", "--corrupt", "Mary lost his keys", "--metric", "loss",
                     "--out", str(root / "patching")],
        "coref_probe": ["probe", "coref", m, "--data", "builtin-small", "--out", str(root / "coref")],
        "coref_causal": ["probe", "coref", coref_m or m, "--data", "builtin-small", "--causal", "--out", str(root / "coref-causal")],
        "perplexity": ["eval", "perplexity", m, "--text", t, "--max-tokens", "400", "--train-text", t,
                       "--out", str(root / "perplexity")],
        "prompt_sensitivity": ["eval", "sensitivity", m, "--out", str(root / "sensitivity")],
        "trimmed_eval": ["eval", "trimmed", m, "--dataset", str(dev), "--train-file", str(train), "--text-column", "text",
                         "--label-column", "label", "--template", "Text: {text}\\nAnimal:", "--calibrate",
                         "--fit-head", "4", "--no-cache", "--out", str(root / "trimmed")],
    }


def build_tree(base: Path, model_dir: Path) -> Path:
    """Run every command on `model_dir`; return base/results (checkpoints removed: a report never reads them)."""
    from interp.cli import run

    root = base / "results"
    root.mkdir(parents=True, exist_ok=True)
    txt = base / "toy.txt"
    txt.write_text(TOY_TEXT)
    dev, train = _trimmed_files(base)
    cm = str(coref_model(base / "coref-model"))
    failed = {kind: rc for kind, argv in commands(str(model_dir), root / "run", txt, dev, train, root, cm).items()
              if (rc := run(argv)) != 0}
    if failed:
        raise RuntimeError(f"commands failed: {failed}")
    shutil.rmtree(root / "run" / "checkpoints", ignore_errors=True)
    return root


def tiny_model(d: Path) -> Path:
    """The `tiny_gpt2_dir` fixture, outside pytest."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from tests.conftest import _tokenizer

    tok = _tokenizer()
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    return d


if __name__ == "__main__":
    out = Path(sys.argv[1])
    print(build_tree(out, tiny_model(out / "model")))
