"""`interp sae train|eval|browse|formation|steer` — sparse autoencoders / transcoders (shell layer)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, OptionalOutOpt, OutOpt, SeedOpt, emit

app = typer.Typer()

HookOpt = Annotated[str, typer.Option("--hook", help="blocks.L.hook_resid_post | blocks.L.hook_mlp_out | "
                                      "transcoder:L (MLP L input → output).")]
CorpusOpt = Annotated[str | None, typer.Option("--corpus", help="A .txt file or folder (split like `interp "
                                               "train`); default: the model's run splits, else Shakespeare.")]
SaeArg = Annotated[Path, typer.Argument(help="SAE directory (sae.safetensors + sae.json).")]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@app.command("train")
def train_cmd(
    model: ModelArg,
    hook: HookOpt = "blocks.0.hook_resid_post",
    expansion: Annotated[int, typer.Option("--expansion", help="Latents = d_model × expansion.")] = 8,
    k: Annotated[int, typer.Option("--k", help="Active latents per token (TopK).")] = 32,
    tokens: Annotated[int, typer.Option("--tokens", help="Training tokens (the train split is cycled).")] = 1_000_000,
    corpus: CorpusOpt = None,
    context: Annotated[int, typer.Option("--context", help="Window length in tokens.")] = 128,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Windows per step.")] = 8,
    lr: Annotated[float | None, typer.Option("--lr", help="Default: sparsify's 2e-4 (adam) / 5e-3 (signum) × sqrt(2^14/latents).")] = None,
    save_every: Annotated[int, typer.Option("--save-every", help="Steps between resumable checkpoints.")] = 100,
    auxk_alpha: Annotated[float, typer.Option("--auxk-alpha", help="Weight of the AuxK loss (dead latents).")] = 1 / 32,
    dead_tokens: Annotated[int, typer.Option("--dead-tokens", help="Tokens without firing = dead (AuxK).")] = 10_000,
    optimizer: Annotated[str, typer.Option("--optimizer", help=(
        "adam (constant lr) or signum (sparsify's schedule-free SignSGD; resampling does not suit it)."))
    ] = "adam",
    resample_every: Annotated[int, typer.Option("--resample-every", help=(
        "Steps between resamplings of dead latents toward badly reconstructed tokens (0 = off)."))] = 50,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted run in --out.")] = False,
    init: Annotated[Path | None, typer.Option("--init", help="Warm-start from this SAE directory.")] = None,
    out: OptionalOutOpt = None,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train a TopK SAE or transcoder (eai-sparsify) on activations streamed from MODEL; saves
    sae.safetensors + sae.json beside the model (MODEL/sae/<hook>-x<E>-k<K>) or in --out."""
    from interp.sae.train import SAETrainConfig, train_sae
    from interp.seeding import set_seed

    set_seed(seed)
    cfg = SAETrainConfig(hook=hook, expansion=expansion, k=k, tokens=tokens, context=context,
                         batch_size=batch_size, lr=lr, save_every=save_every, seed=seed,
                         auxk_alpha=auxk_alpha, dead_tokens=dead_tokens, resample_every=resample_every,
                         optimizer=optimizer)
    t0, c0 = time.perf_counter(), _cpu()
    res = train_sae(model, cfg, corpus=corpus, out_dir=out, resume=resume, init=init, progress=not as_json,
                    device=device)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    d = res.to_dict()
    res.save(res.sae)
    timing = {"wall_s": wall, "cpu_s": cpu, "tokens_per_s": res.n_tokens / wall}
    (Path(res.sae) / "timing.json").write_text(json.dumps(timing) + "\n")  # not in results.json (not seeded)
    typer.echo(f"trained {res.n_tokens:,} tokens in {wall:.1f} s wall / {cpu:.1f} s CPU "
               f"({timing['tokens_per_s']:,.0f} tok/s)", err=True)
    emit(d, None, as_json, f"{res.model} {res.hook}: {res.num_latents} latents (k {cfg.k}), train FVU "
         f"{res.final_fvu:.4f}, dead {res.dead_fraction:.2%}\nSAE: {res.sae}\nresults: {res.sae}/results.json")


def _metric(m: dict, key: str, fmt: str = ".4f") -> str:
    v = m[key]
    if v["lo"] == v["lo"]:
        return f"{key} {v['value']:{fmt}} [{v['lo']:{fmt}}, {v['hi']:{fmt}}]"
    return f"{key} {v['value']:{fmt}}"


