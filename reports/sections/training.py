"""Section for a training run (run.json + metrics.jsonl + results.json of kind "training")."""

from __future__ import annotations

import math
from typing import Any

from reports import charts
from reports.collect import Stage
from reports.generic import generic_blocks, kv_table, records_table
from reports.sections.base import Built, Chart, Finding, SectionSpec, fmt, is_number, num


def vocab_size(stage: Stage) -> int | None:
    run = stage.run or {}
    v = (run.get("tokenizer") or {}).get("vocab_size") or ((run.get("config") or {}).get("model") or {}).get("d_vocab")
    return int(v) if is_number(v) and v > 1 else None


def guide(stage: Stage) -> str:
    v = vocab_size(stage)
    chance = (f" A model that guesses uniformly over its {v} tokens scores ln({v}) = {math.log(v):.3f} nats "
              f"(perplexity {v}) — that is chance (the dashed line).") if v else ""
    return ("Training and validation loss are the mean next-token cross-entropy in nats per token; perplexity is "
            "exp(loss), the effective number of tokens the model is choosing between." + chance +
            " Validation loss is measured on held-out documents; when it rises while training loss keeps "
            "falling, the model is overfitting (early stopping keeps the best checkpoint).")


def _val_points(stage: Stage) -> list[dict[str, Any]]:
    return [r for r in stage.metrics if is_number(r.get("val_loss"))]


def findings(stage: Stage) -> list[Finding]:
    res = stage.data or {}
    ev = _val_points(stage)
    best = num(res, "best_val_loss")
    if best is None and ev:
        best = min(float(r["val_loss"]) for r in ev)
    if best is None:
        return [Finding("Training", "no validation loss recorded", "nothing to judge yet")]
    v = vocab_size(stage)
    base = f"uniform guess ln({v}) = {math.log(v):.2f}" if v else ""
    where = f" at epoch {res['best_epoch']}" if res.get("best_epoch") is not None else ""
    value = f"best val loss {best:.3f} nats/token (perplexity {math.exp(min(best, 50)):.1f}){where}"
    if v and best >= 0.95 * math.log(v):
        verdict = "close to chance: the model has barely learned"
    else:
        verdict = "learned well beyond chance"
    final = num(res, "final_val_loss")
    if final is not None and final > best + 0.02:
        verdict += f"; val loss rose to {final:.3f} after the best epoch (overfitting — best checkpoint kept)"
    return [Finding("Reference model", value, verdict, baseline=base)]


def _loss_chart(stage: Stage) -> Chart | None:
    m = list(stage.metrics)
    if not m:
        return None
    steps = [r.get("step") for r in m]
    series = {"train loss": (steps, [r.get("train_loss") for r in m])}
    ev = _val_points(stage)
    if ev:
        series["val loss"] = ([r.get("step") for r in ev], [r.get("val_loss") for r in ev])
    v = vocab_size(stage)
    h = {f"chance: ln({v}) = {math.log(v):.2f}": math.log(v)} if v else None
    specs = [("training and validation loss", series, "cross-entropy (nats/token)", h)]
    return Chart(caption="loss over training (metrics.jsonl); dashed: uniform guess over the vocabulary",
                 draw=lambda fig: charts.draw_panels(fig, specs, "optimizer step"), height=2.9)


def _dynamics_chart(stage: Stage) -> Chart | None:
    """lr, gradient norm and throughput against step (they were only in the appendix table)."""
    m = [r for r in stage.metrics if is_number(r.get("step"))]
    specs = []
    for key, title, unit in (("lr", "learning rate", "lr"), ("grad_norm", "gradient norm (before clipping)", "L2 norm"),
                             ("tokens_per_s", "throughput", "tokens/s")):
        pts = [r for r in m if is_number(r.get(key))]
        if pts:
            specs.append((title, {key: ([r["step"] for r in pts], [r[key] for r in pts])}, unit, None))
    if not specs:
        return None
    return Chart(caption="optimizer dynamics (metrics.jsonl): warmup + cosine lr, gradient norm, tokens/s",
                 draw=lambda fig: charts.draw_panels(fig, specs, "optimizer step"), height=2.6)


def build(stage: Stage) -> Built:
    b = Built()
    run, res = stage.run or {}, stage.data or {}
    chart = _loss_chart(stage)
    if chart is not None:
        b.blocks.append(chart)
    dyn = _dynamics_chart(stage)
    if dyn is not None:
        b.blocks.append(dyn)
    cfg = run.get("config") or {}
    model = cfg.get("model") or {}
    shape = " ".join(f"{k}={model[k]}" for k in ("n_layers", "n_heads", "d_model", "n_ctx", "d_vocab") if k in model)
    pairs = [("preset / shape", f"{cfg.get('preset', '')} {shape}".strip() or None)]
    pairs += [(k, res[k]) for k in ("best_val_loss", "best_epoch", "final_val_loss", "epochs_completed", "steps",
                                   "tokens_seen", "stopped_early") if k in res]
    b.blocks.append(kv_table([(k, v) for k, v in pairs if v is not None], caption="headline numbers"))
    b.used.update(k for k, _ in pairs)
    if isinstance(res.get("checkpoints"), list):
        b.appendix.append(kv_table([("checkpoints", ", ".join(str(c) for c in res["checkpoints"]))], caption="checkpoints"))
        b.used.add("checkpoints")
    if model:
        b.appendix.append(kv_table([("preset", cfg.get("preset")), *model.items()], caption="model shape"))
    hp = [(k, v) for k, v in cfg.items() if k not in ("model", "preset")]
    if hp:
        b.appendix.append(kv_table(hp, caption="training configuration"))
    data = run.get("data") or {}
    if isinstance(data, dict) and data:
        b.appendix.append(kv_table([(k, v) for k, v in data.items() if k != "splits"], caption="data"))
        splits = data.get("splits") or {}
        recs = [{"split": k, "mode": s.get("mode"), "documents": s.get("n_documents"), "chars": s.get("n_chars"),
                 "tokens": s.get("n_tokens"), "sha256": fmt(s.get("sha256"), 14)}
                for k, s in splits.items() if isinstance(s, dict)]
        if recs:
            b.appendix.append(records_table(recs, caption="splits (by whole document; sha256 of the split's text)"))
    prov = [("seed", run.get("seed")), ("git_commit", run.get("git_commit")), ("created", run.get("created"))]
    prov += [(f"tokenizer.{k}", v) for k, v in (run.get("tokenizer") or {}).items()]
    prov += [(f"version.{k}", v) for k, v in (run.get("versions") or {}).items()]
    prov = [(k, v) for k, v in prov if v is not None]
    if prov:
        b.appendix.append(kv_table(prov, caption="provenance"))
    other = {k: v for k, v in run.items() if k not in ("config", "data", "seed", "git_commit", "created",
                                                       "tokenizer", "versions", "schema_version", "kind")}
    if other:
        b.appendix.extend(generic_blocks(other, prefix="run"))
    ev = _val_points(stage)
    if ev:
        cols = [c for c in ("step", "epoch", "train_loss", "val_loss", "val_ppl", "lr", "grad_norm", "tokens_per_s")
                if any(c in r for r in ev)]
        b.appendix.append(records_table(ev, caption="validation evaluations (metrics.jsonl)", columns=cols))
    return b


SECTION = SectionSpec(kind="training", title="Training run", order=10, guide=guide, findings=findings, build=build)
