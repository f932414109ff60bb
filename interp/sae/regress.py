"""Regress metric kind `steering`: held-out next-token loss of the model steered by an SAE latent
(interp.sae.steer.steer) — per-window mean NLL samples, so `interp regress` bounds the change."""

from __future__ import annotations

from typing import Any

from interp.kit.regress import EvalContext, EvalKind, MetricSpec, MetricValue, Param, mean_of


def _steering(model: Any, p: dict[str, Any], ctx: EvalContext) -> dict[str, MetricValue]:
    from interp.sae.data import Text
    from interp.sae.steer import SteerConfig, steer

    text = None
    if p["file"] is not None:
        from interp.data import read_text_file

        text = Text((read_text_file(p["file"]),), f"file:{p['file']}")
    cfg = SteerConfig(coefficient=p["coefficient"], sae=str(p["sae"]), latent=p["latent"],
                      max_tokens=p["max_tokens"], n_boot=1, seed=ctx.seed)
    r = steer(model, cfg, text=text, device=ctx.device)
    st, cl = r.per_window["steered"], r.per_window["clean"]
    return {"steered_nll": mean_of(st), "delta_nll": mean_of([s - c for s, c in zip(st, cl, strict=True)])}


KIND = EvalKind(
    name="steering",
    doc="Held-out loss of the model steered by coefficient × an SAE latent's decoder row (interp.sae.steer).",
    params={
        "sae": Param("path", doc="SAE directory (interp sae train)"),
        "latent": Param("int", doc="latent id", check=lambda v: None if v >= 0 else "must be >= 0"),
        "coefficient": Param("float", 4.0, "multiple of the decoder row added at the SAE's hook"),
        "file": Param("path", None, "text to score (default: the run's val split)"),
        "max_tokens": Param("int", 4096, "tokens scored", check=lambda v: None if v > 0 else "must be > 0"),
    },
    metrics={
        "steered_nll": MetricSpec("steered_nll", "lower", "mean", "mean next-token NLL of the steered model"),
        "delta_nll": MetricSpec("delta_nll", "lower", "mean", "steered − clean NLL per window (the cost)"),
    },
    adapter=_steering,
    seeded=False,
)
