"""Report sections for SAE results (torch-free; interp.kit only): training, evaluation, sweep, features."""

from __future__ import annotations

from typing import Any

from interp.kit.document import Figure, Table
from interp.kit.section import Built, Finding, SectionSpec, ci_text, fmt, headline, require, verdict_vs
from interp.kit.stage import Stage


def _figs(stage: Stage) -> list[Figure]:
    return [Figure(caption=f.rel, png=f.png, svg=f.svg) for f in stage.figures]


def _m(d: dict[str, Any], key: str) -> dict[str, Any]:
    return (d.get("metrics") or {}).get(key) or {}


# ----------------------------------------------------------------------------- training
def _train_build(stage: Stage) -> Built:
    d = stage.data
    require(d, "final_fvu", "number")
    b = Built(blocks=[*_figs(stage), headline([
        ("hook", d.get("hook")), ("latents (k)", f"{d.get('num_latents')} ({(d.get('config') or {}).get('k')})"),
        ("training tokens", d.get("n_tokens")), ("epochs over the train split", d.get("epochs")),
        ("final train FVU (last 10% of steps)", d.get("final_fvu")),
        ("dead latents (training)", d.get("dead_fraction")), ("text", d.get("source"))])])
    b.used.update({"hook", "num_latents", "n_tokens", "epochs", "final_fvu", "dead_fraction", "source", "curve"})
    return b


TRAIN = SectionSpec(
    kind="sae_train", title="SAE training", order=62,
    guide=lambda s: ("A TopK sparse autoencoder (eai-sparsify) trained on activations streamed from the model. "
                     "FVU = fraction of the activation variance the reconstruction misses (1 = no better than the "
                     "mean, 0 = perfect); this is the training-batch FVU — see the SAE evaluation for held-out "
                     "numbers with intervals."),
    findings=lambda s: [], build=_train_build)


# ----------------------------------------------------------------------------- evaluation
def _eval_findings(stage: Stage) -> list[Finding]:
    d = stage.data
    out = []
    rec, fvu = _m(d, "loss_recovered"), _m(d, "fvu")
    if rec.get("value") is not None:
        lo, hi = rec.get("lo"), rec.get("hi")
        verdict = verdict_vs(lo, hi, 0.0, "zero-ablation") if lo == lo else "no interval"
        if lo == lo and lo > 0.9:
            verdict = "recovers > 90% of the loss gap (whole interval)"
        out.append(Finding(f"SAE {d.get('hook')} x{d.get('expansion')} k{d.get('k')}: loss recovered",
                           f"{rec['value']:.3f}", verdict, interval=ci_text(lo, hi, 3),
                           baseline="0 = hook zero-ablated, 1 = clean"))
    if fvu.get("value") is not None:
        out.append(Finding(f"SAE {d.get('hook')}: held-out FVU", f"{fvu['value']:.3f}",
                           "reconstructs most of the variance" if fvu.get("hi", 1) < 0.5 else "reconstruction poor",
                           interval=ci_text(fvu.get("lo"), fvu.get("hi"), 3), baseline="1 = predicting the mean"))
    return out


def _row(name: str, m: dict[str, Any], digits: int = 4) -> tuple[str, str, str]:
    v = m.get("value")
    iv = ci_text(m.get("lo"), m.get("hi"), digits) if m.get("lo") == m.get("lo") else ""
    return name, fmt(v), iv


def _eval_build(stage: Stage) -> Built:
    d = stage.data
    require(d, "metrics", "dict")
    rows = [_row(label, _m(d, key)) for key, label in (
        ("fvu", "FVU (held-out)"), ("loss_recovered", "fraction of loss recovered"), ("l0", "L0"),
        ("dead_fraction", "dead latents"), ("dense_fraction", "dense latents (> 10% of tokens)"),
        ("loss_clean", "loss clean"), ("loss_sae", "loss with SAE spliced"), ("loss_zero", "loss, hook zeroed"))]
    b = Built(blocks=[*_figs(stage), Table(columns=("metric", "value", "95% CI"), rows=tuple(rows),
                                           caption=f"{d.get('hook')}: {d.get('n_tokens')} held-out tokens "
                                                   f"({d.get('source')})")])
    b.used.update({"metrics", "hook", "n_tokens", "source", "frequency_hist"})
    return b


