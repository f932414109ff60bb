"""`interp info MODEL` and `interp generate MODEL PROMPT`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OptionalOutOpt, SeedOpt, echo_err, emit
from interp.errors import UserError
from interp.results import FrozenResult

app = typer.Typer()

MAX_NEW_TOKENS = 100_000


@app.command()
def info(
    model: ModelArg,
    out: OptionalOutOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Architecture, parameter count, layers/heads and the hook names of MODEL."""
    from interp import hooked
    from interp.seeding import set_seed

    set_seed(seed)
    bridge = hooked.load(model, device=device)
    d = {"model": model, **hooked.describe(bridge), "run": hooked.run_metadata(model)}
    lines = [
        f"{model}: {d['architecture']}  {d['n_params']:,} params",
        f"  n_layers={d['n_layers']} n_heads={d['n_heads']} d_model={d['d_model']} d_head={d['d_head']} "
        f"d_mlp={d['d_mlp']} n_ctx={d['n_ctx']} d_vocab={d['d_vocab']}",
        f"  hooks ({len(d['hook_names'])}; L = 0..{d['n_layers'] - 1}):",
        *hook_lines(d["hook_names"]),
    ]
    emit(d, out, as_json, "\n".join(lines))


def hook_lines(names: list[str], width: int = 100) -> list[str]:
    """Hook names grouped by module ('blocks.{L}.attn': hook_q, hook_k, ...), each group wrapped to `width`."""
    import textwrap

    groups: dict[str, list[str]] = {}
    for n in names:
        mod, _, leaf = n.rpartition(".")
        groups.setdefault(mod or "(top)", []).append(leaf)
    out = []
    for mod in sorted(groups, key=lambda m: (m.startswith("blocks."), m)):
        head = f"    {mod}: "
        out += textwrap.wrap(", ".join(groups[mod]), width=width, initial_indent=head,
                             subsequent_indent=" " * len(head), break_on_hyphens=False)
    return out


@dataclass(frozen=True)
class Generation(FrozenResult):
    kind: str = "generation"
    model: str = ""
    prompt: str = ""
    decoding: str = "greedy"
    seed: int = 0
    prompt_tokens: int = 0
    prompt_tokens_dropped: int = 0
    n_ctx: int = 0
    slid_window: bool = False  # generation went past n_ctx: the model saw only the last n_ctx tokens
    completion: str = ""
    completion_tokens: tuple[int, ...] = ()
    distinct_1: float = 0.0
    distinct_2: float = 0.0


def generate_text(model: Any, prompt: str, *, max_new_tokens: int = 40, temperature: float = 0.0,
                  top_k: int | None = None, device: str = "cpu", seed: int = 0, progress: bool = False) -> Generation:
    """Continue `prompt` with greedy (temperature 0), temperature or top-k decoding (seeded).

    `model` is a model reference (run dir, HF dir, hub id, ...) or a loaded HF causal LM with `.tokenizer` set.
    Past the context window the window slides (as nanoGPT's `generate`): each new token sees the last n_ctx
    tokens. The prompt keeps its last n_ctx − 1 tokens (BOS first, `interp.tokens`).
    """
    import torch

    from interp import hooked
    from interp.decoding import Decoding, distinct_n, generate, hf_logits_fn
    from interp.tokens import encode_prompt

    if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise UserError(f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}, got {max_new_tokens!r}")
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError("prompt is empty; pass some text to continue")
    dec = Decoding(temperature=temperature or (1.0 if top_k else 0.0), top_k=top_k)  # top-k alone: T = 1
    if isinstance(model, str):
        name = model
        hf, tok = hooked.load_hf(model, device=device)
    else:
        name, hf, tok = type(model).__name__, model, getattr(model, "tokenizer", None)
    if tok is None:
        raise UserError("this model has no tokenizer; save one next to the weights (tokenizer.save_pretrained)")
    n_ctx = int(getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", 1024))
    p = encode_prompt(tok, prompt, n_ctx=n_ctx, reserve=1)
    ids = torch.tensor([p.ids], device=device)  # (1, T)
    full = generate(hf_logits_fn(hf), ids, max_new_tokens, n_ctx, dec, seed=seed)
    new = full[0, ids.shape[1]:].tolist()
    return Generation(model=name, prompt=prompt, decoding=dec.name, seed=seed, prompt_tokens=len(p.ids),
                      prompt_tokens_dropped=p.n_dropped, n_ctx=n_ctx, slid_window=len(p.ids) + len(new) > n_ctx,
                      completion=tok.decode(new), completion_tokens=tuple(new),
                      distinct_1=distinct_n(new, 1), distinct_2=distinct_n(new, 2))


@app.command("generate")
def generate_cmd(
    model: ModelArg,
    prompt: Annotated[str, typer.Argument(help="Prompt text.")],
    max_new_tokens: Annotated[int, typer.Option(
        "--max-new-tokens", "-n", min=1, max=MAX_NEW_TOKENS,
        help="Tokens to generate. Past the model's context the window slides (each token sees the last n_ctx).")] = 40,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy.", min=0.0, max=100.0)] = 0.0,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, help="Sample from the k most likely.")] = None,
    out: OptionalOutOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Continue PROMPT with greedy, temperature or top-k decoding (seeded)."""
    from interp.seeding import set_seed

    set_seed(seed)
    res = generate_text(model, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                        device=device, seed=seed)
    if res.prompt_tokens_dropped:
        echo_err(f"note: the prompt is longer than the context; kept its last {res.prompt_tokens} tokens")
    if res.slid_window:
        echo_err(f"note: generation went past the {res.n_ctx}-token context; the window slid "
                 f"(later tokens saw only the last {res.n_ctx})")
    emit(res, out, as_json, prompt + res.completion)


__all__ = ["Generation", "generate_text", "app"]
