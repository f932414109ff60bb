"""`interp info MODEL` and `interp generate MODEL PROMPT`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OptionalOutOpt, SeedOpt, echo_err, emit

app = typer.Typer()

MAX_NEW_TOKENS = 100_000  # = interp.decoding.MAX_NEW_TOKENS (kept import-light; tests check they agree)


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
    bridge, info = hooked.load_model(model, device)
    d = {"model": info.name, **hooked.describe(bridge), "run": hooked.run_metadata(model)}
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
    from interp.decoding import generate_text
    from interp.seeding import set_seed

    set_seed(seed)
    res = generate_text(model, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                        device=device, seed=seed, progress=not as_json)
    if res.prompt_tokens_dropped:
        echo_err(f"note: the prompt is longer than the context; kept its last {res.prompt_tokens} tokens")
    if res.slid_window:
        echo_err(f"note: generation went past the {res.n_ctx}-token context; the window slid "
                 f"(later tokens saw only the last {res.n_ctx})")
    emit(res, out, as_json, prompt + res.completion)


def __getattr__(name: str) -> Any:  # old home of the library function (now interp.decoding)
    if name in ("Generation", "generate_text"):
        from interp import decoding

        return getattr(decoding, name)
    raise AttributeError(name)


__all__ = ["MAX_NEW_TOKENS", "app"]