EVAL = SectionSpec(
    kind="sae_eval", title="SAE evaluation", order=63,
    guide=lambda s: ("On held-out text (never the training tokens): FVU = unexplained variance of the "
                     "activation; L0 = active latents per token; dead = never fire, dense = fire on > 10% of "
                     "tokens; fraction of loss recovered = (loss with the hook zeroed − loss with the SAE "
                     "spliced in) / (zeroed − clean): 1 = as good as the clean model, 0 = no better than "
                     "deleting the activation. Intervals: paired bootstrap over windows."),
    findings=_eval_findings, build=_eval_build)


# ----------------------------------------------------------------------------- sweep
def _sweep_build(stage: Stage) -> Built:
    d = stage.data
    rows = require(d, "rows", "list")
    table = Table(columns=("expansion", "k", "L0", "FVU", "loss recovered", "dead"), rows=tuple(
        (str(r["expansion"]), str(r["k"]), fmt(r["l0"]["value"]), f"{fmt(r['fvu']['value'])} "
         f"{ci_text(r['fvu']['lo'], r['fvu']['hi'], 3)}", f"{fmt(r['loss_recovered']['value'])} "
         f"{ci_text(r['loss_recovered']['lo'], r['loss_recovered']['hi'], 3)}", fmt(r["dead_fraction"]["value"]))
        for r in rows), caption="SAE sweep (held-out)")
    b = Built(blocks=[*_figs(stage), table])
    b.used.update({"rows", "evals"})
    return b


SWEEP = SectionSpec(kind="sae_sweep", title="SAE sweep frontier", order=64,
                    guide=lambda s: EVAL.guide(s) + " Each point is one SAE; lower-left (FVU) / upper-left (loss "
                    "recovered) is better: fewer active latents for the same fidelity.",
                    findings=lambda s: [], build=_sweep_build)


# ----------------------------------------------------------------------------- features
def _features_build(stage: Stage) -> Built:
    from interp.sae.browse_view import feature_view_data

    d = stage.data
    lat = require(d, "latents", "list")
    rows = []
    for f in lat[:12]:
        ctx = f["contexts"][0] if f.get("contexts") else None
        shown = "".join(ctx["tokens"]) if ctx else "—"
        up = ", ".join(t for t, _ in f.get("logits_up", [])[:4])
        rows.append((str(f["id"]), f"{f['frequency']:.4f}", fmt(f.get("max_act")), shown[-60:], up))
    table = Table(columns=("latent", "frequency", "max act", "top context (peak last)", "logits raised"),
                  rows=tuple(rows), caption=f"{len(lat)} latents of {d.get('num_latents')} "
                                            f"({d.get('n_alive')} fire on the held-out text); first 12 shown")
    b = Built(blocks=[table], features=feature_view_data(d))
    b.used.update({"latents", "num_latents", "n_alive"})
    return b


def _features_findings(stage: Stage) -> list[Finding]:
    d = stage.data
    n, alive = d.get("num_latents"), d.get("n_alive")
    if not n:
        return []
    from interp.kit.section import wilson_from

    _, lo, hi = wilson_from(alive / n, n)
    return [Finding(f"SAE {d.get('hook')}: latents that fire on held-out text", f"{alive}/{n}",
                    "descriptive (an unbiased random sample is shown in the browser)",
                    interval=ci_text(lo, hi, 3))]


FEATURES = SectionSpec(
    kind="sae_features", title="SAE feature browser", order=65,
    guide=lambda s: ("Per latent: the held-out contexts where it is most active (shaded by activation, the "
                     "peak token outlined), its activation histogram, how often it fires (Wilson 95% interval), "
                     "and the tokens whose logits its decoder direction raises / lowers most through W_U "
                     "(ignoring the final norm). Latents are a seeded random sample of those that fire. In the "
                     "HTML report, search by latent id or context text and click a latent."),
    findings=_features_findings, build=_features_build)


