"""nanoGPT import time for the nanoGPT CPU-recipe checkpoint shape.

The shape of nanoGPT's README CPU command (config/train_shakespeare_char.py with --n_layer=4 --n_head=4
--n_embd=128 --block_size=64): a faithful `interp.importers.nanogpt_reference.GPT`, its AdamW state after
one step (as train.py saves it), `model_args`, `config`, saved with torch.save exactly like nanoGPT; the
char-level meta.pkl of Shakespeare's 65 symbols. Timed: `import_nanogpt(ckpt, out, meta=...)` end to end
(weights_only load, conversion, HF model build, safetensors + tokenizer write), median of --repeats runs,
and the HF logits' max deviation from the reference forward.

    python benchmarks/nanogpt_import.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import torch

CHARS = sorted(set("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))  # tinyshakespeare's 65


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "nanogpt_import.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from transformers import GPT2LMHeadModel

    from interp.importers.nanogpt import import_nanogpt
    from interp.importers.nanogpt_reference import GPT, NanoConfig
    from interp.results import write_json

    assert len(CHARS) == 65
    cfg = NanoConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    torch.manual_seed(1337)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    x = torch.randint(0, 65, (12, 64))
    model(x, x)[1].backward()
    opt.step()
    model.eval()
    stoi = {c: i for i, c in enumerate(CHARS)}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        ck = {"model": model.state_dict(), "optimizer": opt.state_dict(),
              "model_args": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, bias=True, vocab_size=65, dropout=0.0),
              "iter_num": 2000, "best_val_loss": torch.tensor(1.88),
              "config": {"batch_size": 12, "block_size": 64, "gradient_accumulation_steps": 1, "max_iters": 2000}}
        torch.save(ck, t / "ckpt.pt")
        with open(t / "meta.pkl", "wb") as f:
            pickle.dump({"vocab_size": 65, "itos": {i: c for c, i in stoi.items()}, "stoi": stoi}, f)
        import_nanogpt(t / "ckpt.pt", t / "warm", meta=t / "meta.pkl")  # warm-up: imports, first model build
        for i in range(args.repeats):
            t0 = time.perf_counter()
            r = import_nanogpt(t / "ckpt.pt", t / f"o{i}", meta=t / "meta.pkl")
            times.append(time.perf_counter() - t0)
        hf = GPT2LMHeadModel.from_pretrained(t / "o0").eval()
        with torch.no_grad():
            dev = (hf(x).logits - model(x)[0]).abs().max().item()
        size = (t / "ckpt.pt").stat().st_size
    out = {"shape": "nanoGPT CPU recipe: 4L×4H, n_embd 128, block 64, char vocab 65 (+ AdamW state)",
           "ckpt_bytes": size, "n_params": r.n_params, "repeats": args.repeats, "torch_threads": 1,
           "import_seconds_median": statistics.median(times), "import_seconds": times,
           "max_abs_logit_deviation_vs_reference": dev}
    write_json(args.out, out)
    print(f"import {size / 2**20:.1f} MiB ckpt ({r.n_params:,} params): median {out['import_seconds_median']:.3f} s "
          f"over {args.repeats}; max |logit diff| vs nanoGPT forward {dev:.2e}\nresults: {args.out}")


if __name__ == "__main__":
    main()