@app.command("eval")
def eval_cmd(
    model: ModelArg,
    sae: Annotated[list[Path], typer.Argument(help="SAE directories (several: an expansion × k sweep).")],
    corpus: CorpusOpt = None,
    split: Annotated[str, typer.Option("--split", help="Held-out split: val | test.")] = "val",
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Eval tokens.")] = 16_384,
    context: Annotated[int, typer.Option("--context")] = 128,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples.")] = 1000,
    out: OutOpt = Path("sae-eval"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """FVU, L0, dead/dense latents and the fraction of loss recovered (SAE spliced in vs clean vs zero-ablated)
    on held-out text, with paired bootstrap intervals; several SAEs: a sweep with a frontier plot."""
    from interp.results import save_result
    from interp.sae.coder import read_config
    from interp.sae.data import model_and_name
    from interp.sae.evaluate import SAEEvalConfig, evaluate_sae
    from interp.seeding import set_seed

    set_seed(seed)
    cfg = SAEEvalConfig(split=split, max_tokens=max_tokens, context=context, n_boot=n_boot, seed=seed)
    for s in sae:
        read_config(s)
    name, bridge = model_and_name(model, device)
    results = [evaluate_sae(bridge, s, config=cfg, corpus=corpus, device=device, progress=not as_json)
               for s in sae]
    results = [r.to_dict() | {"model": name} for r in results]
    lines = []
    for d in results:
        m = d["metrics"]
        lines.append(f"{d['sae']} ({d['hook']}, x{d['expansion']} k{d['k']}, {d['n_tokens']:,} held-out tokens): "
                     + ", ".join(_metric(m, x) for x in ("fvu", "loss_recovered", "dead_fraction", "dense_fraction"))
                     + f", L0 {m['l0']['value']:.1f}; loss clean {m['loss_clean']['value']:.4f} / SAE "
                     f"{m['loss_sae']['value']:.4f} / zero {m['loss_zero']['value']:.4f}")
    if len(results) == 1:
        data = results[0]
    else:
        from interp.sae.evaluate import sweep_dict

        data = sweep_dict(results, seed)
    save_result(data, out)
    emit(data, None, as_json, "\n".join(lines) + f"\nresults: {out / 'results.json'}")


@app.command("browse")
def browse_cmd(
    model: ModelArg,
    sae: SaeArg,
    corpus: CorpusOpt = None,
    split: Annotated[str, typer.Option("--split", help="Held-out split: val | test.")] = "val",
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Held-out tokens scanned.")] = 8192,
    n_latents: Annotated[int, typer.Option("--n-latents", help="Latents shown (a seeded random sample).")] = 48,
    latents: Annotated[str | None, typer.Option("--latents", help="Comma list of latent ids to show.")] = None,
    out: OutOpt = Path("sae-features"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Feature browser: per latent its top-activating held-out contexts, activation histogram, frequency and
    top logit effects; `interp report OUT` renders it (interactive in HTML, a table in PDF)."""
    from interp.errors import UserError
    from interp.sae.browse import BrowseConfig, browse_features
    from interp.sae.coder import read_config
    from interp.seeding import set_seed

    set_seed(seed)
    try:
        ids = tuple(int(x) for x in latents.split(",") if x.strip()) if latents else ()
    except ValueError:
        raise UserError(f"--latents must be a comma list of integers, got {latents!r}") from None
    cfg = BrowseConfig(split=split, max_tokens=max_tokens, n_latents=n_latents, latents=ids, seed=seed)
    read_config(sae)
    res = browse_features(model, sae, config=cfg, corpus=corpus, device=device)
    d = res.to_dict()
    res.save(out)
    emit(d, None, as_json, f"{res.model} {res.hook}: {len(res.latents)} latents shown, {res.n_alive} of "
         f"{res.num_latents} fire on {res.n_tokens:,} held-out tokens\nresults: {out / 'results.json'} "
         f"(interp report {out})")


def _prompts(path: Path | None, what: str) -> tuple[str, ...]:
    from interp.errors import UserError

    if path is None:
        return ()
    if not path.is_file():
        raise UserError(f"{what} file {str(path)!r} not found; give a text file with one prompt per line")
    try:
        lines = tuple(ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip())
    except UnicodeDecodeError:
        raise UserError(f"{what} file {path} is not UTF-8 text") from None
    if not lines:
        raise UserError(f"{what} file {path} has no prompts; write one per line")
    return lines


@app.command("steer")
def steer_cmd(
    model: ModelArg,
    coefficient: Annotated[float, typer.Option("--coefficient", "-c", help="Multiple of the direction added.")] = 4.0,
    sae: Annotated[Path | None, typer.Option("--sae", help="SAE directory (direction: a latent's decoder row).")] = None,
    latent: Annotated[int | None, typer.Option("--latent", help="Latent id (with --sae).")] = None,
    positive: Annotated[Path | None, typer.Option("--positive", help="Prompts (one per line): + side.")] = None,
    negative: Annotated[Path | None, typer.Option("--negative", help="Prompts (one per line): − side.")] = None,
    hook: Annotated[str | None, typer.Option("--hook", help="Hook for a mean-difference direction.")] = None,
    prompt: Annotated[str, typer.Option("--prompt", help="Prompt for the greedy continuations.")] = "The",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n")] = 24,
    corpus: CorpusOpt = None,
    split: Annotated[str, typer.Option("--split", help="Held-out split for the loss cost: val | test.")] = "val",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 8192,
    out: OutOpt = Path("steering"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Add coefficient × direction (an SAE latent's decoder row, or mean(positive) − mean(negative) activations)
    at a hook: steered vs clean greedy continuations, and the held-out loss cost with a paired bootstrap CI."""
    from interp.sae.steer import SteerConfig, steer
    from interp.seeding import set_seed

    set_seed(seed)
    cfg = SteerConfig(coefficient=coefficient, hook=hook, sae=str(sae) if sae else None, latent=latent,
                      positive=_prompts(positive, "--positive"), negative=_prompts(negative, "--negative"),
                      prompt=prompt, max_new_tokens=max_new_tokens, split=split, max_tokens=max_tokens, seed=seed)
    if sae is not None:
        from interp.sae.coder import read_config

        read_config(sae)
    res = steer(model, cfg, corpus=corpus, device=device)
    d = res.to_dict()
    res.save(out)
    dl = res.delta_loss
    emit(d, None, as_json, f"{res.model} {res.hook} + {res.coefficient:g} × {res.direction['source']} "
         f"(norm {res.direction['norm']:.3g}): held-out loss {res.loss_clean:.4f} → {res.loss_steered:.4f} "
         f"(Δ {dl['value']:+.4f}, 95% CI [{dl['lo']:+.4f}, {dl['hi']:+.4f}])\n"
         f"  clean:   {res.generation['clean']!r}\n  steered: {res.generation['steered']!r}\n"
         f"results: {out / 'results.json'}")


@app.command("formation")
def formation_cmd(
    series: Annotated[str, typer.Argument(help="Run dir, folder of checkpoints, or model dirs (interp.series).")],
    hook: HookOpt = "blocks.0.hook_resid_post",
    expansion: Annotated[int, typer.Option("--expansion")] = 8,
    k: Annotated[int, typer.Option("--k")] = 32,
    tokens: Annotated[int, typer.Option("--tokens", help="Training tokens per checkpoint.")] = 200_000,
    threshold: Annotated[float, typer.Option("--threshold", help="Match cosine for a stable feature.")] = 0.7,
    independent: Annotated[bool, typer.Option("--independent", help="Train every checkpoint's SAE from scratch "
                                              "(same seed) instead of warm-starting from the previous one: the "
                                              "checkpoints then shard over torchrun ranks.")] = False,
    corpus: CorpusOpt = None,
    out: OutOpt = Path("sae-formation"),
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """An SAE per checkpoint (warm-started from the previous, or with --independent from scratch, sharded over
    torchrun ranks), latents matched by decoder cosine (optimal assignment); birth = first checkpoint from which
    a match with cosine >= threshold persists to the end."""
    from interp.sae.formation import FormationConfig, formation
    from interp.seeding import set_seed

    set_seed(seed)
    from interp.attention import is_main_process

    cfg = FormationConfig(hook=hook, expansion=expansion, k=k, tokens=tokens, threshold=threshold, seed=seed,
                          warm_start=not independent)
    res = formation(series, cfg, out_dir=out / "saes", corpus=corpus, device=device, progress=not as_json)
    if not is_main_process():
        return  # rank 0 writes the result (torchrun)
    d = res.to_dict()
    res.save(out)
    born = ", ".join(f"{c['label']} {n}" for c, n in zip(res.checkpoints, res.born_per_checkpoint, strict=True))
    emit(d, None, as_json, f"{res.source} {res.hook}: latents born per checkpoint: {born}\n"
         f"results: {out / 'results.json'}")


def main() -> None:  # pragma: no cover - `python -m interp.sae.cli`
    app(sys.argv[1:])