# ----------------------------------------------------------------------------- steering
def _steer_findings(stage: Stage) -> list[Finding]:
    d = stage.data
    dl = d.get("delta_loss") or {}
    if dl.get("value") is None:
        return []
    lo, hi = dl.get("lo"), dl.get("hi")
    verdict = verdict_vs(lo, hi, 0.0, "the unsteered model") if lo == lo else "no interval"
    src = (d.get("direction") or {}).get("source", "?")
    return [Finding(f"Steering {d.get('hook')} + {d.get('coefficient')} × {src}: held-out loss cost",
                    f"Δ {dl['value']:+.4f} nats/token", f"loss {verdict}", interval=ci_text(lo, hi, 4),
                    baseline="Δ 0 = unsteered")]


def _steer_build(stage: Stage) -> Built:
    from interp.kit.document import Preformatted

    d = stage.data
    require(d, "delta_loss", "dict")
    g = d.get("generation") or {}
    b = Built(blocks=[headline([
        ("hook", d.get("hook")), ("direction", (d.get("direction") or {}).get("source")),
        ("coefficient", d.get("coefficient")), ("direction norm", (d.get("direction") or {}).get("norm")),
        ("loss clean → steered", f"{fmt(d.get('loss_clean'))} → {fmt(d.get('loss_steered'))}"),
        ("Δloss (95% CI)", f"{fmt(d['delta_loss'].get('value'))} "
                           f"{ci_text(d['delta_loss'].get('lo'), d['delta_loss'].get('hi'), 4)}"),
        ("perplexity clean → steered", f"{fmt(d.get('perplexity_clean'))} → {fmt(d.get('perplexity_steered'))}")]),
        Preformatted(f"prompt: {g.get('prompt', '')}\nclean:   {g.get('clean', '')}\nsteered: {g.get('steered', '')}",
                     caption="greedy continuations")])
    b.used.update({"hook", "direction", "coefficient", "loss_clean", "loss_steered", "delta_loss",
                   "perplexity_clean", "perplexity_steered", "generation", "per_window"})
    return b


STEERING = SectionSpec(
    kind="steering", title="Steering", order=66,
    guide=lambda s: ("coefficient × a direction (an SAE latent's decoder row, or the difference of mean "
                     "activations between two prompt sets) is added to the hook's activation at every position. "
                     "The continuations show the effect; the held-out next-token loss shows its cost: Δ = steered "
                     "− clean per window, paired bootstrap 95% CI (0 = no cost)."),
    findings=_steer_findings, build=_steer_build)


# ----------------------------------------------------------------------------- formation
def _formation_build(stage: Stage) -> Built:
    d = stage.data
    cks = require(d, "checkpoints", "list")
    mc = list(d.get("matched_cosine") or [])
    rows = [(c["label"], fmt(c.get("step")), fmt(c.get("train_fvu")), str(n),
             fmt(mc[i]["median"]) if i < len(mc) else "—")
            for i, (c, n) in enumerate(zip(cks, d.get("born_per_checkpoint") or [], strict=False))]
    table = Table(columns=("checkpoint", "step", "train FVU", "latents born", "median match cos to next"),
                  rows=tuple(rows), caption=f"{d.get('num_latents')} final latents at {d.get('hook')}")
    ex = []
    for name in ("earliest", "latest"):
        for f in d.get(name) or []:
            ctx = f["contexts"][0] if f.get("contexts") else None
            ex.append((name, str(f["id"]), str(f.get("birth")), "".join(ctx["tokens"])[-60:] if ctx else "—"))
    b = Built(blocks=[*_figs(stage), table, Table(columns=("", "latent", "born at", "top context"),
                                                  rows=tuple(ex), caption="earliest- and latest-born features")])
    b.used.update({"checkpoints", "matched_cosine", "born_per_checkpoint", "births", "earliest", "latest",
                   "loss_curve"})
    return b


FORMATION = SectionSpec(
    kind="sae_formation", title="SAE feature formation", order=67,
    guide=lambda s: ("One SAE per checkpoint, each warm-started from the previous one; latents are matched "
                     "between neighbouring checkpoints by decoder cosine (optimal one-to-one assignment). A "
                     "feature is born at the first checkpoint from which its matches stay at cosine ≥ the "
                     "threshold to the end. Baseline: random directions in d_model dimensions have cosine ≈ 0."),
    findings=lambda s: [], build=_formation_build)
