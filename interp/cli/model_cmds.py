"""`interp info MODEL` and `interp generate MODEL PROMPT`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import typer

from interp import hooked
from interp.cli.common import DeviceOpt, JsonOpt, SeedOpt, emit
from interp.decoding import Decoding, distinct_n, generate, hf_logits_fn
from interp.errors import UserError
from interp.results import FrozenResult
from interp.seeding import set_seed

app = typer.Typer()

ModelArg = Annotated[str, typer.Argument(help="Run dir, checkpoint dir, HF dir, hub id, or 'gemma-3-270m'.")]


@app.command()
def info(
    model: ModelArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write results.json here.")] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Architecture, parameter count, layers/heads and the hook names of MODEL."""
    set_seed(seed)
    bridge = hooked.load(model, device=device)
    d = {"model": model, **hooked.describe(bridge), "run": hooked.run_metadata(model)}
    lines = [
        f"{model}: {d['architecture']}  {d['n_params']:,} params",
        f"  n_layers={d['n_layers']} n_heads={d['n_heads']} d_model={d['d_model']} d_head={d['d_head']} "
        f"d_mlp={d['d_mlp']} n_ctx={d['n_ctx']} d_vocab={d['d_vocab']}",
        "  hooks: " + ", ".join(d["hook_names"]),
    ]
    emit(d, out, as_json, "\n".join(lines))


@dataclass(frozen=True)
class Generation(FrozenResult):
    kind: str = "generation"
    model: str = ""
    prompt: str = ""
    decoding: str = "greedy"
    seed: int = 0
    prompt_tokens: int = 0
    completion: str = ""
    completion_tokens: tuple[int, ...] = ()
    distinct_1: float = 0.0
    distinct_2: float = 0.0


@app.command("generate")
def generate_cmd(
    model: ModelArg,
    prompt: Annotated[str, typer.Argument(help="Prompt text.")],
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n", min=1)] = 40,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy.", min=0.0)] = 0.0,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", help="Sample from the k most likely.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o")] = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Continue PROMPT with greedy, temperature or top-k decoding (seeded)."""
    set_seed(seed)
    if not prompt.strip():
        raise UserError("prompt is empty; pass some text to continue")
    # temperature 0 = greedy; top-k alone samples at temperature 1
    dec = Decoding(temperature=temperature or (1.0 if top_k else 0.0), top_k=top_k)
    hf, tok = hooked.load_hf(model, device=device)
    ids = torch.tensor([tok(prompt)["input_ids"]], device=device)
    n_ctx = int(getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", 1024))
    if ids.shape[1] >= n_ctx:
        ids = ids[:, -(n_ctx - 1):]
    full = generate(hf_logits_fn(hf), ids, max_new_tokens, n_ctx, dec, seed=seed)
    new = full[0, ids.shape[1]:].tolist()
    text = tok.decode(new)
    res = Generation(model=model, prompt=prompt, decoding=dec.name, seed=seed, prompt_tokens=ids.shape[1],
                     completion=text, completion_tokens=tuple(new),
                     distinct_1=distinct_n(new, 1), distinct_2=distinct_n(new, 2))
    emit(res, out, as_json, prompt + text)
